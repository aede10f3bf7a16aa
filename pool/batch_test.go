package pool_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/pool"
)

// commitTo writes content through a Writer (resumable under key when not
// empty) and parks it in b.
func commitTo(t testing.TB, s *pool.Store, b *pool.Batch, key, content string) (pool.Info, error) {
	t.Helper()
	ctx := context.Background()
	w, err := s.Begin(ctx, pool.BeginRequest{ResumeKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	return w.CommitTo(ctx, pool.PutRequest{Digest: pool.Sum([]byte(content)), Size: int64(len(content))}, b)
}

// assertAbsent checks that Has, Stat, Open and Walk do not see d.
func assertAbsent(t *testing.T, s *pool.Store, d pool.Digest) {
	t.Helper()
	if ok, err := s.Has(d); ok || err != nil {
		t.Errorf("Has(%s) = %v, %v before Flush", d, ok, err)
	}
	if _, err := s.Stat(d); !errors.Is(err, pool.ErrNotFound) {
		t.Errorf("Stat(%s) = %v before Flush", d, err)
	}
	if f, err := s.Open(d); !errors.Is(err, pool.ErrNotFound) {
		if err == nil {
			f.Close()
		}
		t.Errorf("Open(%s) = %v before Flush", d, err)
	}
	if err := s.Walk(context.Background(), func(i pool.Info) error {
		if i.Digest == d {
			t.Errorf("Walk reports %s before Flush", d)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestBatchCommit(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	b := s.NewBatch()
	contents := []string{"alpha", "beta", "gamma"}
	var infos []pool.Info
	for i, c := range contents {
		key := ""
		if i == 0 {
			key = "sha256:alpha" // a resumable partial
		}
		info, err := commitTo(t, s, b, key, c)
		if err != nil {
			t.Fatal(err)
		}
		if info.Digest != pool.Sum([]byte(c)) || info.Size != int64(len(c)) {
			t.Errorf("CommitTo(%q) = %+v", c, info)
		}
		infos = append(infos, info)
	}
	for _, info := range infos {
		assertAbsent(t, s, info.Digest)
	}
	// The partial's name is free again: a new Begin starts from scratch.
	w, err := s.Begin(ctx, pool.BeginRequest{ResumeKey: "sha256:alpha"})
	if err != nil {
		t.Fatal(err)
	}
	if w.Offset() != 0 {
		t.Errorf("Begin after CommitTo resumes %d bytes", w.Offset())
	}
	if err := w.Discard(); err != nil {
		t.Fatal(err)
	}

	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, info := range infos {
		if got := readBlob(t, s, info.Digest); got != contents[i] {
			t.Errorf("blob %s = %q, want %q", info.Digest, got, contents[i])
		}
		if err := s.Verify(ctx, info.Digest); err != nil {
			t.Error(err)
		}
		fi, err := os.Stat(s.Path(info.Digest))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o444 {
			t.Errorf("blob mode %v, want read-only", fi.Mode())
		}
	}
	// The batch goes on after a Flush; a blob already in the pool is dropped.
	if info, err := commitTo(t, s, b, "", "alpha"); err != nil || info.Digest != infos[0].Digest {
		t.Errorf("CommitTo of a pooled blob = %+v, %v", info, err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Discard(); err != nil {
		t.Fatal(err)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Errorf("tmp/ holds %v after Discard", names)
	}
	if err := b.Flush(ctx); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("Flush after Discard = %v, want ErrClosed", err)
	}
}

func TestBatchMismatchLeavesNothing(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	b := s.NewBatch()
	defer b.Discard()
	for _, key := range []string{"", "sha256:k"} {
		w, err := s.Begin(ctx, pool.BeginRequest{ResumeKey: key})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("actual"))
		var dm *pool.DigestMismatchError
		if _, err := w.CommitTo(ctx, pool.PutRequest{Digest: pool.Sum([]byte("expected"))}, b); !errors.As(err, &dm) {
			t.Fatalf("CommitTo = %v, want a DigestMismatchError", err)
		}
		w, err = s.Begin(ctx, pool.BeginRequest{ResumeKey: key})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("actual"))
		var sm *pool.SizeMismatchError
		if _, err := w.CommitTo(ctx, pool.PutRequest{Size: 100}, b); !errors.As(err, &sm) {
			t.Fatalf("CommitTo = %v, want a SizeMismatchError", err)
		}
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, s)
}

func TestBatchConcurrent(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	b := s.NewBatch()
	defer b.Discard()
	const workers = 16
	var wg sync.WaitGroup
	infos := make([]pool.Info, workers)
	errs := make([]error, workers)
	for i := range workers {
		wg.Go(func() {
			// Half write the same blob, half their own; some flush meanwhile.
			content := "shared"
			if i%2 == 1 {
				content = fmt.Sprintf("own %d", i)
			}
			infos[i], errs[i] = commitTo(t, s, b, "sha256:"+content, content)
			if i%4 == 0 {
				if err := b.Flush(ctx); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range workers {
		if errs[i] != nil {
			t.Fatalf("worker %d: %v", i, errs[i])
		}
		content := "shared"
		if i%2 == 1 {
			content = fmt.Sprintf("own %d", i)
		}
		if infos[i].Digest != pool.Sum([]byte(content)) {
			t.Errorf("worker %d: %+v", i, infos[i])
		}
		if got := readBlob(t, s, infos[i].Digest); got != content {
			t.Errorf("worker %d: blob %q", i, got)
		}
	}
	n := 0
	if err := s.Walk(ctx, func(pool.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1+workers/2 {
		t.Errorf("%d blobs, want %d", n, 1+workers/2)
	}
	if err := b.Discard(); err != nil {
		t.Fatal(err)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Errorf("tmp/ holds %v", names)
	}
}

func TestBatchDiscard(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	b := s.NewBatch()
	var ds []pool.Digest
	for _, c := range []string{"one", "two"} {
		info, err := commitTo(t, s, b, "sha256:"+c, c)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, info.Digest)
	}
	if err := b.Discard(); err != nil {
		t.Fatal(err)
	}
	if err := b.Discard(); err != nil {
		t.Errorf("second Discard = %v", err)
	}
	for _, d := range ds {
		assertAbsent(t, s, d)
	}
	if _, err := commitTo(t, s, b, "sha256:three", "three"); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("CommitTo after Discard = %v, want ErrClosed", err)
	}
	// The refused write's partial is kept for a resume, like an Abort.
	w, err := s.Begin(ctx, pool.BeginRequest{ResumeKey: "sha256:three"})
	if err != nil {
		t.Fatal(err)
	}
	if w.Offset() != int64(len("three")) {
		t.Errorf("partial after a refused CommitTo holds %d bytes", w.Offset())
	}
	if err := w.Discard(); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, s)
}

func TestBatchCleanTempKeepsLive(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	b := s.NewBatch()
	defer b.Discard()
	info, err := commitTo(t, s, b, "", "parked")
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	tmp := filepath.Join(s.Root(), "tmp")
	if err := filepath.WalkDir(tmp, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, old, old)
	}); err != nil {
		t.Fatal(err)
	}
	removed, err := s.CleanTemp(ctx, time.Hour)
	if err != nil || removed != 0 {
		t.Fatalf("CleanTemp = %d, %v; want a live batch kept", removed, err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, s, info.Digest); got != "parked" {
		t.Errorf("blob %q", got)
	}
}

// batchCrashEnv names the pool the child of TestBatchCrash parks blobs in.
const batchCrashEnv = "CHANTAL_POOL_BATCH_CRASH"

// batchCrashBlobs are what the child parks.
var batchCrashBlobs = []string{"crash one", "crash two", strings.Repeat("crash three ", 10000)}

// TestBatchCrash kills a process that parked blobs in a batch before its
// Flush: no blob reaches a canonical path, and the next CleanTemp removes the
// parked files.
func TestBatchCrash(t *testing.T) {
	if root := os.Getenv(batchCrashEnv); root != "" {
		batchCrashChild(t, root)
		return
	}
	root := filepath.Join(t.TempDir(), "pool")
	cmd := exec.Command(os.Args[0], "-test.run=^TestBatchCrash$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), batchCrashEnv+"="+root)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "parked" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatal("child ended before parking its blobs")
		}
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("child did not park its blobs within 90s")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed: %v", cmd.ProcessState)
	}

	s, err := pool.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range batchCrashBlobs {
		assertAbsent(t, s, pool.Sum([]byte(c)))
	}
	if names := tmpFiles(t, s); len(names) != 1 || !strings.HasPrefix(names[0], "batch-") {
		t.Fatalf("tmp/ holds %v, want the dead batch's directory", names)
	}
	removed, err := s.CleanTemp(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if removed != len(batchCrashBlobs) {
		t.Errorf("CleanTemp removed %d files, want %d", removed, len(batchCrashBlobs))
	}
	assertEmpty(t, s)
}

// batchCrashChild parks batchCrashBlobs, says so, and waits to be killed.
func batchCrashChild(t *testing.T, root string) {
	s, err := pool.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	for i, c := range batchCrashBlobs {
		if _, err := commitTo(t, s, b, fmt.Sprintf("sha256:%d", i), c); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("parked")
	time.Sleep(5 * time.Minute)
	t.Fatal("not killed")
}

// BenchmarkPutSmallBlobs stores 5,000 blobs of 2 KiB with fsync on, one
// Commit each or group-committed in one Batch; ns/blob compares them.
// CHANTAL_BENCH_DIR picks the file system (default: the test's temp dir).
func BenchmarkPutSmallBlobs(b *testing.B) {
	const blobs, size = 5000, 2 << 10
	data := make([][]byte, blobs)
	for i := range data {
		data[i] = []byte(strings.Repeat(fmt.Sprintf("%08d", i), size/8))
	}
	for _, batched := range []bool{false, true} {
		name := "Commit"
		if batched {
			name = "CommitTo+Flush"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			base := os.Getenv("CHANTAL_BENCH_DIR")
			if base == "" {
				base = b.TempDir()
			}
			for n := range b.N {
				b.StopTimer()
				root := filepath.Join(base, fmt.Sprintf("pool-%s-%d", map[bool]string{false: "c", true: "b"}[batched], n))
				s, err := pool.Open(root, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				var bt *pool.Batch
				if batched {
					bt = s.NewBatch()
				}
				for _, d := range data {
					w, err := s.Begin(ctx, pool.BeginRequest{})
					if err != nil {
						b.Fatal(err)
					}
					w.Write(d)
					if _, err := w.CommitTo(ctx, pool.PutRequest{Size: size}, bt); err != nil {
						b.Fatal(err)
					}
				}
				if batched {
					if err := bt.Flush(ctx); err != nil {
						b.Fatal(err)
					}
					if err := bt.Discard(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				os.RemoveAll(root)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*blobs), "ns/blob")
		})
	}
}

// TestBatchBegin writes blobs through Batch.Begin: they are parked where
// they were written, absent until Flush, deduplicated, and a blob the pool
// already holds keeps its file.
func TestBatchBegin(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	pooled, err := s.Put(ctx, strings.NewReader("pooled"), pool.PutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(s.Path(pooled.Digest))
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	put := func(content string) (pool.Info, error) {
		w, err := b.Begin(ctx, pool.BeginRequest{ResumeKey: "ignored"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
		return w.CommitTo(ctx, pool.PutRequest{Digest: pool.Sum([]byte(content)), Size: int64(len(content))}, b)
	}
	var fresh []pool.Digest
	for _, c := range []string{"one", "two", "one", "pooled"} {
		info, err := put(c)
		if err != nil {
			t.Fatalf("CommitTo(%q): %v", c, err)
		}
		if info.Digest != pool.Sum([]byte(c)) || info.Size != int64(len(c)) {
			t.Errorf("CommitTo(%q) = %+v", c, info)
		}
		if c != "pooled" {
			assertAbsent(t, s, info.Digest)
			fresh = append(fresh, info.Digest)
		}
	}
	// A mismatch removes the temp file; an aborted Writer leaves nothing.
	w, err := b.Begin(ctx, pool.BeginRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("bad"))
	var dm *pool.DigestMismatchError
	if _, err := w.CommitTo(ctx, pool.PutRequest{Digest: pool.Sum([]byte("good"))}, b); !errors.As(err, &dm) {
		t.Errorf("CommitTo of wrong bytes = %v, want a DigestMismatchError", err)
	}
	if w, err = b.Begin(ctx, pool.BeginRequest{}); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("aborted"))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}

	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range fresh {
		if err := s.Verify(ctx, d); err != nil {
			t.Error(err)
		}
		if fi, err := os.Stat(s.Path(d)); err != nil || fi.Mode().Perm() != 0o444 {
			t.Errorf("blob %s: %v, %v; want read-only", d, fi, err)
		}
	}
	after, err := os.Stat(s.Path(pooled.Digest))
	if err != nil || !os.SameFile(before, after) {
		t.Errorf("the pooled blob's file was replaced (%v)", err)
	}
	if err := b.Discard(); err != nil {
		t.Fatal(err)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Errorf("tmp/ holds %v after Discard", names)
	}
	if _, err := b.Begin(ctx, pool.BeginRequest{}); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("Begin after Discard = %v, want ErrClosed", err)
	}
}

// TestBatchRemadeBlobDir checks that a Flush makes a blob directory again
// when it was removed after an earlier Flush of the same Store created it.
func TestBatchRemadeBlobDir(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	first := "first blob"
	d := pool.Sum([]byte(first))
	second := ""
	for i := 0; ; i++ { // another content in the same blob directory
		c := fmt.Sprintf("second blob %d", i)
		if pool.Sum([]byte(c)).String()[:2] == d.String()[:2] {
			second = c
			break
		}
	}
	for _, c := range []string{first, second} {
		b := s.NewBatch()
		if _, err := commitTo(t, s, b, "", c); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(ctx); err != nil {
			t.Fatalf("Flush of %q: %v", c, err)
		}
		if err := b.Discard(); err != nil {
			t.Fatal(err)
		}
		if got := readBlob(t, s, pool.Sum([]byte(c))); got != c {
			t.Fatalf("blob = %q, want %q", got, c)
		}
		if c == first {
			if err := s.Remove(d); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Dir(s.Path(d))); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestBatchBeginRacesDiscard checks that Writers begun in a batch while
// another goroutine discards it leave nothing behind in tmp/: Begin creates
// its file outside the batch's lock, so Discard must wait for it, and a
// CommitTo after Discard must remove its own file.
func TestBatchBeginRacesDiscard(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	for round := range 20 {
		b := s.NewBatch()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 4 {
			wg.Go(func() {
				<-start
				for i := range 50 {
					w, err := b.Begin(ctx, pool.BeginRequest{})
					if errors.Is(err, pool.ErrClosed) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					c := []byte(fmt.Sprintf("%d-%d-%d", round, g, i))
					if _, err := w.Write(c); err != nil {
						w.Abort()
						continue // the batch directory is gone
					}
					if _, err := w.CommitTo(ctx, pool.PutRequest{Digest: pool.Sum(c), Size: int64(len(c))}, b); err != nil && !errors.Is(err, pool.ErrClosed) {
						t.Errorf("CommitTo: %v", err)
					}
				}
			})
		}
		close(start)
		time.Sleep(time.Duration(round%5) * 100 * time.Microsecond)
		if err := b.Discard(); err != nil {
			t.Errorf("round %d: Discard: %v", round, err)
		}
		wg.Wait()
		if names := tmpFiles(t, s); len(names) != 0 {
			t.Fatalf("round %d: tmp/ holds %v after Discard", round, names)
		}
	}
}
