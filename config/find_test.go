package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	dir := t.TempDir()
	touch := func(p string) string {
		t.Helper()
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	explicit := touch("explicit.yaml")
	fromEnv := touch("env.yaml")
	system := touch("etc/chantal-lite/config.yaml")
	xdg := touch("xdg/chantal-lite/config.yaml")
	home := touch("home/.config/chantal-lite/config.yaml")
	missing := filepath.Join(dir, "missing.yaml")
	noSystem := filepath.Join(dir, "nowhere", "config.yaml")

	tests := []struct {
		name     string
		explicit string
		env      map[string]string
		system   string
		want     string
		wantErr  error // errors.Is target; nil means success
	}{
		{"explicit first", explicit, map[string]string{"CHANTAL_CONFIG": fromEnv}, system, explicit, nil},
		{"env second", "", map[string]string{"CHANTAL_CONFIG": fromEnv, "XDG_CONFIG_HOME": filepath.Join(dir, "xdg")}, system, fromEnv, nil},
		{"system third", "", map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "xdg")}, system, system, nil},
		{"xdg fourth", "", map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "xdg"), "HOME": filepath.Join(dir, "home")}, noSystem, xdg, nil},
		{"home when xdg unset", "", map[string]string{"HOME": filepath.Join(dir, "home")}, noSystem, home, nil},
		{"empty env ignored", "", map[string]string{"CHANTAL_CONFIG": "", "XDG_CONFIG_HOME": "", "HOME": filepath.Join(dir, "home")}, noSystem, home, nil},
		{"explicit missing is an error", missing, map[string]string{"CHANTAL_CONFIG": fromEnv}, system, "", fs.ErrNotExist},
		{"env missing is an error", "", map[string]string{"CHANTAL_CONFIG": missing}, system, "", fs.ErrNotExist},
		{"none", "", map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "nothing")}, noSystem, "", ErrNoConfig},
		{"none without home", "", nil, noSystem, "", ErrNoConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := find(tt.explicit, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }, tt.system, os.Stat)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("find = %q, %v; want error %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("find = %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	_, err := find("", func(k string) (string, bool) {
		if k == "XDG_CONFIG_HOME" {
			return filepath.Join(dir, "nothing"), true
		}
		return "", false
	}, noSystem, os.Stat)
	for _, w := range []string{noSystem, filepath.Join(dir, "nothing", "chantal-lite", "config.yaml"), "$CHANTAL_CONFIG"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("ErrNoConfig message %v does not list %s", err, w)
		}
	}
	if _, err := find(filepath.Join(dir, "etc"), nil, noSystem, os.Stat); err == nil {
		t.Error("find accepted a directory as explicit config")
	}
}

func TestFindUsesProcessEnvironment(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHANTAL_CONFIG", p)
	if got, err := Find("", nil); err != nil || got != p {
		t.Errorf("Find = %q, %v; want %q", got, err, p)
	}
}
