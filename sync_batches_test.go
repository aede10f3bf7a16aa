package chantal_test

import (
	"fmt"
	"testing"

	"github.com/chantal-lite/chantal"
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
