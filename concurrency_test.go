package chantal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildCLI builds the chantal-lite binary into a temporary directory.
func buildCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the CLI and runs real processes; skipped with -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go tool is not in PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "chantal-lite")
	cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/chantal-lite")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/chantal-lite: %v\n%s", err, out)
	}
	return bin
}

// stallServer serves the rpm fixture under /a/, /b/ (and 404s under /gone/).
// Payload downloads under /a/ block until release is called, so a sync of
// repository a is "long" for as long as the test wants.
type stallServer struct {
	srv         *httptest.Server
	stalled     chan struct{} // closed when the first /a/ payload request arrived
	release     chan struct{}
	stallOnce   sync.Once
	releaseOnce sync.Once
}

func newStallServer(t *testing.T) *stallServer {
	s := &stallServer{stalled: make(chan struct{}), release: make(chan struct{})}
	files := http.FileServer(http.Dir(filepath.Join("testdata", "rpm", "repo")))
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if prefix != "a" && prefix != "b" {
			http.NotFound(w, r)
			return
		}
		if prefix == "a" && strings.HasSuffix(rest, ".rpm") {
			s.stallOnce.Do(func() { close(s.stalled) })
			select {
			case <-s.release:
			case <-r.Context().Done():
				return
			}
		}
		r.URL.Path = "/" + rest
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	t.Cleanup(s.unstall) // never leave a handler blocked
	return s
}

func (s *stallServer) unstall() { s.releaseOnce.Do(func() { close(s.release) }) }

type proc struct {
	code           int
	stdout, stderr string
}

// cliProc runs the binary with a bounded timeout.
type cliProc struct {
	t   *testing.T
	bin string
	cfg string
}

func (c *cliProc) start(ctx context.Context, args ...string) (<-chan proc, error) {
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--config", c.cfg}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan proc, 1)
	go func() {
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		done <- proc{code, out.String(), errb.String()}
	}()
	return done, nil
}

// run runs one command to completion within a minute.
func (c *cliProc) run(args ...string) proc {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done, err := c.start(ctx, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return <-done
}

func wait(t *testing.T, what string, done <-chan proc) proc {
	t.Helper()
	select {
	case p := <-done:
		return p
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s did not finish", what)
		return proc{}
	}
}

// TestProcessConcurrency runs real chantal-lite processes against one data
// directory while a sync of repository a is stalled in its payload downloads:
// a sync of another repository succeeds, a second sync of a fails at once
// with exit code 4 (and with --wait completes after the first), read commands
// work, and pool gc and db vacuum refuse with exit code 4 instead of racing
// the sync.
func TestProcessConcurrency(t *testing.T) {
	bin := buildCLI(t)
	up := newStallServer(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`storage:
  base_path: %s
  published_path: %s
download: {parallel: 2, retries: 0, timeout: 2m}
repositories:
  - {id: a, type: rpm, mode: mirror, feed: "%s/a/"}
  - {id: b, type: rpm, mode: mirror, feed: "%s/b/"}
  - {id: gone, type: rpm, mode: mirror, feed: "%s/gone/"}
`, filepath.Join(dir, "data"), filepath.Join(dir, "pub"), up.srv.URL, up.srv.URL, up.srv.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &cliProc{t: t, bin: bin, cfg: cfgPath}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	first, err := c.start(ctx, "sync", "a")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-up.stalled:
	case p := <-first:
		t.Fatalf("sync a ended before downloading payloads: %+v", p)
	case <-time.After(time.Minute):
		t.Fatal("sync a never requested a payload")
	}

	// A sync of another repository runs at the same time.
	if p := c.run("sync", "b"); p.code != 0 {
		t.Errorf("sync b while a syncs: %+v", p)
	}
	// A second sync of the same repository fails at once, clearly.
	p := c.run("sync", "a")
	if p.code != 4 || !strings.Contains(p.stderr, "another chantal-lite process") {
		t.Errorf("second sync a: exit %d, want 4; stderr %q", p.code, p.stderr)
	}
	// Read commands work while the sync runs.
	p = c.run("--json", "repo", "list")
	if p.code != 0 || !strings.Contains(p.stdout, `"b"`) {
		t.Errorf("repo list during sync: %+v", p)
	}
	p = c.run("--json", "repo", "history", "a")
	if p.code != 0 || !strings.Contains(p.stdout, `"running"`) {
		t.Errorf("repo history during sync does not show the running sync: %+v", p)
	}
	if help := c.run("--help"); strings.Contains(help.stdout, "snapshot") {
		if p := c.run("snapshot", "list"); p.code != 0 {
			t.Errorf("snapshot list during sync: %+v", p)
		}
	}
	if p := c.run("db", "export", "-"); p.code != 0 || !strings.Contains(p.stdout, `{"type":"repo","ID":"b"`) {
		t.Errorf("db export during sync: exit %d, stderr %q", p.code, p.stderr)
	}
	if p := c.run("db", "stats"); p.code != 0 {
		t.Errorf("db stats during sync: %+v", p)
	}
	// Maintenance that would race the sync refuses.
	for _, args := range [][]string{{"pool", "gc"}, {"pool", "gc", "--dry-run"}, {"db", "vacuum"}} {
		if p := c.run(args...); p.code != 4 || !strings.Contains(p.stderr, "in use") {
			t.Errorf("%v during sync: exit %d, want 4; stderr %q", args, p.code, p.stderr)
		}
	}

	// --wait queues behind the running sync and completes after it.
	waiter, err := c.start(ctx, "sync", "--wait", "a")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-waiter:
		t.Fatalf("sync --wait a ended while a's sync was still stalled: %+v", p)
	case <-time.After(300 * time.Millisecond):
	}
	up.unstall()
	if p := wait(t, "first sync a", first); p.code != 0 {
		t.Errorf("first sync a: %+v", p)
	}
	if p := wait(t, "sync --wait a", waiter); p.code != 0 {
		t.Errorf("sync --wait a: %+v", p)
	}

	// A failed sync is recorded too.
	if p := c.run("sync", "gone"); p.code != 1 {
		t.Errorf("sync of a missing upstream: %+v", p)
	}
	var hist struct {
		Runs []struct {
			Status   string
			Started  string
			Finished string
			Added    int
			Bytes    int64
			Errors   []string
		}
	}
	p = c.run("--json", "repo", "history", "gone")
	if p.code != 0 || json.Unmarshal([]byte(p.stdout), &hist) != nil || len(hist.Runs) != 1 || hist.Runs[0].Status != "failed" || len(hist.Runs[0].Errors) == 0 || hist.Runs[0].Finished == "" {
		t.Errorf("history of a failed sync: %+v", p)
	}
	p = c.run("--json", "repo", "history", "a")
	if p.code != 0 || json.Unmarshal([]byte(p.stdout), &hist) != nil || len(hist.Runs) != 2 {
		t.Fatalf("history of a: %+v", p)
	}
	if last := hist.Runs[1]; last.Status != "success" || last.Added != 5 || last.Bytes == 0 || last.Started == "" || last.Finished == "" {
		t.Errorf("first run of a: %+v", last)
	}
	if p := c.run("repo", "history", "a"); p.code != 0 || !strings.Contains(p.stdout, "STATUS") || !strings.Contains(p.stdout, "success") {
		t.Errorf("history text: %+v", p)
	}

	// With nothing running, maintenance works.
	for _, args := range [][]string{{"pool", "gc"}, {"db", "vacuum"}, {"db", "verify"}} {
		if p := c.run(args...); p.code != 0 {
			t.Errorf("%v: %+v", args, p)
		}
	}
	// The completion scripts ask the binary itself for candidates.
	if p := c.run("db", "--generate-bash-completion"); p.code != 0 || !strings.Contains(p.stdout, "vacuum") {
		t.Errorf("bash completion candidates: %+v", p)
	}
}

// TestScheduledScript runs examples/systemd/chantal-lite-sync.sh with the
// built binary against the rpm fixture, twice (a second run the same day
// keeps the snapshot), and checks the published snapshot and the backup.
func TestScheduledScript(t *testing.T) {
	bin := buildCLI(t)
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	fixture, err := filepath.Abs(filepath.Join("testdata", "rpm", "repo"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf("storage: {base_path: %s, published_path: %s}\nrepositories:\n  - {id: el, type: rpm, mode: mirror, feed: \"file://%s\"}\n",
		filepath.Join(dir, "data"), filepath.Join(dir, "pub"), fixture)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	backups := filepath.Join(dir, "backups")
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "sh", filepath.Join("examples", "systemd", "chantal-lite-sync.sh"))
		cmd.Env = append(os.Environ(), "CHANTAL_LITE="+bin, "CHANTAL_CONFIG="+cfgPath,
			"CHANTAL_SNAPSHOT_REPOS=el", "CHANTAL_BACKUP_DIR="+backups)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "pub", "snapshots", "el", "el-*", "repodata", "repomd.xml"))
	if len(snaps) != 1 {
		t.Errorf("published snapshots: %v", snaps)
	}
	if _, err := os.Stat(filepath.Join(dir, "pub", "el", "repodata", "repomd.xml")); err != nil {
		t.Errorf("latest state not published: %v", err)
	}
	exports, _ := filepath.Glob(filepath.Join(backups, "catalog-*.jsonl"))
	if len(exports) != 1 {
		t.Fatalf("catalog exports: %v", exports)
	}
	if b, err := os.ReadFile(exports[0]); err != nil || !bytes.HasPrefix(b, []byte(`{"format":"chantal-lite-catalog","version":1}`)) {
		t.Errorf("export %s: %v", exports[0], err)
	}
}
