package chantal_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/config"
	testformat "github.com/chantal-lite/chantal/formats/formattest/lines"
	"github.com/chantal-lite/chantal/pool"
)

// The crash test re-executes the test binary: with crashChildEnv set,
// TestCrashSafety syncs the repository of the config file named by
// crashConfigEnv and, if crashHookEnv names a point, hangs there until the
// parent kills it.
const (
	crashChildEnv  = "CHANTAL_CRASH_CHILD"
	crashConfigEnv = "CHANTAL_CRASH_CONFIG"
	crashHookEnv   = "CHANTAL_CRASH_HOOK"
	// crashWait bounds every wait of the parent.
	crashWait = 90 * time.Second
)

// Upstream states: A is synced in-process before each crash, B is what the
// killed child syncs. B updates alpha, keeps beta and adds gamma, so the
// child downloads two payloads.
var (
	crashStateA = []string{"pkgs/alpha-1.0.noarch.pkg", "pkgs/beta-1.0.noarch.pkg"}
	crashStateB = []string{"pkgs/alpha-1.1.noarch.pkg", "pkgs/beta-1.0.noarch.pkg", "pkgs/gamma-0.1.noarch.pkg"}
	crashNew    = []string{"pkgs/alpha-1.1.noarch.pkg", "pkgs/gamma-0.1.noarch.pkg"}
	crashSizes  = map[string]int{
		"pkgs/alpha-1.0.noarch.pkg": 3 << 20,
		"pkgs/beta-1.0.noarch.pkg":  2 << 20,
		"pkgs/alpha-1.1.noarch.pkg": 6 << 20,
		"pkgs/gamma-0.1.noarch.pkg": 4 << 20,
	}
)

// crashPayloads returns pseudo-random payloads of crashSizes, the same on
// every call.
func crashPayloads() map[string][]byte {
	out := map[string][]byte{}
	for i, p := range []string{crashStateA[0], crashStateA[1], crashNew[0], crashNew[1]} {
		b := make([]byte, crashSizes[p])
		rand.NewChaCha8([32]byte{byte(i)}).Read(b)
		out[p] = b
	}
	return out
}

// crashUpstream serves the test format with hooks that stall a response or
// report that the child reached a point of its sync.
type crashUpstream struct {
	all     map[string][]byte
	reached chan string
	release chan struct{}
	srv     *httptest.Server

	mu    sync.Mutex
	files map[string][]byte
	// stallAt maps a path to the number of bytes sent before its next
	// response stalls until the client goes away (once).
	stallAt map[string]int
	// watch are payloads whose complete sending is reported as "sent" once
	// all of them went out.
	watch  map[string]bool
	sent   map[string]bool
	ranges map[string][]string
}

func newCrashUpstream(t *testing.T) *crashUpstream {
	u := &crashUpstream{all: crashPayloads(), reached: make(chan string, 64), release: make(chan struct{})}
	u.srv = httptest.NewServer(u)
	t.Cleanup(u.srv.Close)
	t.Cleanup(func() { close(u.release) }) // runs first: unblocks stalled handlers
	return u
}

// reset serves the payloads paths, with no hooks armed.
func (u *crashUpstream) reset(paths []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.files = map[string][]byte{}
	for _, p := range paths {
		u.files[p] = u.all[p]
	}
	u.stallAt, u.watch, u.sent, u.ranges = map[string]int{}, map[string]bool{}, map[string]bool{}, map[string][]string{}
	for {
		select {
		case <-u.reached:
		default:
			return
		}
	}
}

func (u *crashUpstream) signal(point string) {
	select {
	case u.reached <- point:
	default: // nobody is waiting for that many points
	}
}

func (u *crashUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	if p == "_crash/reached" {
		u.signal(r.URL.Query().Get("point"))
		return
	}
	u.mu.Lock()
	body, ok := u.files[p]
	if p == testformat.Index {
		body, ok = crashIndex(u.files), true
	}
	if rg := r.Header.Get("Range"); rg != "" {
		u.ranges[p] = append(u.ranges[p], rg)
	}
	off, stall := u.stallAt[p]
	delete(u.stallAt, p)
	watched := u.watch[p]
	u.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", `"`+pool.Sum(body).String()+`"`)
	if stall {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:off])
		w.(http.Flusher).Flush()
		u.signal("stalled " + p)
		select {
		case <-r.Context().Done(): // the child died
		case <-u.release:
		}
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	w.(http.Flusher).Flush()
	if watched && r.Context().Err() == nil {
		u.mu.Lock()
		u.sent[p] = true
		all := len(u.sent) == len(u.watch)
		u.mu.Unlock()
		if all {
			u.signal("sent")
		}
	}
}

func crashIndex(files map[string][]byte) []byte {
	return testformat.Build(files, func(p string) (string, string, string) {
		base := strings.TrimSuffix(filepath.Base(p), ".noarch.pkg")
		i := strings.LastIndex(base, "-")
		return base[:i], base[i+1:], "noarch"
	})
}

// crashConfig writes a config for repository r1 at feed with data under dir
// and returns its path.
func crashConfig(t *testing.T, dir, feed string) string {
	t.Helper()
	yaml := fmt.Sprintf(`
storage:
  base_path: %s
  published_path: %s
download: {parallel: 2, retries: 1, timeout: 30s}
repositories:
  - id: r1
    type: lines
    feed: %s
`, filepath.Join(dir, "data"), filepath.Join(dir, "pub"), feed)
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func openCrashMirror(t *testing.T, cfgPath string, opts ...chantal.Option) *chantal.Mirror {
	t.Helper()
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	opts = append([]chantal.Option{chantal.WithConfig(cfg), chantal.WithFormats(testformat.Format{})}, opts...)
	m, err := chantal.Open("", opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// crashChild is the killed process: a plain sync, hanging at the hook point.
func crashChild(t *testing.T) {
	hook := os.Getenv(crashHookEnv)
	cfg, err := config.Load(os.Getenv(crashConfigEnv), nil)
	if err != nil {
		t.Fatal(err)
	}
	feed := cfg.Repositories[0].Feed
	var added atomic.Int32
	rep := chantal.ReporterFunc(func(e chantal.Event) {
		hit := hook == "downloaded" && e.Kind == chantal.ItemAdded && int(added.Add(1)) == len(crashNew) ||
			hook == "done" && e.Kind == chantal.SyncDone
		if !hit {
			return
		}
		resp, err := http.Get(feed + "/_crash/reached?point=" + hook)
		if err != nil {
			t.Errorf("reporting %s: %v", hook, err)
			return
		}
		resp.Body.Close()
		// Hang (not synchronisation: the parent kills the process now; the
		// bound only keeps an orphan from living forever).
		time.Sleep(crashWait)
	})
	m, err := chantal.Open("", chantal.WithConfig(cfg), chantal.WithFormats(testformat.Format{}), chantal.WithReporter(rep))
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Sync(context.Background(), chantal.SyncRequest{Repos: []string{"r1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestCrashSafety kills a subprocess sync with SIGKILL at several points and
// checks that the catalog holds the previous state (or, past the commit, the
// new one) consistently, that no pool blob's bytes differ from its name, and
// that the next sync completes.
func TestCrashSafety(t *testing.T) {
	if os.Getenv(crashChildEnv) == "1" {
		crashChild(t)
		return
	}
	if testing.Short() {
		t.Skip("moves tens of MiB through subprocess syncs")
	}
	ctx := context.Background()
	u := newCrashUpstream(t)

	// The state ids of A and B, from a reference mirror.
	u.reset(crashStateA)
	ref := openCrashMirror(t, crashConfig(t, t.TempDir(), u.srv.URL), chantal.WithNoSync())
	idA := mustSync(t, ref, chantal.SyncRequest{Repos: []string{"r1"}}).State
	u.reset(crashStateB)
	idB := mustSync(t, ref, chantal.SyncRequest{Repos: []string{"r1"}}).State
	if idA == idB {
		t.Fatalf("states A and B have the same id %s", idA)
	}

	for _, tc := range []struct {
		name string
		arm  func(u *crashUpstream)
		hook string // child-side hook point
		wait string // the point at which the child is killed
		// partial: kill only once the stalled download has a partial file.
		partial bool
		// want: the states the catalog may hold after the kill.
		want []string
	}{{
		name: "index-stalled",
		arm:  func(u *crashUpstream) { u.stallAt[testformat.Index] = 0 },
		wait: "stalled " + testformat.Index,
		want: []string{"A"},
	}, {
		name:    "payload-half-sent",
		arm:     func(u *crashUpstream) { u.stallAt[crashNew[0]] = crashSizes[crashNew[0]] / 2 },
		wait:    "stalled " + crashNew[0],
		partial: true,
		want:    []string{"A"},
	}, {
		name: "all-payloads-sent",
		arm: func(u *crashUpstream) {
			for _, p := range crashNew {
				u.watch[p] = true
			}
		},
		wait: "sent",
		want: []string{"A", "B"}, // the kill races the pool renames and the commit
	}, {
		name: "downloads-done",
		hook: "downloaded",
		wait: "downloaded",
		want: []string{"A"},
	}, {
		name: "committed",
		hook: "done",
		wait: "done",
		want: []string{"B"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			cfgPath := crashConfig(t, dir, u.srv.URL)
			u.reset(crashStateA)
			m := openCrashMirror(t, cfgPath, chantal.WithNoSync())
			if got := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}}).State; got != idA {
				t.Fatalf("state after the first sync = %s, want A %s", got, idA)
			}
			u.reset(crashStateB)
			u.mu.Lock()
			if tc.arm != nil {
				tc.arm(u)
			}
			u.mu.Unlock()

			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$", "-test.timeout=5m")
			cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashConfigEnv+"="+cfgPath, crashHookEnv+"="+tc.hook)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			killed := false
			kill := func() {
				if err := cmd.Process.Kill(); err == nil {
					killed = true
				}
			}
			timeout := time.After(crashWait)
		wait:
			for {
				select {
				case p := <-u.reached:
					if p == tc.wait {
						break wait
					}
				case err := <-exited:
					t.Fatalf("child sync ended (%v) before reaching %q:\n%s", err, tc.wait, out.Bytes())
				case <-timeout:
					kill()
					<-exited
					t.Fatalf("child did not reach %q within %v:\n%s", tc.wait, crashWait, out.Bytes())
				}
			}
			if tc.partial {
				crashWaitPartial(t, filepath.Join(data, "pool", "tmp"), u.all[crashNew[0]])
			}
			kill()
			<-exited
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			switch {
			case killed && ws.Signaled() && ws.Signal() == syscall.SIGKILL:
			case len(tc.want) > 1 && cmd.ProcessState.Success():
				t.Logf("the child finished before the kill")
			default:
				t.Fatalf("child was not killed: %v\n%s", cmd.ProcessState, out.Bytes())
			}

			// A new process opens the directory: the kernel released the locks.
			m = openCrashMirror(t, cfgPath, chantal.WithLockWait(5*time.Second))
			info, err := m.Repo(ctx, "r1")
			if err != nil {
				t.Fatalf("Repo after the kill: %v", err)
			}
			got := map[string]string{idA: "A", idB: "B"}[info.State]
			if !slices.Contains(tc.want, got) {
				t.Fatalf("state after the kill = %s (%q), want one of %v (A %s, B %s)", info.State, got, tc.want, idA, idB)
			}
			t.Logf("after the kill the catalog holds state %s", got)
			crashCheckState(t, m, data)
			crashCheckPoolNames(t, filepath.Join(data, "pool", "sha256"))
			vr, err := m.VerifyPool(ctx, chantal.VerifyPoolRequest{})
			if err != nil || len(vr.Corrupt) != 0 {
				t.Fatalf("VerifyPool after the kill: %+v, %v", vr, err)
			}
			if tc.name == "downloads-done" {
				// The downloads reached the pool even though the commit never came.
				for _, p := range crashNew {
					if ok, err := m.Pool().Has(pool.Sum(u.all[p])); err != nil || !ok {
						t.Errorf("downloaded %s is not in the pool: %v, %v", p, ok, err)
					}
				}
			}

			// The next sync completes to B.
			rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
			if rr.Err != nil || len(rr.Failed) != 0 || rr.State != idB {
				t.Fatalf("sync after the kill: state %s, err %v, failed %v; want B %s", rr.State, rr.Err, rr.Failed, idB)
			}
			if info, err := m.Repo(ctx, "r1"); err != nil || info.State != idB || info.Items != len(crashStateB) {
				t.Fatalf("Repo after the recovery sync = %+v, %v", info, err)
			}
			crashCheckState(t, m, data)
			crashCheckPoolNames(t, filepath.Join(data, "pool", "sha256"))
			if tc.partial {
				// The killed download's partial is resumed, not fetched again.
				u.mu.Lock()
				rgs := u.ranges[crashNew[0]]
				u.mu.Unlock()
				if !crashResumed(rgs) {
					t.Errorf("recovery sync fetched %s with Range headers %q, want a resume (bytes=N- with N > 0)", crashNew[0], rgs)
				}
			}
		})
	}
}

func crashResumed(ranges []string) bool {
	for _, rg := range ranges {
		n, ok := strings.CutPrefix(rg, "bytes=")
		if !ok {
			continue
		}
		off, err := strconv.ParseInt(strings.TrimSuffix(n, "-"), 10, 64)
		if err == nil && off > 0 {
			return true
		}
	}
	return false
}

// crashWaitPartial polls until the pool's tmp directory holds a non-empty
// partial download of payload. Its name follows the documented layout:
// fetch.Download resumes under the key "<algo>:<hex>" of the declared
// checksum, and pool.Begin keeps that at tmp/partial-<sha256 of the key>.
func crashWaitPartial(t *testing.T, tmp string, payload []byte) {
	t.Helper()
	key := sha256.Sum256([]byte("sha256:" + pool.Sum(payload).String()))
	p := filepath.Join(tmp, "partial-"+hex.EncodeToString(key[:]))
	deadline := time.Now().Add(crashWait)
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no partial download of the stalled payload appeared in the pool's tmp within %v", crashWait)
}

// crashCheckState checks that every reference and file of r1's current
// state has its item record (refs) and a pool blob that verifies.
func crashCheckState(t *testing.T, m *chantal.Mirror, data string) {
	t.Helper()
	ctx := context.Background()
	db, err := catalog.Open(filepath.Join(data, "catalog.db"), &catalog.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("opening the catalog: %v", err)
	}
	defer db.Close()
	var refs, files []pool.Digest
	if err := db.View(ctx, func(tx *catalog.Tx) error {
		r, err := tx.Repo("r1")
		if err != nil {
			return err
		}
		st, err := tx.State(r.State)
		if err != nil {
			return err
		}
		for _, ref := range st.Refs {
			if _, err := tx.Item(ref.Digest); err != nil {
				return fmt.Errorf("item of %s: %w", ref.Path, err)
			}
			refs = append(refs, ref.Digest)
		}
		for _, f := range st.Files {
			files = append(files, f.Digest)
		}
		return nil
	}); err != nil {
		t.Fatalf("reading r1's state: %v", err)
	}
	if len(refs) == 0 {
		t.Fatalf("r1's state has no references")
	}
	for _, d := range append(refs, files...) {
		if err := m.Pool().Verify(ctx, d); err != nil {
			t.Errorf("blob %s of the current state: %v", d, err)
		}
	}
}

// crashCheckPoolNames hashes every file under the pool's sha256 directory itself:
// each must sit at sha256/<first two hex digits>/<hex of its bytes>.
func crashCheckPoolNames(t *testing.T, root string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		sum := sha256.Sum256(b)
		want := hex.EncodeToString(sum[:])
		if d.Name() != want || filepath.Base(filepath.Dir(p)) != want[:2] {
			rel, _ := filepath.Rel(root, p) // p is under root
			t.Errorf("pool file %s holds bytes with sha256 %s", rel, want)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("walking the pool: %v", err)
	}
	if n == 0 {
		t.Errorf("pool holds no blobs")
	}
}
