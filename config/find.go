package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SystemConfig is the system-wide configuration file Find looks for.
const SystemConfig = "/etc/chantal-lite/config.yaml"

// Find returns the configuration file to load. It takes the first of:
//
//  1. explicit (the --config flag), when not empty;
//  2. $CHANTAL_CONFIG, when set and not empty;
//  3. SystemConfig (/etc/chantal-lite/config.yaml), when it exists;
//  4. $XDG_CONFIG_HOME/chantal-lite/config.yaml, or
//     $HOME/.config/chantal-lite/config.yaml when XDG_CONFIG_HOME is unset,
//     when it exists.
//
// A file named by explicit or $CHANTAL_CONFIG must exist: a typo is an
// error, not a reason to fall through. When nothing is found the error wraps
// ErrNoConfig and lists the places tried. getenv nil means os.LookupEnv.
func Find(explicit string, getenv func(string) (string, bool)) (string, error) {
	return find(explicit, getenv, SystemConfig, os.Stat)
}

func find(explicit string, getenv func(string) (string, bool), system string, stat func(string) (fs.FileInfo, error)) (string, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	named := func(p, from string) (string, error) {
		fi, err := stat(p)
		if err != nil {
			return "", fmt.Errorf("config file %s (from %s): %w", p, from, err)
		}
		if fi.IsDir() {
			return "", fmt.Errorf("config file %s (from %s) is a directory", p, from)
		}
		return p, nil
	}
	if explicit != "" {
		return named(explicit, "--config")
	}
	if p, ok := getenv("CHANTAL_CONFIG"); ok && p != "" {
		return named(p, "$CHANTAL_CONFIG")
	}
	tried := []string{"$CHANTAL_CONFIG (unset)"}
	candidates := []string{system}
	if x, ok := getenv("XDG_CONFIG_HOME"); ok && x != "" {
		candidates = append(candidates, filepath.Join(x, "chantal-lite", "config.yaml"))
	} else if h, ok := getenv("HOME"); ok && h != "" {
		candidates = append(candidates, filepath.Join(h, ".config", "chantal-lite", "config.yaml"))
	} else {
		tried = append(tried, "$XDG_CONFIG_HOME and $HOME (both unset)")
	}
	for _, p := range candidates {
		fi, err := stat(p)
		switch {
		case err == nil && !fi.IsDir():
			return p, nil
		case err == nil, errors.Is(err, fs.ErrNotExist):
			tried = append(tried, p)
		default:
			return "", fmt.Errorf("looking for config file: %w", err)
		}
	}
	return "", fmt.Errorf("%w (tried %s)", ErrNoConfig, strings.Join(tried, ", "))
}
