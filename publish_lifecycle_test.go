package chantal_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/internal/lock"
	"github.com/chantal-lite/chantal/publish"
)

func TestPublishListRollbackUnpublish(t *testing.T) {
	u := newUpstream(t)
	u.add("a", "1.0")
	m := testMirror(t, u.srv.URL, "")
	ctx := context.Background()
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	first, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	tree1 := readTree(t, first.Target)
	u.add("b", "1.0")
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	second, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if second.Linked != 1 || second.Ops > 20 {
		t.Errorf("one-item change linked %d, cost %d ops", second.Linked, second.Ops)
	}
	ps, err := m.Publications(ctx)
	if err != nil || len(ps) != 1 || ps[0].Kind != chantal.KindRepo || ps[0].Name != "r1" || ps[0].Version != second.Version || ps[0].Versions != 2 || ps[0].State != second.State {
		t.Fatalf("Publications = %+v, %v", ps, err)
	}

	rb, err := m.Rollback(ctx, "r1") // relative to the published path
	if err != nil {
		t.Fatal(err)
	}
	if rb.Version != first.Version || rb.State != first.State {
		t.Errorf("rollback to %s (state %s), want %s (%s)", rb.Version, rb.State, first.Version, first.State)
	}
	got := readTree(t, first.Target)
	for p, b := range tree1 {
		if got[p] != b {
			t.Errorf("after rollback %s differs", p)
		}
	}
	// The newer payload stays until the next publish (readers of the newer
	// index may still fetch it), but the served index no longer names it.
	if _, ok := got["pkgs/b-1.0.noarch.pkg"]; !ok {
		t.Errorf("rollback removed the newer payload at once")
	}
	if strings.Contains(got["index.txt"], "pkgs/b-1.0.noarch.pkg") {
		t.Errorf("rolled-back index still names the newer payload")
	}
	if _, err := m.Rollback(ctx, first.Target); !errors.Is(err, publish.ErrNoPrevious) {
		t.Errorf("second rollback: %v, want ErrNoPrevious", err)
	}
	if ps, _ := m.Publications(ctx); len(ps) != 1 || ps[0].Version != first.Version || ps[0].Versions != 1 {
		t.Errorf("record after rollback: %+v", ps)
	}

	// A second publish to a locked target fails clearly with ErrBusy.
	l, err := lock.Acquire(ctx, lock.Request{Path: filepath.Join(first.Target, ".versions", ".lock")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Publish(ctx, chantal.PublishRequest{Repo: "r1"})
	l.Unlock()
	if !errors.Is(err, chantal.ErrBusy) {
		t.Errorf("publish to a locked target: %v, want ErrBusy", err)
	}

	if err := m.Unpublish(ctx, first.Target); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(first.Target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unpublish left %s: %v", first.Target, err)
	}
	if ps, _ := m.Publications(ctx); len(ps) != 0 {
		t.Errorf("records after unpublish: %+v", ps)
	}
}

func TestPublishKeepVersions(t *testing.T) {
	u := newUpstream(t)
	m := testMirror(t, u.srv.URL, "publish: {keep_versions: 1}\n")
	ctx := context.Background()
	for i, v := range []string{"1", "2", "3"} {
		u.add("a", v)
		mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
		pub, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1"})
		if err != nil {
			t.Fatal(err)
		}
		vs, err := publish.Versions(pub.Target)
		if err != nil || len(vs) != min(i+1, 2) {
			t.Errorf("publish %d: %d versions kept (%v), want %d", i, len(vs), err, min(i+1, 2))
		}
	}
}

// TestRollbackServedAtomically polls the published tree over HTTP while it
// is published and rolled back again and again: every response is a whole
// index of one version, and every payload an index names is there.
func TestRollbackServedAtomically(t *testing.T) {
	u := newUpstream(t)
	u.add("a", "1.0")
	m := testMirror(t, u.srv.URL, "")
	ctx := context.Background()
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	v1, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	idx1, _ := os.ReadFile(filepath.Join(v1.Target, "index.txt"))
	u.add("b", "1.0")
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if _, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1"}); err != nil {
		t.Fatal(err)
	}
	idx2, _ := os.ReadFile(filepath.Join(v1.Target, "index.txt"))
	if string(idx1) == string(idx2) {
		t.Fatal("the two versions have the same index")
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(v1.Target)))
	t.Cleanup(srv.Close)

	var done atomic.Bool
	errc := make(chan error, 1)
	go func() {
		defer done.Store(true)
		for range 15 {
			if _, err := m.Rollback(ctx, v1.Target); err != nil {
				errc <- err
				return
			}
			if _, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1"}); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	get := func(p string) (int, string) {
		resp, err := http.Get(srv.URL + "/" + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	seen := map[string]int{}
	for i := 0; i < 5000 && (!done.Load() || i < 20); i++ {
		code, body := get("index.txt")
		switch {
		case code != http.StatusOK:
			t.Fatalf("poll %d: index.txt answered %d", i, code)
		case body == string(idx1):
			seen["v1"]++
		case body == string(idx2):
			seen["v2"]++
		default:
			t.Fatalf("poll %d: index.txt is neither version:\n%s", i, body)
		}
		// Every payload the index just read names is there: the kept
		// version's always, and the rolled-back version's until the next
		// publish drops it.
		for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
			f := strings.Fields(line)
			if code, _ := get(f[2]); code != http.StatusOK {
				t.Fatalf("poll %d: payload %s named by the index just read answered %d", i, f[2], code)
			}
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Logf("polls saw %v", seen)
}
