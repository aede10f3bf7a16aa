package pool_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chantal-lite/chantal/pool"
)

func openStore(t testing.TB) *pool.Store {
	t.Helper()
	s, err := pool.Open(filepath.Join(t.TempDir(), "pool"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tmpFiles lists the files in the store's tmp/ directory.
func tmpFiles(t testing.TB, s *pool.Store) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Root(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func put(t testing.TB, s *pool.Store, content string) pool.Info {
	t.Helper()
	info, err := s.Put(context.Background(), bytes.NewReader([]byte(content)), pool.PutRequest{})
	if err != nil {
		t.Fatalf("Put(%.20q): %v", content, err)
	}
	return info
}

func readBlob(t testing.TB, s *pool.Store, d pool.Digest) string {
	t.Helper()
	f, err := s.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenCreatesLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "pool")
	s, err := pool.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Root() != root {
		t.Errorf("Root() = %q, want %q", s.Root(), root)
	}
	for _, dir := range []string{root, filepath.Join(root, "sha256"), filepath.Join(root, "tmp")} {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() {
			t.Errorf("%s: %v, want a directory", dir, err)
		}
	}
	// Opening again is fine.
	if _, err := pool.Open(root, &pool.Options{NoSync: true}); err != nil {
		t.Errorf("second Open: %v", err)
	}
}

func TestPutLayout(t *testing.T) {
	s := openStore(t)
	content := "hello, pool\n"
	d := pool.Sum([]byte(content))
	info, err := s.Put(context.Background(), bytes.NewReader([]byte(content)), pool.PutRequest{Digest: d, Size: int64(len(content))})
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != d || info.Size != int64(len(content)) || info.ModTime.IsZero() {
		t.Errorf("Put = %+v, want digest %s size %d", info, d, len(content))
	}
	want := filepath.Join(s.Root(), "sha256", d.String()[:2], d.String())
	if got := s.Path(d); got != want {
		t.Errorf("Path = %s, want %s", got, want)
	}
	fi, err := os.Stat(want)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("blob mode = %v, want 0444", fi.Mode().Perm())
	}
	if got := readBlob(t, s, d); got != content {
		t.Errorf("content = %q, want %q", got, content)
	}
	if ok, err := s.Has(d); !ok || err != nil {
		t.Errorf("Has = %v, %v; want true", ok, err)
	}
	st, err := s.Stat(d)
	if err != nil || !st.ModTime.Equal(info.ModTime) || st.Size != info.Size {
		t.Errorf("Stat = %+v, %v; want %+v", st, err, info)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Errorf("tmp/ holds %v after Put", names)
	}
	// The empty blob is a blob like any other.
	e := put(t, s, "")
	if e.Size != 0 || e.Digest.String() != emptyHex {
		t.Errorf("Put(empty) = %+v", e)
	}
}

func TestPutExistingShortCircuits(t *testing.T) {
	s := openStore(t)
	info := put(t, s, "abc")
	// With the digest known, the reader is not read at all.
	r := &failingReader{err: errors.New("must not be read")}
	got, err := s.Put(context.Background(), r, pool.PutRequest{Digest: info.Digest})
	if err != nil {
		t.Fatalf("Put of present blob: %v", err)
	}
	if diff := cmp.Diff(info, got); diff != "" {
		t.Errorf("Info mismatch (-want +got):\n%s", diff)
	}
	if r.n != 0 {
		t.Errorf("reader was read %d times", r.n)
	}
	// A size that contradicts the present blob is an error.
	_, err = s.Put(context.Background(), r, pool.PutRequest{Digest: info.Digest, Size: 4})
	var se *pool.SizeMismatchError
	if !errors.As(err, &se) || se.Want != 4 || se.Got != 3 {
		t.Errorf("Put with wrong size = %v, want SizeMismatchError 4/3", err)
	}
	// Without a digest the content is streamed and the existing file kept.
	ino := inode(t, s.Path(info.Digest))
	if again := put(t, s, "abc"); again.Digest != info.Digest {
		t.Errorf("second Put digest %s, want %s", again.Digest, info.Digest)
	}
	if inode(t, s.Path(info.Digest)) != ino {
		t.Error("second Put replaced the existing blob file")
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Errorf("tmp/ holds %v", names)
	}
}

func inode(t testing.TB, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestPutConcurrentSameBlob(t *testing.T) {
	s := openStore(t)
	content := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // > 1 chunk, parallel hashing
	d := pool.Sum(content)
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			req := pool.PutRequest{}
			if i%2 == 0 {
				req = pool.PutRequest{Digest: d, Size: int64(len(content))}
			}
			info, err := s.Put(context.Background(), bytes.NewReader(content), req)
			if err == nil && info.Digest != d {
				err = fmt.Errorf("digest %s, want %s", info.Digest, d)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d: %v", i, err)
		}
	}
	var all []pool.Digest
	if err := s.Walk(context.Background(), func(i pool.Info) error { all = append(all, i.Digest); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]pool.Digest{d}, all); diff != "" {
		t.Errorf("blobs (-want +got):\n%s", diff)
	}
	if got := readBlob(t, s, d); got != string(content) {
		t.Error("blob content differs")
	}
	if err := s.Verify(context.Background(), d); err != nil {
		t.Error(err)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Errorf("tmp/ holds %v", names)
	}
}

// failingReader yields data, then err.
type failingReader struct {
	data []byte
	err  error
	n    int
}

func (r *failingReader) Read(p []byte) (int, error) {
	r.n++
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestPutFailures(t *testing.T) {
	content := bytes.Repeat([]byte("x"), 3<<20)
	d := pool.Sum(content)
	boom := errors.New("boom")
	tests := []struct {
		name  string
		r     io.Reader
		req   pool.PutRequest
		check func(t *testing.T, err error)
	}{
		{
			name: "reader fails midway",
			r:    &failingReader{data: content[:2<<20+17], err: boom},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, boom) {
					t.Errorf("err = %v, want boom", err)
				}
			},
		},
		{
			name: "truncated body",
			r:    &failingReader{data: content[:100], err: io.ErrUnexpectedEOF},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
				}
			},
		},
		{
			name: "digest mismatch",
			r:    bytes.NewReader(content[1:]),
			req:  pool.PutRequest{Digest: d},
			check: func(t *testing.T, err error) {
				var me *pool.DigestMismatchError
				if !errors.As(err, &me) {
					t.Fatalf("err = %v, want *DigestMismatchError", err)
				}
				want := &pool.DigestMismatchError{Want: d, Got: pool.Sum(content[1:]), Size: int64(len(content) - 1)}
				if diff := cmp.Diff(want, me); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "too short",
			r:    bytes.NewReader(content[:10]),
			req:  pool.PutRequest{Size: int64(len(content))},
			check: func(t *testing.T, err error) {
				want := &pool.SizeMismatchError{Want: int64(len(content)), Got: 10}
				var se *pool.SizeMismatchError
				if !errors.As(err, &se) {
					t.Fatalf("err = %v, want *SizeMismatchError", err)
				}
				if diff := cmp.Diff(want, se); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "too long stops early",
			r:    io.MultiReader(bytes.NewReader(content), &failingReader{err: errors.New("read past the size")}),
			req:  pool.PutRequest{Size: 10},
			check: func(t *testing.T, err error) {
				var se *pool.SizeMismatchError
				if !errors.As(err, &se) || se.Want != 10 || se.Got <= 10 {
					t.Fatalf("err = %v, want *SizeMismatchError with Got > 10", err)
				}
			},
		},
		{
			name: "reader makes no progress",
			r:    &failingReader{},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, io.ErrNoProgress) {
					t.Errorf("err = %v, want io.ErrNoProgress", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			info, err := s.Put(context.Background(), tt.r, tt.req)
			if err == nil {
				t.Fatalf("Put succeeded: %+v", info)
			}
			tt.check(t, err)
			assertEmpty(t, s)
		})
	}
}

// assertEmpty checks that the store holds no blob and no temp file.
func assertEmpty(t *testing.T, s *pool.Store) {
	t.Helper()
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Errorf("tmp/ holds %v", names)
	}
	err := filepath.WalkDir(filepath.Join(s.Root(), "sha256"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("unexpected blob %s", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cancelReader cancels a context after it has yielded limit bytes.
type cancelReader struct {
	cancel func()
	limit  int
	n      int
}

func (r *cancelReader) Read(p []byte) (int, error) {
	if r.n >= r.limit {
		r.cancel()
	}
	r.n += len(p)
	for i := range p {
		p[i] = 'z'
	}
	return len(p), nil
}

func TestPutCancel(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// An endless stream: only cancellation can end this Put.
	r := &cancelReader{cancel: cancel, limit: 3 << 20}
	_, err := s.Put(ctx, r, pool.PutRequest{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	if r.n > 8<<20 {
		t.Errorf("read %d bytes after cancel at %d", r.n, r.limit)
	}
	assertEmpty(t, s)

	// A context cancelled before the start fails before touching anything.
	if _, err := s.Put(ctx, bytes.NewReader([]byte("x")), pool.PutRequest{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with cancelled ctx = %v", err)
	}
	assertEmpty(t, s)
}

func TestResume(t *testing.T) {
	s := openStore(t)
	content := bytes.Repeat([]byte("resumable content "), 100_000)
	d := pool.Sum(content)
	key := "sha256:" + d.String()
	half := len(content) / 2
	ctx := context.Background()

	w, err := s.Begin(ctx, pool.BeginRequest{ResumeKey: key, Hashes: []hash.Hash{sha512.New()}})
	if err != nil {
		t.Fatal(err)
	}
	if w.Offset() != 0 {
		t.Fatalf("fresh Offset() = %d", w.Offset())
	}
	if _, err := w.Write(content[:half]); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("Write after Abort = %v, want ErrClosed", err)
	}
	if n := len(tmpFiles(t, s)); n != 1 {
		t.Fatalf("tmp/ holds %d files after Abort, want the partial", n)
	}

	// A used hash is reset by Begin.
	h512 := sha512.New()
	h512.Write([]byte("garbage"))
	w, err = s.Begin(ctx, pool.BeginRequest{ResumeKey: key, Hashes: []hash.Hash{h512}})
	if err != nil {
		t.Fatal(err)
	}
	if w.Offset() != int64(half) || w.Size() != int64(half) {
		t.Fatalf("resumed Offset() = %d, Size() = %d; want %d", w.Offset(), w.Size(), half)
	}
	if w.Digest() != pool.Sum(content[:half]) {
		t.Error("resumed Digest() is not the digest of the prefix")
	}
	// io.Copy goes through Writer.ReadFrom, the pipelined path.
	rest := struct{ io.Reader }{bytes.NewReader(content[w.Offset():])}
	if n, err := io.Copy(w, rest); err != nil || n != int64(len(content)-half) {
		t.Fatalf("io.Copy = %d, %v", n, err)
	}
	info, err := w.Commit(ctx, pool.PutRequest{Digest: d, Size: int64(len(content))})
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != d || info.Size != int64(len(content)) {
		t.Errorf("Commit = %+v", info)
	}
	if want := sha512.Sum512(content); !bytes.Equal(h512.Sum(nil), want[:]) {
		t.Error("extra sha512 does not cover the whole blob")
	}
	if got := readBlob(t, s, d); got != string(content) {
		t.Error("committed content differs")
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Commit = %v, want nil", err)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Errorf("tmp/ holds %v after Commit", names)
	}

	// After Discard a Begin with the same key starts over.
	w, err = s.Begin(ctx, pool.BeginRequest{ResumeKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if w.Offset() != 0 {
		t.Errorf("Begin after Commit: Offset() = %d", w.Offset())
	}
	w.Write([]byte("partial"))
	if err := w.Discard(); err != nil {
		t.Fatal(err)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Errorf("tmp/ holds %v after Discard", names)
	}
}

func TestResumeMismatchDiscardsPartial(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	want := pool.Sum([]byte("good content"))
	key := "sha256:" + want.String()
	w, err := s.Begin(ctx, pool.BeginRequest{ResumeKey: key})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("bad "))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	w, err = s.Begin(ctx, pool.BeginRequest{ResumeKey: key})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("content"))
	_, err = w.Commit(ctx, pool.PutRequest{Digest: want})
	var me *pool.DigestMismatchError
	if !errors.As(err, &me) || me.Got != pool.Sum([]byte("bad content")) {
		t.Fatalf("Commit = %v, want DigestMismatchError over the resumed bytes", err)
	}
	// The bad partial is gone: the next attempt starts at 0.
	assertEmpty(t, s)
	w, err = s.Begin(ctx, pool.BeginRequest{ResumeKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Discard()
	if w.Offset() != 0 {
		t.Errorf("Offset() = %d after a mismatch, want 0", w.Offset())
	}
}

func TestConcurrentBeginSameKey(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := bytes.Repeat([]byte("A"), 300_000)
	key := "the same key"

	w1, err := s.Begin(ctx, pool.BeginRequest{ResumeKey: key})
	if err != nil {
		t.Fatal(err)
	}
	w1.Write(a[:1000])
	// The partial is locked by w1: w2 gets its own anonymous file.
	w2, err := s.Begin(ctx, pool.BeginRequest{ResumeKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if w2.Offset() != 0 {
		t.Fatalf("second Begin Offset() = %d, want 0", w2.Offset())
	}
	// Interleave writes; neither may see the other's bytes.
	b := bytes.Repeat([]byte("B"), 300_000)
	for i := 1000; i < len(a); i += 70_000 {
		w2.Write(b[i-1000 : min(i-1000+70_000, len(b))])
		w1.Write(a[i:min(i+70_000, len(a))])
	}
	i1, err := w1.Commit(ctx, pool.PutRequest{Digest: pool.Sum(a)})
	if err != nil {
		t.Fatalf("w1: %v", err)
	}
	i2, err := w2.Commit(ctx, pool.PutRequest{Digest: pool.Sum(b)})
	if err != nil {
		t.Fatalf("w2: %v", err)
	}
	if readBlob(t, s, i1.Digest) != string(a) || readBlob(t, s, i2.Digest) != string(b) {
		t.Error("blob contents were mixed")
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Errorf("tmp/ holds %v", names)
	}

	// Many goroutines racing on one key: each either resumes a complete,
	// consistent partial or starts anew; every Commit verifies.
	content := bytes.Repeat([]byte("race "), 100_000)
	d := pool.Sum(content)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			w, err := s.Begin(ctx, pool.BeginRequest{ResumeKey: "race"})
			if err != nil {
				errs[i] = err
				return
			}
			if _, err := w.Write(content[w.Offset():]); err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = w.Commit(ctx, pool.PutRequest{Digest: d})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("racer %d: %v", i, err)
		}
	}
	if err := s.Verify(ctx, d); err != nil {
		t.Error(err)
	}
}

func TestVerifyCatchesCorruption(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	info := put(t, s, "precious bytes")
	if err := s.Verify(ctx, info.Digest); err != nil {
		t.Fatalf("Verify of intact blob: %v", err)
	}
	path := s.Path(info.Digest)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{'P'}, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	err = s.Verify(ctx, info.Digest)
	var me *pool.DigestMismatchError
	if !errors.As(err, &me) {
		t.Fatalf("Verify = %v, want *DigestMismatchError", err)
	}
	want := &pool.DigestMismatchError{Want: info.Digest, Got: pool.Sum([]byte("Precious bytes")), Size: info.Size}
	if diff := cmp.Diff(want, me); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := s.Verify(ctx, pool.Sum([]byte("absent"))); !errors.Is(err, pool.ErrNotFound) {
		t.Errorf("Verify(absent) = %v, want ErrNotFound", err)
	}
}

func TestLinkHardlink(t *testing.T) {
	s := openStore(t)
	info := put(t, s, "payload")
	dst := filepath.Join(t.TempDir(), "pkg.rpm")
	if err := s.Link(info.Digest, dst); err != nil {
		t.Fatal(err)
	}
	if a, b := inode(t, dst), inode(t, s.Path(info.Digest)); a != b {
		t.Errorf("dst inode %d, blob inode %d: not a hard link", a, b)
	}
	if err := s.Link(info.Digest, dst); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Link onto existing dst = %v, want fs.ErrExist", err)
	}
	if err := s.Link(pool.Sum([]byte("absent")), filepath.Join(filepath.Dir(dst), "other")); !errors.Is(err, pool.ErrNotFound) {
		t.Errorf("Link(absent) = %v, want ErrNotFound", err)
	}
	if err := s.Link(info.Digest, filepath.Join(filepath.Dir(dst), "no", "such", "dir")); err == nil || errors.Is(err, pool.ErrNotFound) {
		t.Errorf("Link into missing dir = %v, want a non-ErrNotFound error", err)
	}
}

func TestWalkAndRemove(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	var want []pool.Info
	for i := range 20 {
		want = append(want, put(t, s, fmt.Sprintf("blob %d", i)))
	}
	slicesSortInfo(want)
	// Strays that Walk must skip: a non-hex name, an upper-case copy, a
	// misplaced blob, a stray directory, a temp file.
	d0 := want[0].Digest.String()
	dir0 := filepath.Dir(s.Path(want[0].Digest))
	for _, p := range []string{
		filepath.Join(dir0, "README"),
		filepath.Join(dir0, "zz"+d0[2:]),
		filepath.Join(dir0, fmt.Sprintf("%X", want[0].Digest[:])),
		filepath.Join(s.Root(), "sha256", "zz", d0),
		filepath.Join(s.Root(), "sha256", "notes.txt"),
		filepath.Join(s.Root(), "tmp", "put-123"),
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("stray"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if other := fmt.Sprintf("%02x", want[1].Digest[0]+1); other != d0[:2] {
		// A blob file under the wrong fan-out directory is not a blob.
		p := filepath.Join(s.Root(), "sha256", other, want[1].Digest.String())
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("misplaced"), 0o644)
	}
	var got []pool.Info
	if err := s.Walk(ctx, func(i pool.Info) error { got = append(got, i); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Walk (-want +got):\n%s", diff)
	}

	// An error from fn stops Walk and comes back unchanged; fs.SkipAll stops it quietly.
	stop := errors.New("stop")
	n := 0
	if err := s.Walk(ctx, func(pool.Info) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("Walk with failing fn = %v after %d calls", err, n)
	}
	n = 0
	if err := s.Walk(ctx, func(pool.Info) error { n++; return fs.SkipAll }); err != nil || n != 1 {
		t.Errorf("Walk with SkipAll = %v after %d calls", err, n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Walk(cctx, func(pool.Info) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Walk with cancelled ctx = %v", err)
	}

	// Remove every other blob.
	var kept []pool.Info
	for i, info := range want {
		if i%2 == 0 {
			if err := s.Remove(info.Digest); err != nil {
				t.Fatal(err)
			}
			continue
		}
		kept = append(kept, info)
	}
	if err := s.Remove(want[0].Digest); !errors.Is(err, pool.ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(want[0].Digest); !errors.Is(err, pool.ErrNotFound) {
		t.Errorf("Stat(removed) = %v, want ErrNotFound", err)
	}
	if _, err := s.Open(want[0].Digest); !errors.Is(err, pool.ErrNotFound) {
		t.Errorf("Open(removed) = %v, want ErrNotFound", err)
	}
	if ok, err := s.Has(want[0].Digest); ok || err != nil {
		t.Errorf("Has(removed) = %v, %v", ok, err)
	}
	got = nil
	if err := s.Walk(ctx, func(i pool.Info) error { got = append(got, i); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(kept, got); diff != "" {
		t.Errorf("Walk after Remove (-want +got):\n%s", diff)
	}
}

func slicesSortInfo(infos []pool.Info) {
	for i := 1; i < len(infos); i++ {
		for j := i; j > 0 && bytes.Compare(infos[j].Digest[:], infos[j-1].Digest[:]) < 0; j-- {
			infos[j], infos[j-1] = infos[j-1], infos[j]
		}
	}
}

func TestCleanTemp(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	tmp := filepath.Join(s.Root(), "tmp")
	old := time.Now().Add(-2 * time.Hour)

	stale := filepath.Join(tmp, "put-stale")
	fresh := filepath.Join(tmp, "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	// A stale aborted partial is removed too.
	w, err := s.Begin(ctx, pool.BeginRequest{ResumeKey: "aborted"})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("abc"))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	// A live writer's files, however old, are skipped: resumable and anonymous.
	live, err := s.Begin(ctx, pool.BeginRequest{ResumeKey: "live"})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Discard()
	live.Write([]byte("live"))
	anon, err := s.Begin(ctx, pool.BeginRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Discard()
	anon.Write([]byte("anon"))
	var liveNames []string
	for _, name := range tmpFiles(t, s) {
		p := filepath.Join(tmp, name)
		if p == fresh {
			continue
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		if p != stale {
			liveNames = append(liveNames, name)
		}
	}
	if len(liveNames) != 3 {
		t.Fatalf("tmp/ holds %v", tmpFiles(t, s))
	}

	removed, err := s.CleanTemp(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 2 {
		t.Errorf("CleanTemp removed %d, want 2 (stale file and aborted partial)", removed)
	}
	left := tmpFiles(t, s)
	if len(left) != 3 {
		t.Errorf("tmp/ holds %v, want the fresh file and two live writers' files", left)
	}
	for _, name := range left {
		if filepath.Join(tmp, name) == stale {
			t.Error("stale file survived")
		}
	}
	// The live writers still work.
	if _, err := live.Commit(ctx, pool.PutRequest{Digest: pool.Sum([]byte("live"))}); err != nil {
		t.Error(err)
	}
	if _, err := anon.Commit(ctx, pool.PutRequest{Digest: pool.Sum([]byte("anon"))}); err != nil {
		t.Error(err)
	}
}

func TestNoSync(t *testing.T) {
	s, err := pool.Open(t.TempDir(), &pool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	info := put(t, s, "quick")
	if got := readBlob(t, s, info.Digest); got != "quick" {
		t.Errorf("content %q", got)
	}
	want := sha256.Sum256([]byte("quick"))
	if info.Digest != pool.Digest(want) {
		t.Errorf("digest %s", info.Digest)
	}
}

func TestCommitCancelledKeepsPartial(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := s.Begin(ctx, pool.BeginRequest{ResumeKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("some bytes"))
	cancel()
	if _, err := w.Commit(ctx, pool.PutRequest{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit = %v, want context.Canceled", err)
	}
	if _, err := w.Commit(context.Background(), pool.PutRequest{}); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("second Commit = %v, want ErrClosed", err)
	}
	w, err = s.Begin(context.Background(), pool.BeginRequest{ResumeKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if w.Offset() != int64(len("some bytes")) {
		t.Errorf("Offset() = %d after a cancelled Commit, want the kept partial", w.Offset())
	}
	if info, err := w.Commit(context.Background(), pool.PutRequest{Size: 10}); err != nil || info.Digest != pool.Sum([]byte("some bytes")) {
		t.Errorf("Commit = %+v, %v", info, err)
	}
}
