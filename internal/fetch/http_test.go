package fetch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	for _, base := range []string{"ftp://127.0.0.1/", "127.0.0.1/repo", "http:///x", "https://127.0.0.1/?token=x", "file://remote/x", ""} {
		if _, err := New(base, nil); err == nil {
			t.Errorf("New(%q): no error", base)
		}
	}
	s, err := New("https://user:s3cret@127.0.0.1:8443/repo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Base(), "https://127.0.0.1:8443/repo/"; got != want {
		t.Errorf("Base() = %q, want %q", got, want)
	}
	if s.auth.Type != "basic" || s.auth.Username != "user" || s.auth.Password != "s3cret" {
		t.Errorf("userinfo not taken as basic auth: %+v", s.auth)
	}
	for _, a := range []AuthOptions{{Type: "digest"}, {Type: "basic"}, {Type: "bearer"}, {Type: "custom"}, {Token: "t"}} {
		if _, err := New("https://127.0.0.1/", &Options{Auth: a}); err == nil {
			t.Errorf("auth %+v accepted", a)
		}
	}
}

func TestGetRetriesServerErrors(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			http.Error(w, "busy", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	s, sl := newSource(t, srv.URL, nil)
	res, err := s.Get(context.Background(), GetRequest{Path: "repodata/repomd.xml"})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Data) != "hello" || n.Load() != 2 || len(sl.all()) != 1 {
		t.Errorf("data %q after %d requests, %d pauses", res.Data, n.Load(), len(sl.all()))
	}
}

func TestGetGivesUpAfterRetries(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	s, _ := newSource(t, srv.URL, &Options{Retries: 2})
	_, err := s.Get(context.Background(), GetRequest{Path: "x"})
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusBadGateway || !he.Temporary() {
		t.Fatalf("err = %v, want HTTPError 502", err)
	}
	if n.Load() != 3 {
		t.Errorf("%d requests, want 3", n.Load())
	}
}

func TestNotFound(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	s, _ := newSource(t, srv.URL, nil)
	_, err := s.Open(context.Background(), "missing.rpm")
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if n.Load() != 1 {
		t.Errorf("404 retried: %d requests", n.Load())
	}
}

func TestRetryAfter(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.Header().Set("Retry-After", "86400")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	s, sl := newSource(t, srv.URL, &Options{Backoff: func(int) time.Duration { return time.Millisecond }})
	res, err := s.Get(context.Background(), GetRequest{Path: "x"})
	if err != nil || string(res.Data) != "ok" {
		t.Fatalf("Get = %v, %v", res, err)
	}
	got := sl.all()
	if len(got) != 2 || got[0] != 7*time.Second || got[1] != maxRetryAfter {
		t.Errorf("pauses %v, want [7s %v]", got, maxRetryAfter)
	}
}

func TestTimeoutRetried(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select { // never answers in time
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, "late but fine")
	}))
	defer srv.Close()
	s, _ := newSource(t, srv.URL, &Options{Timeout: 50 * time.Millisecond})
	res, err := s.Get(context.Background(), GetRequest{Path: "x"})
	if err != nil || string(res.Data) != "late but fine" {
		t.Fatalf("Get = %v, %v", res, err)
	}
}

func TestConditionalGet(t *testing.T) {
	const etag = `"v1"`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "<repomd/>")
	}))
	defer srv.Close()
	s, _ := newSource(t, srv.URL, nil)
	ctx := context.Background()
	first, err := s.Get(ctx, GetRequest{Path: "repomd.xml"})
	if err != nil || first.NotModified || string(first.Data) != "<repomd/>" || first.ETag != etag {
		t.Fatalf("first Get = %+v, %v", first, err)
	}
	second, err := s.Get(ctx, GetRequest{Path: "repomd.xml", ETag: first.ETag})
	if err != nil || !second.NotModified || second.Data != nil || second.ETag != etag {
		t.Fatalf("second Get = %+v, %v", second, err)
	}
}

func TestGetTooLarge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length
		}
		w.Write(make([]byte, 100))
	}))
	defer srv.Close()
	s, _ := newSource(t, srv.URL, nil)
	for _, p := range []string{"sized", "chunked"} {
		if _, err := s.Get(context.Background(), GetRequest{Path: p, MaxSize: 99}); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrTooLarge", p, err)
		}
		if res, err := s.Get(context.Background(), GetRequest{Path: p, MaxSize: 100}); err != nil || len(res.Data) != 100 {
			t.Errorf("%s at the limit: %v", p, err)
		}
	}
}

func TestGetTruncatedRetried(t *testing.T) {
	data := payload(10000)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10000")
		if n.Add(1) == 1 {
			w.Write(data[:3000]) // handler returns: the server closes, body truncated
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	s, _ := newSource(t, srv.URL, nil)
	res, err := s.Get(context.Background(), GetRequest{Path: "x"})
	if err != nil || !bytes.Equal(res.Data, data) || n.Load() != 2 {
		t.Fatalf("Get: %v after %d requests", err, n.Load())
	}
}

// rangeServer serves data with ranges and an ETag; fail decides per request
// number whether to break the response instead.
func rangeServer(t *testing.T, data []byte, fail func(n int, w http.ResponseWriter, r *http.Request) bool) (*httptest.Server, *[]http.Header) {
	var (
		mu   sync.Mutex
		hdrs []http.Header
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hdrs = append(hdrs, r.Header.Clone())
		n := len(hdrs)
		mu.Unlock()
		if fail != nil && fail(n, w, r) {
			return
		}
		w.Header().Set("ETag", `"abc"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)
	return srv, &hdrs
}

func TestOpenResumesAfterReset(t *testing.T) {
	data := payload(200000)
	srv, hdrs := rangeServer(t, data, func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			dieMidBody(t, w, data, 70000, `"abc"`)
			return true
		}
		return false
	})
	var last Progress
	s, _ := newSource(t, srv.URL, &Options{Progress: func(p Progress) { last = p }})
	rc, err := s.Open(context.Background(), "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAll: %v, %d bytes", err, len(got))
	}
	if len(*hdrs) != 2 {
		t.Fatalf("%d requests, want 2", len(*hdrs))
	}
	h := (*hdrs)[1]
	if h.Get("Range") != "bytes=70000-" || h.Get("If-Range") != `"abc"` {
		t.Errorf("resume sent Range %q If-Range %q", h.Get("Range"), h.Get("If-Range"))
	}
	if last.Done != int64(len(data)) || last.Total != int64(len(data)) || last.Path != "big.bin" {
		t.Errorf("last progress %+v", last)
	}
}

func TestOpenChangedDuringResume(t *testing.T) {
	data := payload(50000)
	srv, _ := rangeServer(t, data, func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			dieMidBody(t, w, data, 1000, `"old"`)
			return true
		}
		return false // ETag "abc" now: If-Range fails, a 200 comes back
	})
	s, _ := newSource(t, srv.URL, nil)
	rc, err := s.Open(context.Background(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, ErrChanged) {
		t.Fatalf("err = %v, want ErrChanged", err)
	}
}

func TestOpenNoRangesReturnsError(t *testing.T) {
	data := payload(50000)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		dieMidBody(t, w, data, 1000, "") // no Accept-Ranges, no ETag
	}))
	defer srv.Close()
	s, _ := newSource(t, srv.URL, nil)
	rc, err := s.Open(context.Background(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err == nil || len(got) != 1000 || n.Load() != 1 {
		t.Fatalf("ReadAll = %d bytes, %v after %d requests; want an error after 1000 bytes and 1 request", len(got), err, n.Load())
	}
}

func TestOpenPathRejectedBeforeRequest(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	s, _ := newSource(t, srv.URL+"/repo", nil)
	for _, p := range []string{"../etc/passwd", "/etc/passwd", `a\b`, "a/../../b", "a\x00b", ""} {
		if _, err := s.Open(context.Background(), p); !errors.Is(err, ErrPath) {
			t.Errorf("Open(%q): err = %v, want ErrPath", p, err)
		}
	}
	if n.Load() != 0 {
		t.Errorf("%d requests sent", n.Load())
	}
}

func TestPathEscapedInURL(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.URL.EscapedPath() + "|" + r.URL.RawQuery }))
	defer srv.Close()
	s, _ := newSource(t, srv.URL+"/repo", nil)
	if _, err := s.Get(context.Background(), GetRequest{Path: "pool/a b?c=d#e%2F..%2Fx"}); err != nil {
		t.Fatal(err)
	}
	if want := "/repo/pool/a%20b%3Fc=d%23e%252F..%252Fx|"; got != want {
		t.Errorf("server saw %q, want %q", got, want)
	}
}

func TestCleanPath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"repodata/repomd.xml", "repodata/repomd.xml", true},
		{"./a//b/./c", "a/b/c", true},
		{"dists/stable/", "dists/stable", true},
		{"a..b/c..", "a..b/c..", true},
		{"..", "", false},
		{"../x", "", false},
		{"a/../x", "", false},
		{"a/..", "", false},
		{"/abs", "", false},
		{`win\path`, "", false},
		{"nul\x00", "", false},
		{"new\nline", "", false},
		{"", "", false},
		{".", "", false},
		{"./", "", false},
	} {
		got, err := cleanPath(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("cleanPath(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrPath) {
			t.Errorf("cleanPath(%q): %v does not wrap ErrPath", tc.in, err)
		}
	}
}

func TestParallelBound(t *testing.T) {
	var cur, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := cur.Add(1)
		for {
			p := peak.Load()
			if c <= p || peak.CompareAndSwap(p, c) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
		io.WriteString(w, "x")
	}))
	defer srv.Close()
	s, _ := newSource(t, srv.URL, &Options{Parallel: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 12 {
		wg.Go(func() {
			if i%2 == 0 {
				_, err := s.Get(context.Background(), GetRequest{Path: "x"})
				errs <- err
				return
			}
			rc, err := s.Open(context.Background(), "y")
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p := peak.Load(); p > 2 || p < 1 {
		t.Errorf("peak concurrency %d, want at most 2", p)
	}
}

// countingLimiter admits everything at once and records what it was asked.
type countingLimiter struct {
	burst int
	mu    sync.Mutex
	waits int
	bytes int64
	over  bool
}

func (l *countingLimiter) WaitN(ctx context.Context, n int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waits++
	l.bytes += int64(n)
	if n > l.burst {
		l.over = true
	}
	return nil
}

func (l *countingLimiter) Burst() int { return l.burst }

func TestRateLimit(t *testing.T) {
	data := payload(100000)
	srv, _ := rangeServer(t, data, nil)
	s, _ := newSource(t, srv.URL, &Options{RateLimit: 4096})
	if s.limit == nil || s.limit.Burst() != 4096 {
		t.Fatalf("limiter not built from RateLimit: %#v", s.limit)
	}
	l := &countingLimiter{burst: 4096}
	s.limit = l
	res, err := s.Get(context.Background(), GetRequest{Path: "x"})
	if err != nil || !bytes.Equal(res.Data, data) {
		t.Fatal(err)
	}
	st := openPool(t)
	if _, err := s.Download(context.Background(), st, DownloadRequest{Path: "y", Size: int64(len(data)), Checksums: sums(data)}); err != nil {
		t.Fatal(err)
	}
	if l.bytes != 2*int64(len(data)) || l.over || l.waits < 2*len(data)/4096 {
		t.Errorf("limiter saw %d bytes in %d waits (over burst: %v), want %d", l.bytes, l.waits, l.over, 2*len(data))
	}
	if s2, _ := newSource(t, srv.URL, nil); s2.limit != nil {
		t.Error("limiter without RateLimit")
	}
}

func TestErrorsAndLogsCarryNoSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	var logs bytes.Buffer
	u := strings.Replace(srv.URL, "http://", "http://alice:pw-s3cret@", 1)
	s, _ := newSource(t, u, &Options{Retries: 1, Logger: newTextLogger(&logs)})
	_, err := s.Get(context.Background(), GetRequest{Path: "x"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, text := range []string{err.Error(), logs.String(), s.Base()} {
		if strings.Contains(text, "pw-s3cret") || strings.Contains(text, "alice") {
			t.Errorf("secret leaked: %s", text)
		}
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Errorf("no retry logged: %q", logs.String())
	}
}

func TestDefaultBackoff(t *testing.T) {
	for attempt := 1; attempt < 70; attempt++ {
		want := min(backoffBase<<min(attempt-1, 20), backoffCap)
		if d := defaultBackoff(attempt); d < want/2 || d >= want {
			t.Errorf("defaultBackoff(%d) = %v, want in [%v, %v)", attempt, d, want/2, want)
		}
	}
}

func TestParseHeaders(t *testing.T) {
	for v, want := range map[string][3]int64{
		"bytes 10-19/20": {10, 20, 1}, "bytes 10-19/*": {10, -1, 1}, "bytes 10-19/15": {0, 0, 0},
		"bytes 20-10/30": {0, 0, 0}, "items 1-2/3": {0, 0, 0}, "bytes -1-2/3": {0, 0, 0}, "": {0, 0, 0},
	} {
		start, total, ok := parseContentRange(v)
		if ok != (want[2] == 1) || ok && (start != want[0] || total != want[1]) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v", v, start, total, ok)
		}
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"3": 3 * time.Second, "0": 0, "-4": 0, "soon": 0, "": 0, "999999": maxRetryAfter,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
