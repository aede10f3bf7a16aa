package fetch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chantal-lite/chantal/internal/verify"
	"github.com/chantal-lite/chantal/pool"
)

func readBlob(t *testing.T, st *pool.Store, d pool.Digest) []byte {
	t.Helper()
	f, err := st.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDownload(t *testing.T) {
	data := payload(300000)
	srv, hdrs := rangeServer(t, data, nil)
	st := openPool(t)
	var last Progress
	s, _ := newSource(t, srv.URL, &Options{Progress: func(p Progress) { last = p }})
	sm := sums(data)
	delete(sm, "sha256") // only sha512: the digest is learnt from the bytes
	info, err := s.Download(context.Background(), st, DownloadRequest{Path: "pool/a.rpm", Size: int64(len(data)), Checksums: sm})
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != pool.Sum(data) || info.Size != int64(len(data)) || !bytes.Equal(readBlob(t, st, info.Digest), data) {
		t.Errorf("info %+v", info)
	}
	if last != (Progress{Path: "pool/a.rpm", Done: int64(len(data)), Total: int64(len(data))}) {
		t.Errorf("last progress %+v", last)
	}
	// Known digest already pooled: no request.
	n := len(*hdrs)
	again, err := s.Download(context.Background(), st, DownloadRequest{Path: "pool/a.rpm", Checksums: sums(data), Digest: info.Digest})
	if err != nil || again.Digest != info.Digest || again.Size != info.Size || len(*hdrs) != n {
		t.Errorf("second Download = %+v, %v with %d new requests", again, err, len(*hdrs)-n)
	}
}

func TestDownloadRefusesUntrustedChecksums(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	st := openPool(t)
	s, _ := newSource(t, srv.URL, nil)
	for name, cs := range map[string]map[string]string{
		"md5 only": {"md5": "d41d8cd98f00b204e9800998ecf8427e"},
		"empty":    {"sha256": ""},
		"none":     nil,
		"unknown":  {"crc32": "deadbeef"},
	} {
		_, err := s.Download(context.Background(), st, DownloadRequest{Path: "a.rpm", Checksums: cs})
		if !errors.Is(err, verify.ErrNoChecksum) {
			t.Errorf("%s: err = %v, want ErrNoChecksum", name, err)
		}
	}
	if n.Load() != 0 {
		t.Errorf("%d requests sent", n.Load())
	}
}

func TestDownloadWrongBytes(t *testing.T) {
	data := payload(5000)
	wrong := bytes.Clone(data)
	wrong[4000] ^= 0xff
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Write(wrong)
	}))
	defer srv.Close()
	st := openPool(t)
	s, _ := newSource(t, srv.URL, nil)
	_, err := s.Download(context.Background(), st, DownloadRequest{Path: "a.rpm", Size: int64(len(data)), Checksums: sums(data)})
	var ce *verify.ChecksumError
	if !errors.As(err, &ce) || ce.Algo != "sha512" {
		t.Fatalf("err = %v, want sha512 ChecksumError", err)
	}
	if n.Load() != 2 {
		t.Errorf("%d requests, want 2 (one retry after a mismatch)", n.Load())
	}
	if c := poolCount(t, st); c != 0 {
		t.Errorf("pool holds %d blobs", c)
	}
	// Nothing left to resume either: a good server now gets a plain request.
	good, hdrs := rangeServer(t, data, nil)
	s2, _ := newSource(t, good.URL, nil)
	if _, err := s2.Download(context.Background(), st, DownloadRequest{Path: "a.rpm", Size: int64(len(data)), Checksums: sums(data)}); err != nil {
		t.Fatal(err)
	}
	if r := (*hdrs)[0].Get("Range"); r != "" {
		t.Errorf("mismatched bytes were kept: resumed with %q", r)
	}
}

func TestDownloadWrongSize(t *testing.T) {
	data := payload(5000)
	srv, _ := rangeServer(t, data, nil)
	st := openPool(t)
	s, _ := newSource(t, srv.URL, nil)
	for _, size := range []int64{4999, 5001} {
		_, err := s.Download(context.Background(), st, DownloadRequest{Path: "a", Size: size, Checksums: sums(data)})
		var se *verify.SizeError
		if !errors.As(err, &se) {
			t.Errorf("size %d: err = %v, want SizeError", size, err)
		}
	}
	if c := poolCount(t, st); c != 0 {
		t.Errorf("pool holds %d blobs", c)
	}
}

func TestDownloadResumesMidBody(t *testing.T) {
	data := payload(400000)
	for name, fail := range map[string]func(int, http.ResponseWriter, *http.Request) bool{
		"reset": func(n int, w http.ResponseWriter, r *http.Request) bool {
			if n == 1 {
				dieMidBody(t, w, data, 123456, `"abc"`)
				return true
			}
			return false
		},
		"truncated": func(n int, w http.ResponseWriter, r *http.Request) bool {
			if n == 1 {
				w.Header().Set("Accept-Ranges", "bytes")
				w.Header().Set("ETag", `"abc"`)
				w.Header().Set("Content-Length", "400000")
				w.Write(data[:200000])
				w.(http.Flusher).Flush()
				return true
			}
			return false
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv, hdrs := rangeServer(t, data, fail)
			st := openPool(t)
			s, _ := newSource(t, srv.URL, nil)
			info, err := s.Download(context.Background(), st, DownloadRequest{Path: "big.iso", Size: int64(len(data)), Checksums: sums(data)})
			if err != nil {
				t.Fatal(err)
			}
			if info.Digest != pool.Sum(data) || !bytes.Equal(readBlob(t, st, info.Digest), data) {
				t.Fatalf("wrong blob %+v", info)
			}
			if len(*hdrs) != 2 {
				t.Fatalf("%d requests, want 2", len(*hdrs))
			}
			h := (*hdrs)[1]
			if !strings.HasPrefix(h.Get("Range"), "bytes=") || h.Get("Range") == "bytes=0-" || h.Get("If-Range") != `"abc"` {
				t.Errorf("resume sent Range %q If-Range %q", h.Get("Range"), h.Get("If-Range"))
			}
		})
	}
}

func TestDownloadResumesEarlierPartial(t *testing.T) {
	data := payload(400000)
	broken := true
	srv, hdrs := rangeServer(t, data, func(n int, w http.ResponseWriter, r *http.Request) bool {
		if broken { // a clean close after 150000 bytes: all of them arrive
			w.Header().Set("Accept-Ranges", "bytes")
			w.Header().Set("ETag", `"abc"`)
			w.Header().Set("Content-Length", "400000")
			w.Write(data[:150000])
			return true
		}
		return false
	})
	st := openPool(t)
	req := DownloadRequest{Path: "big.iso", Size: int64(len(data)), Checksums: sums(data)}
	s, _ := newSource(t, srv.URL, &Options{Retries: -1})
	if _, err := s.Download(context.Background(), st, req); err == nil {
		t.Fatal("first Download succeeded against a broken server")
	}
	if c := poolCount(t, st); c != 0 {
		t.Fatalf("pool holds %d blobs after a failed download", c)
	}
	broken = false
	s2, _ := newSource(t, srv.URL, nil)
	info, err := s2.Download(context.Background(), st, req)
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != pool.Sum(data) {
		t.Fatalf("digest %s", info.Digest)
	}
	last := (*hdrs)[len(*hdrs)-1]
	if got := last.Get("Range"); got != "bytes=150000-" {
		t.Errorf("second Download sent Range %q, want bytes=150000-", got)
	}
}

func TestDownloadRestartsWhenRangeIgnored(t *testing.T) {
	data := payload(100000)
	var n atomic.Int32
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ranges = append(ranges, r.Header.Get("Range"))
		if n.Add(1) == 1 {
			dieMidBody(t, w, data, 30000, `"abc"`) // claims ranges ...
			return
		}
		w.Write(data) // ... then ignores them
	}))
	defer srv.Close()
	st := openPool(t)
	s, _ := newSource(t, srv.URL, nil)
	info, err := s.Download(context.Background(), st, DownloadRequest{Path: "x", Size: int64(len(data)), Checksums: sums(data)})
	if err != nil || info.Digest != pool.Sum(data) || !bytes.Equal(readBlob(t, st, info.Digest), data) {
		t.Fatalf("Download = %+v, %v", info, err)
	}
	if len(ranges) != 2 || ranges[1] != "bytes=30000-" {
		t.Errorf("ranges sent %q", ranges)
	}
}

func TestDownloadRestartsOn416(t *testing.T) {
	data := payload(100000)
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ranges = append(ranges, r.Header.Get("Range"))
		if r.Header.Get("Range") != "" {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	st := openPool(t)
	sm := sums(data)
	// A partial from an earlier attempt, as the pool keeps it.
	w, err := st.Begin(context.Background(), pool.BeginRequest{ResumeKey: "sha512:" + sm["sha512"]})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:500])
	w.Abort()
	s, _ := newSource(t, srv.URL, nil)
	info, err := s.Download(context.Background(), st, DownloadRequest{Path: "x", Checksums: sm})
	if err != nil || info.Digest != pool.Sum(data) {
		t.Fatalf("Download = %+v, %v", info, err)
	}
	if len(ranges) != 2 || ranges[0] != "bytes=500-" || ranges[1] != "" {
		t.Errorf("ranges sent %q", ranges)
	}
}

func TestDownloadNotFound(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	s, _ := newSource(t, srv.URL, nil)
	_, err := s.Download(context.Background(), openPool(t), DownloadRequest{Path: "x", Checksums: sums(nil)})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

func TestFileSource(t *testing.T) {
	root := t.TempDir()
	data := payload(70000)
	os.MkdirAll(filepath.Join(root, "repo", "pool"), 0o755)
	os.WriteFile(filepath.Join(root, "repo", "pool", "a.deb"), data, 0o644)
	os.WriteFile(filepath.Join(root, "outside"), []byte("secret"), 0o644)
	os.Symlink(filepath.Join(root, "outside"), filepath.Join(root, "repo", "escape"))
	os.Symlink("a.deb", filepath.Join(root, "repo", "pool", "alias"))

	s, _ := newSource(t, "file://"+filepath.ToSlash(filepath.Join(root, "repo")), nil)
	ctx := context.Background()
	rc, err := s.Open(ctx, "pool/a.deb")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Error("Open returned other bytes")
	}
	res, err := s.Get(ctx, GetRequest{Path: "pool/alias", ETag: `"x"`, LastModified: "Mon, 02 Jan 2006 15:04:05 GMT"})
	if err != nil || res.NotModified || !bytes.Equal(res.Data, data) {
		t.Errorf("Get = %v", err)
	}
	if _, err := s.Get(ctx, GetRequest{Path: "pool/a.deb", MaxSize: 10}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Get over MaxSize: %v", err)
	}
	for _, p := range []string{"escape", "../outside", "nope"} {
		if _, err := s.Open(ctx, p); err == nil {
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	if _, err := s.Open(ctx, "nope"); !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := s.Open(ctx, "pool"); err == nil {
		t.Error("Open of a directory succeeded")
	}

	st := openPool(t)
	sm := sums(data)
	w, err := st.Begin(ctx, pool.BeginRequest{ResumeKey: "sha512:" + sm["sha512"]})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:1000])
	w.Abort()
	info, err := s.Download(ctx, st, DownloadRequest{Path: "pool/a.deb", Size: int64(len(data)), Checksums: sm})
	if err != nil || info.Digest != pool.Sum(data) || !bytes.Equal(readBlob(t, st, info.Digest), data) {
		t.Fatalf("file Download = %+v, %v", info, err)
	}
}

func TestDownloadBatch(t *testing.T) {
	data := payload(100000)
	srv, hdrs := rangeServer(t, data, nil)
	st := openPool(t)
	s, _ := newSource(t, srv.URL, nil)
	ctx := context.Background()
	b := st.NewBatch()
	defer b.Discard()
	req := DownloadRequest{Path: "pool/b.rpm", Size: int64(len(data)), Checksums: sums(data), Batch: b}
	info, err := s.Download(ctx, st, req)
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != pool.Sum(data) || info.Size != int64(len(data)) {
		t.Errorf("info %+v", info)
	}
	if ok, err := st.Has(info.Digest); ok || err != nil {
		t.Errorf("Has before Flush = %v, %v", ok, err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readBlob(t, st, info.Digest), data) {
		t.Error("flushed blob differs")
	}
	// Pooled now: no request.
	n := len(*hdrs)
	if again, err := s.Download(ctx, st, req); err != nil || again.Digest != info.Digest || len(*hdrs) != n {
		t.Errorf("second Download = %+v, %v with %d new requests", again, err, len(*hdrs)-n)
	}
	// Absent: the caller's word that the pool lacks it; fetched again, and
	// the pooled file stays.
	req.Absent, req.Digest = true, info.Digest
	if again, err := s.Download(ctx, st, req); err != nil || again.Digest != info.Digest || len(*hdrs) != n+1 {
		t.Errorf("Download with Absent = %+v, %v with %d new requests, want 1", again, err, len(*hdrs)-n)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readBlob(t, st, info.Digest), data) {
		t.Error("blob differs after a second flush")
	}
	// Nothing of the batch's files is left behind but the batch's directory.
	if err := b.Discard(); err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(filepath.Join(st.Root(), "tmp")); err != nil || len(ents) != 0 {
		t.Errorf("pool tmp/ after Discard: %v, %v", ents, err)
	}
}
