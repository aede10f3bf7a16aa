package chantal_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chantal-lite/chantal"
	testformat "github.com/chantal-lite/chantal/formats/formattest/lines"
)

// metaUpstream serves the test format with payload names chosen per path.
type metaUpstream struct {
	mu   sync.Mutex
	pkgs map[string][]byte
	meta map[string][3]string
	srv  *httptest.Server
}

func newMetaUpstream(t *testing.T, n int) *metaUpstream {
	u := &metaUpstream{pkgs: map[string][]byte{}, meta: map[string][3]string{}}
	for i := range n {
		p := fmt.Sprintf("pkgs/p%05d.pkg", i)
		u.pkgs[p] = testformat.Payload(fmt.Sprintf("p%05d", i), "1.0", "noarch")
		u.meta[p] = [3]string{fmt.Sprintf("p%05d", i), "1.0", "noarch"}
	}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		defer u.mu.Unlock()
		p := strings.TrimPrefix(r.URL.Path, "/")
		if p == testformat.Index {
			w.Write(testformat.Build(u.pkgs, func(p string) (string, string, string) {
				m := u.meta[p]
				return m[0], m[1], m[2]
			}))
			return
		}
		b, ok := u.pkgs[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func cacheFiles(t *testing.T, m *chantal.Mirror) map[string]time.Time {
	t.Helper()
	dir := filepath.Join(filepath.Dir(m.PublishedPath()), "data", "cache", "render")
	out := map[string]time.Time{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			out[p] = fi.ModTime()
		}
		return nil
	})
	return out
}

// TestPublishRenderCache: a republish renders only changed segments and
// gives the same bytes as a publish with no cache at all.
func TestPublishRenderCache(t *testing.T) {
	ctx := context.Background()
	up := newMetaUpstream(t, 3000)
	m := testMirror(t, up.srv.URL, "")
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	res, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	first := cacheFiles(t, m)
	if len(first) < 3000/1024*2 {
		t.Fatalf("first publish cached %d entries", len(first))
	}
	index := func(target string) string {
		b, err := os.ReadFile(filepath.Join(target, testformat.Index))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := strings.Count(index(res.Target), "\n"); got != 3000 {
		t.Fatalf("published %d lines", got)
	}

	// New bytes at one path.
	up.mu.Lock()
	up.pkgs["pkgs/p01500.pkg"] = testformat.Payload("renamed", "2.0", "noarch")
	up.meta["pkgs/p01500.pkg"] = [3]string{"renamed", "2.0", "noarch"}
	up.mu.Unlock()
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	res2, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	got := index(res2.Target)
	if !strings.Contains(got, " pkgs/p01500.pkg renamed 2.0 noarch\n") || strings.Contains(got, "p01500 1.0") {
		t.Fatal("republish after a change kept the old line")
	}
	added := 0
	for p := range cacheFiles(t, m) {
		if _, ok := first[p]; !ok {
			added++
		}
	}
	if added == 0 || added > 4 {
		t.Fatalf("a one-record change added %d cache entries; want those of one segment", added)
	}

	// The cache gone: a publish elsewhere renders everything and gives
	// the same bytes.
	os.RemoveAll(filepath.Join(filepath.Dir(m.PublishedPath()), "data", "cache"))
	other := filepath.Join(t.TempDir(), "other")
	res3, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1", Target: other})
	if err != nil {
		t.Fatal(err)
	}
	if index(res3.Target) != got {
		t.Fatal("a publish without cache differs from the cached one")
	}

	// GC keeps entries used this week and removes older ones.
	gcRes, err := m.GC(ctx, chantal.GCRequest{})
	if err != nil || gcRes.CacheRemoved != 0 {
		t.Fatalf("GC of a fresh cache: removed %d, %v", gcRes.CacheRemoved, err)
	}
	old := time.Now().Add(-8 * 24 * time.Hour)
	files := cacheFiles(t, m)
	for p := range files {
		os.Chtimes(p, old, old)
	}
	gcRes, err = m.GC(ctx, chantal.GCRequest{})
	if err != nil || gcRes.CacheRemoved != len(files) {
		t.Fatalf("GC of an old cache: removed %d of %d, %v", gcRes.CacheRemoved, len(files), err)
	}
}

// TestPublishRenderCacheDamaged: a cache entry overwritten with garbage
// is noticed and rendered again.
func TestPublishRenderCacheDamaged(t *testing.T) {
	ctx := context.Background()
	up := newMetaUpstream(t, 1500)
	m := testMirror(t, up.srv.URL, "")
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	res, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(res.Target, testformat.Index))
	if err != nil {
		t.Fatal(err)
	}
	for p := range cacheFiles(t, m) {
		if !strings.HasSuffix(p, ".idx") {
			os.WriteFile(p, []byte("garbage that is not a cache entry"), 0o644)
		}
	}
	other := filepath.Join(t.TempDir(), "other")
	res2, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1", Target: other})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(res2.Target, testformat.Index))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("publish over a damaged cache: %v, same bytes %v", err, bytes.Equal(got, want))
	}
}
