package config_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/config"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
)

// TestMarshalRoundTrip checks that a loaded Config marshals to YAML (as
// "config show" does) that loads back to the same Config.
func TestMarshalRoundTrip(t *testing.T) {
	c, err := config.Load(filepath.Join("testdata", "full", "config.yaml"), &config.LoadOptions{Getenv: env(fullEnv)})
	if err != nil {
		t.Fatal(err)
	}
	c.Include = nil                       // its repositories are already in the list
	c.Repositories[0].GPG.Passphrase = "" // "${literal}" would be expanded on the way back
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatalf("yaml.Marshal: %v", err)
	}
	if !strings.Contains(string(out), "timeout: 10m0s") {
		t.Errorf("durations do not marshal as text:\n%s", out)
	}
	back, err := config.Parse(out, "/elsewhere/config.yaml", &config.LoadOptions{Getenv: env(nil)})
	if err != nil {
		t.Fatalf("marshalled config does not load: %v\n%s", err, out)
	}
	if diff := cmp.Diff(c, back, cmpopts.IgnoreFields(config.Config{}, "Files")); diff != "" {
		t.Errorf("round trip changed the config (-want +got):\n%s", diff)
	}
	if _, err := json.Marshal(c.Redacted()); err != nil {
		t.Errorf("json.Marshal: %v", err)
	}
}
