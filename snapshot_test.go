package chantal_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/pool"
)

// testClock is a settable clock for WithClock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock {
	return &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// readTree reads every file below dir (following the metadata symlinks,
// skipping .versions) into path → bytes.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && d.Name() == ".versions" {
			return filepath.SkipDir
		}
		if d.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			if fi.IsDir() {
				sub := readTree(t, p)
				for k, v := range sub {
					out[filepath.ToSlash(filepath.Join(rel, k))] = v
				}
				return nil
			}
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSnapshotPublishReproducesBytesAfterRepoMovesOn(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	clk := newClock()
	u := newUpstream(t)
	a := u.add("a", "1.0")
	u.add("b", "1.0")
	m := testMirror(t, u.srv.URL, "", chantal.WithClock(clk.now))
	ctx := context.Background()
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	clk.add(time.Hour)
	s, err := m.Snapshot(ctx, chantal.SnapshotRequest{Repo: "r1", Name: "{repo}-{date}"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "r1-2026-01-02" {
		t.Errorf("template expanded to %q", s.Name)
	}
	ref := "r1/" + s.Name
	pub, err := m.Publish(ctx, chantal.PublishRequest{Snapshot: ref})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(m.PublishedPath(), "snapshots", "r1", s.Name); pub.Target != want {
		t.Errorf("snapshot target %s, want %s", pub.Target, want)
	}
	before := readTree(t, pub.Target)
	if len(before) < 3 || !strings.Contains(before["index.txt"], "a-1.0") {
		t.Fatalf("published snapshot tree: %v", before)
	}
	if err := m.Unpublish(ctx, pub.Target); err != nil {
		t.Fatal(err)
	}

	// A year later the repository has moved on.
	clk.add(365 * 24 * time.Hour)
	u.remove(a)
	u.add("c", "2.0")
	res := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if len(res.Added) != 1 || len(res.Removed) != 1 {
		t.Fatalf("second sync: added %v removed %v", res.Added, res.Removed)
	}
	if _, err := m.Publish(ctx, chantal.PublishRequest{Repo: "r1"}); err != nil {
		t.Fatal(err)
	}
	again, err := m.Publish(ctx, chantal.PublishRequest{Snapshot: ref})
	if err != nil {
		t.Fatal(err)
	}
	after := readTree(t, again.Target)
	if len(after) != len(before) {
		t.Errorf("republished snapshot has %d files, first publish %d", len(after), len(before))
	}
	for p, b := range before {
		if after[p] != b {
			t.Errorf("%s differs after the repository moved on:\nfirst %q\nnow   %q", p, b, after[p])
		}
	}
	if again.Version != pub.Version {
		t.Errorf("version id %s, first %s", again.Version, pub.Version)
	}
}

func TestSnapshotListShowContentCopyDiffDelete(t *testing.T) {
	u := newUpstream(t)
	a19 := u.add("a", "1.9")
	old := u.add("b", "1.0")
	m := testMirror(t, u.srv.URL, "")
	ctx := context.Background()
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if _, err := m.Snapshot(ctx, chantal.SnapshotRequest{Repo: "r1", Name: "s1", Description: "first"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Snapshot(ctx, chantal.SnapshotRequest{Repo: "r1", Name: "s1"}); !errors.Is(err, catalog.ErrExists) {
		t.Errorf("duplicate snapshot: %v, want ErrExists", err)
	}
	if _, err := m.Snapshot(ctx, chantal.SnapshotRequest{Repo: "nope", Name: "s1"}); !errors.Is(err, chantal.ErrUnknownRepo) {
		t.Errorf("snapshot of an unknown repo: %v", err)
	}
	u.remove(old)
	u.remove(a19)
	u.add("a", "1.10") // natively newer than 1.9
	u.add("c", "1.0")
	mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if _, err := m.Snapshot(ctx, chantal.SnapshotRequest{Repo: "r1", Name: "s2"}); err != nil {
		t.Fatal(err)
	}

	list, err := m.Snapshots(ctx, "r1")
	if err != nil || len(list) != 2 || list[0].Name != "s1" || list[0].Items != 2 || list[1].Items != 2 {
		t.Fatalf("Snapshots = %+v, %v", list, err)
	}
	show, err := m.ShowSnapshot(ctx, "r1/s1")
	if err != nil || show.Description != "first" || show.Files != 1 {
		t.Errorf("ShowSnapshot = %+v, %v", show, err)
	}
	content, err := m.SnapshotContent(ctx, "r1/s1")
	if err != nil || len(content) != 2 || content[0].Name != "a" || content[0].Version != "1.9" || content[1].Name != "b" {
		t.Errorf("SnapshotContent = %+v, %v", content, err)
	}

	d, err := m.Diff(ctx, "r1/s1", "r1/s2")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Upgraded) != 1 || d.Upgraded[0].Name != "a" || strings.Join(d.Upgraded[0].New, ",") != "1.10" || strings.Join(d.Upgraded[0].Old, ",") != "1.9" {
		t.Errorf("upgraded %+v", d.Upgraded)
	}
	if len(d.Added) != 1 || d.Added[0].Name != "c" || len(d.Removed) != 1 || d.Removed[0].Name != "b" {
		t.Errorf("added %+v removed %+v", d.Added, d.Removed)
	}
	// The repository's current state against the snapshot of it: equal.
	eq, err := m.Diff(ctx, "r1", "r1/s2")
	if err != nil || !eq.Equal || !eq.Empty() {
		t.Errorf("Diff(r1, r1/s2) = %+v, %v", eq, err)
	}

	// Promotion copy.
	if _, err := m.CopySnapshot(ctx, "r1/s1", "r1/stable"); err != nil {
		t.Fatal(err)
	}
	if d, err := m.Diff(ctx, "r1/s1", "r1/stable"); err != nil || !d.Equal {
		t.Errorf("copy differs: %+v, %v", d, err)
	}

	// Delete guards: published.
	pub, err := m.Publish(ctx, chantal.PublishRequest{Snapshot: "r1/stable"})
	if err != nil {
		t.Fatal(err)
	}
	err = m.DeleteSnapshot(ctx, chantal.DeleteSnapshotRequest{Ref: "r1/stable"})
	if !errors.Is(err, chantal.ErrInUse) || !strings.Contains(err.Error(), pub.Target) {
		t.Errorf("delete of a published snapshot: %v", err)
	}
	if err := m.DeleteSnapshot(ctx, chantal.DeleteSnapshotRequest{Ref: "r1/stable", Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pub.Target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("forced delete left the published tree: %v", err)
	}
	if ps, _ := m.Publications(ctx); len(ps) != 0 {
		t.Errorf("publications after forced delete: %+v", ps)
	}
	if err := m.DeleteSnapshot(ctx, chantal.DeleteSnapshotRequest{Ref: "r1/s2"}); err != nil {
		t.Errorf("delete of an unused snapshot: %v", err)
	}
	if _, err := m.ShowSnapshot(ctx, "r1/s2"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("deleted snapshot still shows: %v", err)
	}
}

func TestRetentionPolicies(t *testing.T) {
	ctx := context.Background()
	names := func(m *chantal.Mirror) string {
		c, err := m.SnapshotContent(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range c {
			out = append(out, it.Name+"-"+it.Version)
		}
		return strings.Join(out, " ")
	}
	// Each step lists what upstream holds; want is the state after its sync.
	type step struct {
		upstream []string
		want     string
	}
	for _, c := range []struct {
		policy string
		steps  []step
	}{
		{"{policy: mirror}", []step{{[]string{"1.9"}, "a-1.9"}, {[]string{"1.10"}, "a-1.10"}}},
		{"{policy: keep-all}", []step{{[]string{"1.9"}, "a-1.9"}, {[]string{"1.10"}, "a-1.10 a-1.9"}, {[]string{"2"}, "a-1.10 a-1.9 a-2"}}},
		{"{policy: newest-only}", []step{{[]string{"1.9", "1.10"}, "a-1.10"}, {[]string{"1.9"}, "a-1.10"}, {[]string{"3"}, "a-3"}}},
		{"{policy: keep-last-n, keep_count: 2}", []step{{[]string{"1"}, "a-1"}, {[]string{"2"}, "a-1 a-2"}, {[]string{"1.10"}, "a-1.10 a-2"}, {[]string{"1.9"}, "a-1.10 a-2"}}},
	} {
		t.Run(c.policy, func(t *testing.T) {
			u := newUpstream(t)
			m := testMirror(t, u.srv.URL, "    retention: "+c.policy)
			var frozen string
			for i, s := range c.steps {
				u.mu.Lock()
				clear(u.pkgs)
				u.mu.Unlock()
				for _, v := range s.upstream {
					u.add("a", v)
				}
				mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
				if got := names(m); got != s.want {
					t.Errorf("step %d: state %q, want %q", i, got, s.want)
				}
				if i == 0 {
					if _, err := m.Snapshot(ctx, chantal.SnapshotRequest{Repo: "r1", Name: "first"}); err != nil {
						t.Fatal(err)
					}
					frozen = s.want
				}
			}
			// Snapshots never change.
			c, err := m.SnapshotContent(ctx, "r1/first")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range c {
				got = append(got, it.Name+"-"+it.Version)
			}
			if strings.Join(got, " ") != frozen {
				t.Errorf("snapshot changed: %v, want %s", got, frozen)
			}
		})
	}
}

// seedState makes repository r1 of m hold n hand-made items directly in the
// catalog (no sync), the i-th with version v(i).
func seedState(b *testing.B, m *chantal.Mirror, n int, v func(i int) string) {
	b.Helper()
	db, err := catalog.Open(filepath.Join(m.Dir(), "catalog.db"), &catalog.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	err = db.Update(context.Background(), func(tx *catalog.Tx) error {
		if _, err := tx.Repo("r1"); err != nil {
			if err := tx.PutRepo(catalog.Repo{ID: "r1", Format: "lines", Mode: "filtered"}); err != nil {
				return err
			}
		}
		st := &catalog.State{Refs: make([]catalog.Ref, 0, n)}
		for i := range n {
			name := fmt.Sprintf("pkg%06d", i)
			it := catalog.Item{Digest: pool.Sum([]byte(name + v(i))), Size: 1, Format: "lines", Name: name, Version: v(i), Arch: "noarch"}
			if err := tx.PutItem(it); err != nil {
				return err
			}
			st.Refs = append(st.Refs, catalog.Ref{Path: "pkgs/" + name + "-" + v(i) + ".pkg", Digest: it.Digest})
		}
		_, err := tx.SetRepoState("r1", st)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

func BenchmarkSnapshotCreate100k(b *testing.B) {
	m := testMirror(b, "http://127.0.0.1:1/", "")
	seedState(b, m, 100_000, func(int) string { return "1.0" })
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := m.Snapshot(ctx, chantal.SnapshotRequest{Repo: "r1", Name: fmt.Sprintf("s%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDiff100kOnePercent(b *testing.B) {
	m := testMirror(b, "http://127.0.0.1:1/", "")
	ctx := context.Background()
	seedState(b, m, 100_000, func(int) string { return "1.0" })
	if _, err := m.Snapshot(ctx, chantal.SnapshotRequest{Repo: "r1", Name: "a"}); err != nil {
		b.Fatal(err)
	}
	seedState(b, m, 100_000, func(i int) string {
		if i%100 == 0 {
			return "1.1"
		}
		return "1.0"
	})
	if _, err := m.Snapshot(ctx, chantal.SnapshotRequest{Repo: "r1", Name: "b"}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		d, err := m.Diff(ctx, "r1/a", "r1/b")
		if err != nil || len(d.Upgraded) != 1000 {
			b.Fatalf("diff: %v, %d upgraded", err, len(d.Upgraded))
		}
	}
}
