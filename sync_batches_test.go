package chantal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/pool"
)

// TestSyncManyBatches syncs more items than one catalog batch holds (they are
// stored and slimmed while the scan goes on), with a per-item filter and
// only_latest_n: the kept set is exact, every item reaches the state, and an
// unchanged upstream then syncs as unchanged.
func TestSyncManyBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("syncs 5,000 payloads")
	}
	up := newUpstream(t)
	const n = 5000
	for i := range n {
		name := fmt.Sprintf("p%05d", i)
		up.add(name, "1.0")
		if i%10 == 0 {
			up.add(name, "2.0") // only_latest_n keeps this one
		}
	}
	up.add("skip-me", "1.0")
	m := testMirror(t, up.srv.URL, `    filters:
      patterns: {exclude: ["^skip-"]}
      post_processing: {only_latest_n_versions: 1}`)
	rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if rr.Err != nil || len(rr.Failed) > 0 {
		t.Fatalf("sync: %v, failed %v", rr.Err, rr.Failed)
	}
	if rr.Wanted != n || len(rr.Added) != n || rr.Downloaded != n {
		t.Fatalf("wanted %d, added %d, downloaded %d; want %d each", rr.Wanted, len(rr.Added), rr.Downloaded, n)
	}
	for _, c := range rr.Added {
		var i int
		fmt.Sscanf(c.Name, "p%05d", &i)
		want := "1.0"
		if i%10 == 0 {
			want = "2.0"
		}
		if c.New != want || c.Name == "skip-me" {
			t.Fatalf("added %s %s, want version %s", c.Name, c.New, want)
		}
	}
	again := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if !again.Unchanged || again.State != rr.State {
		t.Fatalf("second sync: unchanged %v, state %s (was %s)", again.Unchanged, again.State, rr.State)
	}
}

// TestSyncPrefetch syncs a repository whose payloads download while the scan
// goes on (no retention policy, no filter over all items): each is fetched
// exactly once and counted once, and the result reports every one.
func TestSyncPrefetch(t *testing.T) {
	if testing.Short() {
		t.Skip("syncs 3,000 payloads")
	}
	up := newUpstream(t)
	const n = 3000
	var paths []string
	for i := range n {
		paths = append(paths, up.add(fmt.Sprintf("q%05d", i), "1.0"))
	}
	var added, late atomic.Int64
	m := testMirror(t, up.srv.URL, "", chantal.WithReporter(chantal.ReporterFunc(func(e chantal.Event) {
		switch e.Kind {
		case chantal.ItemAdded:
			added.Add(1)
		case chantal.FetchStarted: // a download after the scan
			late.Add(1)
		}
	})))
	rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if rr.Err != nil || len(rr.Failed) > 0 || rr.Wanted != n || len(rr.Added) != n || rr.Downloaded != n {
		t.Fatalf("sync: err %v, failed %d, wanted %d, added %d, downloaded %d; want %d", rr.Err, len(rr.Failed), rr.Wanted, len(rr.Added), rr.Downloaded, n)
	}
	if added.Load() != n {
		t.Errorf("%d ItemAdded events, want %d", added.Load(), n)
	}
	if late.Load() != 0 {
		t.Errorf("%d payloads downloaded after the scan, want all prefetched", late.Load())
	}
	var bytes int64
	for _, p := range paths {
		if c := up.count(p); c != 1 {
			t.Fatalf("%s requested %d times, want once", p, c)
		}
		bytes += int64(len(up.pkgs[p]))
	}
	if rr.Bytes != bytes {
		t.Errorf("result reports %d bytes, want %d", rr.Bytes, bytes)
	}
}

// TestSyncPrefetchPrunedItems syncs payloads whose items GC pruned while
// their blobs stayed in the pool (inside the grace window): the prefetcher
// fetches such items' payloads without looking into the pool first, and the
// group commit keeps the blobs already there.
func TestSyncPrefetchPrunedItems(t *testing.T) {
	up := newUpstream(t)
	const n = 50
	var paths []string
	for i := range n {
		paths = append(paths, up.add(fmt.Sprintf("r%03d", i), "1.0"))
	}
	m := testMirror(t, up.srv.URL, "")
	ctx := context.Background()
	if rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}}); rr.Err != nil || rr.Downloaded != n {
		t.Fatalf("first sync: err %v, downloaded %d", rr.Err, rr.Downloaded)
	}
	inodes := map[string]uint64{}
	for _, p := range paths {
		d := pool.Sum(up.pkgs[p])
		fi, err := os.Stat(m.Pool().Path(d))
		if err != nil {
			t.Fatal(err)
		}
		inodes[p] = fi.Sys().(*syscall.Stat_t).Ino
	}
	for _, p := range paths {
		up.remove(p)
	}
	if rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}}); rr.Err != nil || len(rr.Removed) != n {
		t.Fatalf("emptying sync: err %v, removed %d", rr.Err, len(rr.Removed))
	}
	gc, err := m.GC(ctx, chantal.GCRequest{Grace: time.Hour})
	if err != nil || gc.PrunedItems != n || gc.Removed != 0 {
		t.Fatalf("GC: %+v, %v; want %d items pruned, no blob removed", gc, err, n)
	}
	for i := range n {
		up.add(fmt.Sprintf("r%03d", i), "1.0")
	}
	rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if rr.Err != nil || len(rr.Failed) > 0 || len(rr.Added) != n {
		t.Fatalf("sync after GC: err %v, failed %v, added %d", rr.Err, rr.Failed, len(rr.Added))
	}
	for _, p := range paths {
		// Fetched again: the pool was not asked (the item was new to the
		// catalog); this download is the one the test is about.
		if c := up.count(p); c != 2 {
			t.Errorf("%s requested %d times, want twice", p, c)
		}
		d := pool.Sum(up.pkgs[p])
		fi, err := os.Stat(m.Pool().Path(d))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Sys().(*syscall.Stat_t).Ino != inodes[p] {
			t.Errorf("%s: blob replaced, want the one in the pool kept", p)
		}
	}
	entries, err := os.ReadDir(filepath.Join(m.Pool().Root(), "tmp"))
	if err != nil || len(entries) != 0 {
		t.Errorf("tmp/ holds %d entries (%v), want none", len(entries), err)
	}
}

// TestSyncPrefetchParallelBound checks that the prefetcher, which runs more
// goroutines than download.parallel (so that file work does not leave a
// request slot empty), never has more than download.parallel requests in
// flight.
func TestSyncPrefetchParallelBound(t *testing.T) {
	up := newUpstream(t)
	const n = 400
	for i := range n {
		up.add(fmt.Sprintf("b%04d", i), "1.0")
	}
	var inFlight, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		if strings.HasPrefix(r.URL.Path, "/pkgs/") {
			time.Sleep(time.Millisecond) // let requests overlap
		}
		up.serve(w, r)
	}))
	t.Cleanup(srv.Close)
	m := testMirror(t, srv.URL, "") // download.parallel 4
	rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if rr.Err != nil || len(rr.Failed) > 0 || rr.Downloaded != n {
		t.Fatalf("sync: err %v, failed %d, downloaded %d; want %d", rr.Err, len(rr.Failed), rr.Downloaded, n)
	}
	if p := peak.Load(); p > 4 || p < 2 {
		t.Errorf("at most %d requests in flight, want 2 to 4 (download.parallel)", p)
	}
}
