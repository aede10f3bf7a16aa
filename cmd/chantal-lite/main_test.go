package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/internal/lock"
)

// cli runs the app in-process with buffers.
type cliRun struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, args ...string) cliRun {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"chantal-lite"}, args...), &out, &errb)
	return cliRun{code, out.String(), errb.String()}
}

func fixtureRepo(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "testdata", "rpm", "repo"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// copyTree copies a directory tree (regular files only).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeConfig(t *testing.T, feed, mode string) (cfgPath, base string) {
	t.Helper()
	dir := t.TempDir()
	base = filepath.Join(dir, "data")
	cfg := fmt.Sprintf(`storage:
  base_path: %s
  published_path: %s
download: {parallel: 2, retries: 0}
repositories:
  - id: el
    type: rpm
    mode: %s
    feed: file://%s
    auth: {type: basic, username: u, password: hunter2}
`, base, filepath.Join(dir, "pub"), mode, feed)
	cfgPath = filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, base
}

func TestVersionAndUsage(t *testing.T) {
	if r := runCLI(t, "version"); r.code != 0 || !strings.Contains(r.stdout, "chantal-lite") {
		t.Errorf("version: %+v", r)
	}
	r := runCLI(t, "--json", "version")
	var v map[string]string
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil || v["version"] == "" {
		t.Errorf("--json version: %+v", r)
	}
	for _, args := range [][]string{{"bogus"}, {"sync", "--frob"}, {"sync"}, {"repo", "show"}, {"--log-level", "loud", "version"}, {"-q", "-v", "version"}} {
		if r := runCLI(t, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, r.code, exitUsage, r.stderr)
		}
	}
}

func TestConfigCommands(t *testing.T) {
	cfg, _ := writeConfig(t, fixtureRepo(t), "mirror")
	if r := runCLI(t, "--config", cfg, "config", "validate"); r.code != 0 || !strings.Contains(r.stdout, "valid") {
		t.Fatalf("validate: %+v", r)
	}
	r := runCLI(t, "--config", cfg, "config", "show")
	if r.code != 0 || strings.Contains(r.stdout, "hunter2") || !strings.Contains(r.stdout, "REDACTED") {
		t.Fatalf("show leaks or fails: %+v", r)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("storage:\n  base_path: /x\nrepositories:\n  - id: a\n    type: rpm\n    feed: file:///x\n    filters:\n      patterns: {inclde: [x]}\n"), 0o644)
	r = runCLI(t, "--config", bad, "config", "validate")
	if r.code != exitError || !strings.Contains(r.stderr, "bad.yaml:8") {
		t.Fatalf("bad config: %+v", r)
	}
	if r := runCLI(t, "--config", filepath.Join(t.TempDir(), "missing.yaml"), "repo", "list"); r.code != exitError {
		t.Fatalf("missing config: %+v", r)
	}
}

func TestSyncRepoPoolCommands(t *testing.T) {
	cfg, _ := writeConfig(t, fixtureRepo(t), "mirror")
	r := runCLI(t, "--config", cfg, "sync", "el")
	if r.code != 0 || !strings.Contains(r.stdout, "el: synced") {
		t.Fatalf("sync: %+v", r)
	}
	r = runCLI(t, "--config", cfg, "--json", "sync", "--all")
	var res struct {
		Repos []struct{ Repo, Status string }
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || len(res.Repos) != 1 || res.Repos[0].Status != "unchanged" {
		t.Fatalf("second sync: %+v", r)
	}
	r = runCLI(t, "--config", cfg, "--json", "repo", "list")
	var list struct {
		Repos []struct {
			ID    string
			Items int
		}
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list.Repos) != 1 || list.Repos[0].Items != 5 {
		t.Fatalf("repo list: %+v", r)
	}
	for _, args := range [][]string{{"repo", "show", "el"}, {"repo", "history", "el"}, {"pool", "stats"}, {"pool", "verify"}, {"pool", "gc", "--dry-run"}, {"check-updates", "el"},
		{"package", "list", "--repo", "el"}, {"package", "search", "--repo", "el", "^lib"}, {"package", "show", "--repo", "el", "hello"}} {
		if r := runCLI(t, append([]string{"--config", cfg}, args...)...); r.code != 0 {
			t.Errorf("%v: %+v", args, r)
		}
	}
	r = runCLI(t, "--config", cfg, "--json", "package", "show", "--repo", "el", "hello")
	var shown struct {
		Packages []struct{ Name, Version string }
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &shown) != nil || len(shown.Packages) != 3 { // 1.0 (src and x86_64) and 1.1
		t.Errorf("package show hello: %+v", r)
	}
	if r := runCLI(t, "--config", cfg, "package", "upload", "--repo", "el", "x.rpm"); r.code != exitError || !strings.Contains(r.stderr, "hosted") {
		t.Errorf("upload into a mirror: %+v", r)
	}
	if r := runCLI(t, "--config", cfg, "repo", "show", "nope"); r.code != exitError || !strings.Contains(r.stderr, "unknown repository") {
		t.Errorf("unknown repo: %+v", r)
	}
}

func TestExitCodes(t *testing.T) {
	// Partial: one package is missing upstream.
	up := t.TempDir()
	copyTree(t, fixtureRepo(t), up)
	if err := os.Remove(filepath.Join(up, "Packages", "hello-1.1-1.x86_64.rpm")); err != nil {
		t.Fatal(err)
	}
	cfg, base := writeConfig(t, up, "mirror")
	r := runCLI(t, "--config", cfg, "sync", "el")
	if r.code != exitPartial || !strings.Contains(r.stdout, "hello-1.1-1") {
		t.Fatalf("partial sync: %+v", r)
	}
	// Locked: another process holds the repository's lock.
	l, err := lock.Acquire(context.Background(), lock.Request{Path: filepath.Join(base, "locks", "repo-el.lock")})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if r := runCLI(t, "--config", cfg, "sync", "el"); r.code != exitLocked {
		t.Fatalf("locked sync: %+v", r)
	}
	// Interrupted.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"chantal-lite", "--config", cfg, "sync", "el", "--wait"}, &out, &errb); code != exitInterrupted {
		t.Fatalf("interrupted: exit %d, stderr %q", code, errb.String())
	}
}
