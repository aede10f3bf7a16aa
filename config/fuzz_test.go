package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/config"
)

// FuzzParse feeds arbitrary main files (and the same bytes as every included
// file) to Parse. It must never panic, and whatever it accepts must validate
// again and survive Redacted.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "full", "*.yaml"))          // fixed pattern: cannot fail
	more, _ := filepath.Glob(filepath.Join("testdata", "full", "conf.d", "*.yaml")) // fixed pattern: cannot fail
	for _, p := range append(seeds, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "{}", "include: x.yaml", "repositories: [{id: a, type: rpm, feed: 'https://x/'}]",
		"a: &a [*a]", "<<: *x", "repositories:\n  - &r {id: a}\n  - <<: *r\n", "storage: {base_path: '${X:-/a}$$'}",
		"download: {rate_limit: 9223372036854775807GiB}", "views: [{name: v, snapshots: [a/b/c]}]",
	} {
		f.Add([]byte(s))
	}
	getenv := func(k string) (string, bool) {
		if strings.HasPrefix(k, "X") {
			return "x", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o := &config.LoadOptions{
			Getenv:   getenv,
			ReadFile: func(string) ([]byte, error) { return data, nil },
			Glob:     func(p string) ([]string, error) { return []string{p + ".yaml"}, nil },
		}
		c, err := config.Parse(data, "/fuzz/config.yaml", o)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate refuses: %v", err)
		}
		_ = c.Redacted() // must not panic; the result is checked in TestRedacted
	})
}
