package chantal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/chantal-lite/chantal"
	testformat "github.com/chantal-lite/chantal/formats/formattest/lines"
)

func TestSyncPublishLifecycle(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	a1 := up.add("alpha", "1.0")
	b1 := up.add("beta", "2.0")
	m := testMirror(t, up.srv.URL, "")

	// First sync downloads everything.
	rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if rr.Err != nil || len(rr.Added) != 2 || rr.Downloaded != 2 || rr.Unchanged {
		t.Fatalf("first sync: %+v", rr)
	}
	if up.count(a1) != 1 || up.count(b1) != 1 {
		t.Fatalf("payload requests: %d, %d", up.count(a1), up.count(b1))
	}

	// Unchanged upstream: one conditional request, nothing else.
	before := up.total()
	rr = mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if !rr.Unchanged || rr.Err != nil {
		t.Fatalf("no-op sync: %+v", rr)
	}
	if n := up.total() - before; n != 1 {
		t.Fatalf("no-op sync made %d requests, want 1", n)
	}

	// Upstream moves on: one removed, one updated, one added.
	up.remove(a1)
	up.add("alpha", "1.1")
	up.add("gamma", "0.1")
	rr = mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if len(rr.Updated) != 1 || rr.Updated[0].Name != "alpha" || rr.Updated[0].Old != "1.0" || rr.Updated[0].New != "1.1" {
		t.Errorf("updated = %+v", rr.Updated)
	}
	if len(rr.Added) != 1 || rr.Added[0].Name != "gamma" || len(rr.Removed) != 0 {
		t.Errorf("added = %+v removed = %+v", rr.Added, rr.Removed)
	}
	if rr.Downloaded != 2 {
		t.Errorf("downloaded %d, want 2 (beta is already in the pool)", rr.Downloaded)
	}
	info, err := m.Repo(ctx, "r1")
	if err != nil || info.Items != 3 || !info.Synced {
		t.Fatalf("Repo = %+v, %v", info, err)
	}

	// Publish: payload hard links plus rendered metadata and the public key.
	pub, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1"})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	idx, err := os.ReadFile(filepath.Join(pub.Target, testformat.Index))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(idx), "\n"); got != 3 {
		t.Errorf("published index has %d lines:\n%s", got, idx)
	}
	if _, err := os.Stat(filepath.Join(pub.Target, testformat.Index+".asc")); err != nil {
		t.Errorf("signature missing: %v", err)
	}
	if _, err := os.Stat(filepath.Join(m.PublishedPath(), "key.asc")); err != nil {
		t.Errorf("key.asc missing: %v", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(pub.Target, b1), &st); err != nil || st.Nlink < 2 {
		t.Errorf("payload is not a hard link into the pool: nlink=%d err=%v", st.Nlink, err)
	}
	again, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1"})
	if err != nil || !again.Unchanged {
		t.Errorf("republish of an unchanged state: %+v, %v", again, err)
	}

	// History records every run, newest first.
	runs, err := m.History(ctx, "r1", 0)
	if err != nil || len(runs) != 3 || runs[0].Status != "success" || runs[1].Status != "unchanged" {
		t.Errorf("history = %+v, %v", runs, err)
	}
}

func TestSyncPartialFailure(t *testing.T) {
	up := newUpstream(t)
	up.add("alpha", "1.0")
	bad := up.add("beta", "1.0")
	up.broken[bad] = true
	m := testMirror(t, up.srv.URL, "")
	res, err := m.Sync(context.Background(), chantal.SyncRequest{Repos: []string{"r1"}})
	if err != nil {
		t.Fatal(err)
	}
	rr := res.Repos[0]
	if len(rr.Failed) != 1 || rr.Failed[0].Path != bad || len(rr.Added) != 1 {
		t.Fatalf("result: %+v", rr)
	}
	if !errors.Is(res.Err(), chantal.ErrPartial) {
		t.Fatalf("Err() = %v, want ErrPartial", res.Err())
	}
	// Once upstream is fixed, the next sync fetches only the missing item.
	delete(up.broken, bad)
	rr = mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if len(rr.Failed) != 0 || rr.Downloaded != 1 || len(rr.Added) != 1 {
		t.Fatalf("retry: %+v", rr)
	}
}

func TestSyncFiltersAndLatestN(t *testing.T) {
	up := newUpstream(t)
	up.add("alpha", "1.0")
	up.add("alpha", "1.2")
	up.add("alpha", "1.10")
	up.add("alpha-debug", "1.0")
	up.add("beta", "1.0")
	m := testMirror(t, up.srv.URL, `    filters:
      patterns: {include: ["^alpha"], exclude: ["-debug$"]}
      post_processing: {only_latest_n_versions: 2}`)
	rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	var got []string
	for _, c := range rr.Added {
		got = append(got, c.Name+"-"+c.New)
	}
	if strings.Join(got, " ") != "alpha-1.10 alpha-1.2" && strings.Join(got, " ") != "alpha-1.2 alpha-1.10" {
		t.Fatalf("kept %v, want alpha 1.10 and 1.2", got)
	}
}

func TestSyncDryRunChangesNothing(t *testing.T) {
	up := newUpstream(t)
	p := up.add("alpha", "1.0")
	m := testMirror(t, up.srv.URL, "")
	rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}, DryRun: true})
	if !rr.DryRun || len(rr.Added) != 1 || rr.Downloaded != 1 {
		t.Fatalf("dry run: %+v", rr)
	}
	if up.count(p) != 0 {
		t.Fatalf("dry run downloaded a payload")
	}
	info, err := m.Repo(context.Background(), "r1")
	if err != nil || info.Synced {
		t.Fatalf("dry run changed the catalog: %+v, %v", info, err)
	}
}

func TestGC(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	a := up.add("alpha", "1.0")
	up.add("beta", "1.0")
	m := testMirror(t, up.srv.URL, "")
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	up.remove(a)
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})

	// Within the grace window nothing goes.
	res, err := m.GC(ctx, chantal.GCRequest{})
	if err != nil || res.Removed != 0 || res.Young == 0 || res.PrunedItems != 1 {
		t.Fatalf("GC in grace: %+v, %v", res, err)
	}
	dry, err := m.GC(ctx, chantal.GCRequest{DryRun: true, Grace: -1})
	if err != nil || dry.Removed == 0 {
		t.Fatalf("dry GC: %+v, %v", dry, err)
	}
	st, _ := m.Stats(ctx)
	blobs := st.Pool.Blobs
	res, err = m.GC(ctx, chantal.GCRequest{Grace: -1})
	if err != nil || res.Removed != dry.Removed || res.Removed != 2 {
		t.Fatalf("GC: %+v, %v", res, err)
	}
	st, _ = m.Stats(ctx)
	if st.Pool.Blobs != blobs-res.Removed {
		t.Fatalf("pool has %d blobs, want %d", st.Pool.Blobs, blobs-res.Removed)
	}
	// What is still referenced survives and re-publishes.
	if _, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1"}); err != nil {
		t.Fatalf("publish after GC: %v", err)
	}
	vr, err := m.VerifyPool(ctx, chantal.VerifyPoolRequest{})
	if err != nil || len(vr.Corrupt) != 0 || vr.Checked != st.Pool.Blobs {
		t.Fatalf("VerifyPool: %+v, %v", vr, err)
	}
}

func TestSyncUnknownRepo(t *testing.T) {
	up := newUpstream(t)
	m := testMirror(t, up.srv.URL, "")
	if _, err := m.Sync(context.Background(), chantal.SyncRequest{Repos: []string{"nope"}}); !errors.Is(err, chantal.ErrUnknownRepo) {
		t.Fatalf("err = %v, want ErrUnknownRepo", err)
	}
}

// TestNoopSyncChecksBlobsOnlyAfterRemovals: an unchanged upstream with an
// unchanged pool answers from the pool's generation; once a blob was removed
// through the pool, the next sync checks every blob and fetches what is gone.
func TestNoopSyncChecksBlobsOnlyAfterRemovals(t *testing.T) {
	up := newUpstream(t)
	a := up.add("alpha", "1.0")
	up.add("beta", "1.0")
	m := testMirror(t, up.srv.URL, "")
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}}); !rr.Unchanged {
		t.Fatalf("second sync: %+v", rr)
	}
	pkgs, err := m.Packages(context.Background(), chantal.PackageQuery{Repo: "r1", Name: "^alpha$"})
	if err != nil || len(pkgs) != 1 {
		t.Fatalf("Packages = %+v, %v", pkgs, err)
	}
	before := up.count(a)
	if err := m.Pool().Remove(pkgs[0].Digest); err != nil {
		t.Fatal(err)
	}
	rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if rr.Unchanged || rr.Downloaded != 1 || up.count(a) != before+1 {
		t.Fatalf("sync after a removal: %+v (alpha fetched %d times)", rr, up.count(a)-before)
	}
	if ok, _ := m.Pool().Has(pkgs[0].Digest); !ok {
		t.Fatal("the removed blob was not fetched again")
	}
	if rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}}); !rr.Unchanged {
		t.Fatalf("sync after the repair: %+v", rr)
	}
}

// TestDBVerifyMarksMissingBlobs: a blob deleted behind the pool's back is
// found by db verify, after which the next sync fetches it again.
func TestDBVerifyMarksMissingBlobs(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	a := up.add("alpha", "1.0")
	m := testMirror(t, up.srv.URL, "")
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	pkgs, _ := m.Packages(ctx, chantal.PackageQuery{Repo: "r1"})
	if err := os.Remove(m.Pool().Path(pkgs[0].Digest)); err != nil {
		t.Fatal(err)
	}
	vr, err := m.VerifyDB(ctx, chantal.VerifyDBRequest{})
	if err != nil || vr.MissingCount != 1 {
		t.Fatalf("VerifyDB = %+v, %v", vr, err)
	}
	before := up.count(a)
	if rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}}); rr.Unchanged || up.count(a) != before+1 {
		t.Fatalf("sync after db verify found a missing blob: %+v", rr)
	}
}
