package chantal_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/config"
)

// exampleEnv is the only environment the example configurations see, so an
// example that needs an unset variable fails here.
var exampleEnv = map[string]string{
	"RHEL_CERT_DIR": "/etc/pki/entitlement",
	"PWD":           "/home/user/chantal-lite",
}

// TestExamples loads and validates every example configuration: each main
// file in examples/ (which pulls in conf.d/), and checks that every conf.d
// file is included, and that the distributions the examples promise are there.
func TestExamples(t *testing.T) {
	getenv := func(k string) (string, bool) { v, ok := exampleEnv[k]; return v, ok }
	mains, err := filepath.Glob(filepath.Join("examples", "*.yaml"))
	if err != nil || len(mains) < 2 {
		t.Fatalf("examples: %v, %v", mains, err)
	}
	byID := map[string]*config.Repository{}
	for _, p := range mains {
		cfg, err := config.Load(p, &config.LoadOptions{Getenv: getenv})
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if len(cfg.Repositories) == 0 {
			t.Errorf("%s: no repositories", p)
		}
		for i := range cfg.Repositories {
			byID[cfg.Repositories[i].ID] = &cfg.Repositories[i]
		}
	}
	// Every conf.d file is picked up by examples/config.yaml.
	parts, _ := filepath.Glob(filepath.Join("examples", "conf.d", "*"))
	for _, p := range parts {
		if !strings.HasSuffix(p, ".yaml") {
			t.Errorf("%s: conf.d files must end in .yaml or they are not included", p)
		}
	}
	want := map[string]string{
		"rhel9-baseos": "rpm", "rhel8-baseos": "rpm", "centos-stream9-baseos": "rpm", "rocky9-baseos": "rpm",
		"alma9-baseos": "rpm", "fedora41": "rpm", "epel9": "rpm", "debian-bookworm": "apt", "ubuntu-noble": "apt",
		"docker-ce-el9": "rpm", "docker-ce-bookworm": "apt", "gitlab-ce-el9": "rpm", "pgdg16-el9": "rpm",
		"pgdg-bookworm": "apt", "grafana-rpm": "rpm", "hashicorp-el9": "rpm", "zabbix70-el9": "rpm",
		"ingress-nginx": "helm", "jetstack": "helm", "bitnami": "helm",
	}
	for id, typ := range want {
		r, ok := byID[id]
		switch {
		case !ok:
			t.Errorf("examples lack repository %s", id)
		case r.Type != typ:
			t.Errorf("%s: type %s, want %s", id, r.Type, typ)
		}
	}
	if r := byID["rhel9-baseos"]; r != nil && (r.SSL.CertDir != "/etc/pki/entitlement" || r.SSL.CABundle == "") {
		t.Errorf("rhel9-baseos ssl = %+v", r.SSL)
	}
	if r := byID["rhel8-baseos"]; r != nil && (r.SSL.ClientCert == "" || r.SSL.ClientKey == "") {
		t.Errorf("rhel8-baseos ssl = %+v", r.SSL)
	}
}

// TestScheduledRunExamples checks that the systemd units and the cron line
// run the commands the CLI has, with the documented snapshot name syntax.
func TestScheduledRunExamples(t *testing.T) {
	for _, name := range []string{"chantal-lite-sync.service", "chantal-lite-sync.timer", "chantal-lite-sync.sh", "chantal-lite.cron"} {
		b, err := os.ReadFile(filepath.Join("examples", "systemd", name))
		if err != nil {
			t.Error(err)
			continue
		}
		s := string(b)
		switch {
		case strings.HasSuffix(name, ".timer") && !strings.Contains(s, "OnCalendar="):
			t.Errorf("%s has no OnCalendar", name)
		case strings.HasSuffix(name, ".sh"):
			for _, cmd := range []string{"sync --all", "snapshot create", "'{repo}-{date}'", "publish snapshot", "pool gc", "db export"} {
				if !strings.Contains(s, cmd) {
					t.Errorf("%s does not run %q", name, cmd)
				}
			}
		case strings.HasSuffix(name, ".service") && !strings.Contains(s, "ExecStart="):
			t.Errorf("%s has no ExecStart", name)
		}
	}
}
