package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestErrataCommands(t *testing.T) {
	fx, err := filepath.Abs(filepath.Join("..", "..", "testdata", "errata"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf(`storage: {base_path: %s, published_path: %s}
download: {parallel: 2, retries: 0}
repositories:
  - {id: el-old, type: rpm, feed: "file://%s/rpm/repo-old"}
  - {id: el, type: rpm, feed: "file://%s/rpm/repo"}
errata_sources:
  - {id: osv, type: osv, path: %s/osv, ecosystem: "AlmaLinux:9"}
`, filepath.Join(dir, "data"), filepath.Join(dir, "pub"), fx, fx, fx)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	must := func(args ...string) cliRun {
		t.Helper()
		r := runCLI(t, append([]string{"--config", cfg}, args...)...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r
	}
	must("sync", "el-old", "el")
	must("snapshot", "create", "el-old", "base")
	if out := must("errata", "sync", "--all").stdout; !strings.Contains(out, "osv: ") {
		t.Errorf("errata sync:\n%s", out)
	}
	var list []struct{ ID, Status string }
	if err := json.Unmarshal([]byte(must("--json", "errata", "list", "--repo", "el", "--type", "security", "--severity", "important").stdout), &list); err != nil || len(list) != 3 { // FIX-2026:0001, FIX-2026:0004 and the OSV ALSA (no applies_to: every repository)
		t.Fatalf("errata list: %v %+v", err, list)
	}
	if out := must("errata", "list", "--snapshot", "el-old/base").stdout; !strings.Contains(out, "FIX-2025:0100") {
		t.Errorf("errata list --snapshot:\n%s", out)
	}
	if out := must("errata", "list", "--since", "2026-06-01").stdout; !strings.Contains(out, "FIX-2026:0004") || strings.Contains(out, "FIX-2026:0001") {
		t.Errorf("errata list --since:\n%s", out)
	}
	if out := must("errata", "show", "FIX-2026:0001").stdout; !strings.Contains(out, "CVE-2026-0001") || !strings.Contains(out, "hello 1.1-1 x86_64") {
		t.Errorf("errata show:\n%s", out)
	}
	var d struct{ Fixed []struct{ ID string } }
	if err := json.Unmarshal([]byte(must("--json", "errata", "diff", "el-old/base", "el").stdout), &d); err != nil || len(d.Fixed) != 2 {
		t.Errorf("errata diff: %v %+v", err, d)
	}
	out := must("errata", "cve", "CVE-2026-0001").stdout
	if !strings.Contains(out, "fixed     repo el ") || !strings.Contains(out, "affected  snapshot el-old/base") {
		t.Errorf("errata cve:\n%s", out)
	}
	if out := must("snapshot", "diff", "el-old/base", "el").stdout; !strings.Contains(out, "! hello.x86_64 1.0-1 → 1.1-1 applies FIX-2026:0001") {
		t.Errorf("snapshot diff:\n%s", out)
	}
	for _, args := range [][]string{
		{"errata", "sync"},
		{"errata", "sync", "nope"},
		{"errata", "list", "--repo", "el", "--view", "v"},
		{"errata", "list", "--severity", "urgentish"},
		{"errata", "list", "--since", "yesterday"},
		{"errata", "cve", "CVE-1"},
		{"errata", "diff", "el"},
	} {
		if r := runCLI(t, append([]string{"--config", cfg}, args...)...); r.code != exitUsage {
			t.Errorf("%s: exit %d, want %d\n%s", strings.Join(args, " "), r.code, exitUsage, r.stderr)
		}
	}
	if r := runCLI(t, "--config", cfg, "errata", "show", "NOPE-1"); r.code != exitError {
		t.Errorf("errata show of an unknown id: exit %d", r.code)
	}
}
