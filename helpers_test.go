package chantal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/config"
	testformat "github.com/chantal-lite/chantal/formats/formattest/lines"
)

// upstream is an HTTP repository of the test format with fault injection.
type upstream struct {
	t    testing.TB
	mu   sync.Mutex
	pkgs map[string][]byte
	// broken paths answer 500 forever.
	broken map[string]bool
	// requests counts requests per path.
	requests map[string]int
	srv      *httptest.Server
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{t: t, pkgs: map[string][]byte{}, broken: map[string]bool{}, requests: map[string]int{}}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) add(name, version string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := fmt.Sprintf("pkgs/%s-%s.noarch.pkg", name, version)
	u.pkgs[p] = testformat.Payload(name, version, "noarch")
	return p
}

func (u *upstream) remove(p string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.pkgs, p)
}

func (u *upstream) index() []byte {
	return testformat.Build(u.pkgs, func(p string) (string, string, string) {
		base := strings.TrimSuffix(filepath.Base(p), ".noarch.pkg")
		i := strings.LastIndex(base, "-")
		return base[:i], base[i+1:], "noarch"
	})
}

func (u *upstream) count(p string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.requests[p]
}

func (u *upstream) total() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, c := range u.requests {
		n += c
	}
	return n
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	p := strings.TrimPrefix(r.URL.Path, "/")
	u.requests[p]++
	var body []byte
	ok := true
	switch {
	case u.broken[p]:
		u.mu.Unlock()
		http.Error(w, "broken", http.StatusInternalServerError)
		return
	case p == testformat.Index:
		body = u.index()
	default:
		body, ok = u.pkgs[p]
	}
	u.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	etag := fmt.Sprintf(`"%d-%x"`, len(body), sumBytes(body))
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(body)
}

func sumBytes(b []byte) uint32 {
	var h uint32 = 2166136261
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

// testMirror opens a Mirror over a temp data directory with a config naming
// one repository "r1" of the test format at feed, plus extra YAML for it.
func testMirror(t testing.TB, feed, extra string, opts ...chantal.Option) *chantal.Mirror {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`
storage:
  base_path: %s
  published_path: %s
download: {parallel: 4, retries: 1, timeout: 10s}
repositories:
  - id: r1
    type: lines
    feed: %s
%s
`, filepath.Join(dir, "data"), filepath.Join(dir, "pub"), feed, extra)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	opts = append([]chantal.Option{chantal.WithConfig(cfg), chantal.WithFormats(testformat.Format{}), chantal.WithNoSync()}, opts...)
	m, err := chantal.Open("", opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func mustSync(t testing.TB, m *chantal.Mirror, req chantal.SyncRequest) chantal.RepoSyncResult {
	t.Helper()
	res, err := m.Sync(context.Background(), req)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if len(res.Repos) != 1 {
		t.Fatalf("Sync returned %d repos", len(res.Repos))
	}
	return res.Repos[0]
}
