package catalog_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/pool"
)

func TestRepos(t *testing.T) {
	db := openTest(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	epel := catalog.Repo{ID: "epel9", Format: "rpm", Mode: "filtered", Feed: "https://example.org/epel/9/", Meta: map[string]string{"k": "v"}, Created: t0, Updated: t0}
	deb := catalog.Repo{ID: "bookworm", Format: "apt", Mode: "mirror"}
	update(t, db, func(tx *catalog.Tx) error {
		for _, r := range []catalog.Repo{epel, deb} {
			if err := tx.PutRepo(r); err != nil {
				return err
			}
		}
		return nil
	})

	tests := []struct {
		name    string
		id      string
		want    catalog.Repo
		wantErr error
	}{
		{"found", "epel9", epel, nil},
		{"other", "bookworm", deb, nil},
		{"missing", "nope", catalog.Repo{}, catalog.ErrNotFound},
		{"empty id", "", catalog.Repo{}, catalog.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, db, func(tx *catalog.Tx) error {
				got, err := tx.Repo(tt.id)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Repo(%q) mismatch (-want +got):\n%s", tt.id, diff)
				}
				return nil
			})
		})
	}
	view(t, db, func(tx *catalog.Tx) error {
		got, err := tx.Repos()
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]catalog.Repo{deb, epel}, got); diff != "" {
			t.Errorf("Repos mismatch (-want +got):\n%s", diff)
		}
		return nil
	})

	invalid := []catalog.Repo{{ID: ""}, {ID: "a\x00b"}}
	for _, r := range invalid {
		update(t, db, func(tx *catalog.Tx) error {
			if err := tx.PutRepo(r); !errors.Is(err, catalog.ErrInvalid) {
				t.Errorf("PutRepo(%q): err = %v, want ErrInvalid", r.ID, err)
			}
			return nil
		})
	}
}

func TestPutRepoKeepsState(t *testing.T) {
	db := openTest(t)
	putRepos(t, db, "r")
	id := setState(t, db, "r", &catalog.State{Refs: []catalog.Ref{{Path: "a.rpm", Digest: digest("a")}}})
	update(t, db, func(tx *catalog.Tx) error {
		// A caller passing a stale or bogus State must not change the holder.
		return tx.PutRepo(catalog.Repo{ID: "r", Feed: "new", State: catalog.StateID{1}})
	})
	view(t, db, func(tx *catalog.Tx) error {
		r, err := tx.Repo("r")
		if err != nil {
			return err
		}
		if r.State != id || r.Feed != "new" {
			t.Errorf("after PutRepo: State %v Feed %q, want %v %q", r.State, r.Feed, id, "new")
		}
		return nil
	})
	update(t, db, func(tx *catalog.Tx) error {
		return tx.PutRepo(catalog.Repo{ID: "fresh", State: id})
	})
	view(t, db, func(tx *catalog.Tx) error {
		r, err := tx.Repo("fresh")
		if err != nil {
			return err
		}
		if !r.State.IsZero() {
			t.Errorf("new repo State = %v, want zero", r.State)
		}
		return nil
	})
}

func TestDeleteRepo(t *testing.T) {
	db := openTest(t)
	putRepos(t, db, "a", "b")
	st := &catalog.State{Refs: []catalog.Ref{{Path: "x.rpm", Digest: digest("x")}}}
	setState(t, db, "a", st)
	setState(t, db, "b", st)
	update(t, db, func(tx *catalog.Tx) error {
		if err := tx.PutSyncRun(&catalog.SyncRun{Repo: "a", Status: "ok"}); err != nil {
			return err
		}
		return tx.PutSnapshot(catalog.Snapshot{Repo: "b", Name: "s1", State: st.ID()})
	})

	tests := []struct {
		id      string
		wantErr error
	}{
		{"missing", catalog.ErrNotFound},
		{"b", catalog.ErrExists}, // has a snapshot
		{"a", nil},
		{"a", catalog.ErrNotFound},
	}
	for _, tt := range tests {
		err := db.Update(t.Context(), func(tx *catalog.Tx) error { return tx.DeleteRepo(tt.id) })
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("DeleteRepo(%q): err = %v, want %v", tt.id, err, tt.wantErr)
		}
	}
	got := stats(t, db)
	if got.Repos != 1 || got.SyncRuns != 0 || got.States != 1 || got.Chunks != 1 {
		t.Errorf("after DeleteRepo: %+v, want 1 repo, 0 runs, 1 state, 1 chunk", got)
	}
	update(t, db, func(tx *catalog.Tx) error {
		if err := tx.DeleteSnapshot("b", "s1"); err != nil {
			return err
		}
		return tx.DeleteRepo("b")
	})
	if got := stats(t, db); got.Repos != 0 || got.States != 0 || got.Chunks != 0 || got.Snapshots != 0 {
		t.Errorf("after deleting everything: %+v", got)
	}
	// A recreated repository starts over: empty state, sequence from 1.
	putRepos(t, db, "a")
	update(t, db, func(tx *catalog.Tx) error {
		run := &catalog.SyncRun{Repo: "a"}
		if err := tx.PutSyncRun(run); err != nil {
			return err
		}
		if run.Seq != 1 {
			t.Errorf("first run of recreated repo: Seq %d, want 1", run.Seq)
		}
		return nil
	})
}

func testItem(name string) catalog.Item {
	d := digest(name)
	return catalog.Item{
		Digest: d, Size: int64(len(name)) * 1000, Format: "rpm", Name: name, Version: "1.0-1", Arch: "x86_64",
		Checksums: map[string]string{"sha1": "aa" + name, "md5": "BB" + name},
		Fields:    map[string]string{"group": "System"},
		Fragments: map[string][]byte{"primary": []byte("<package>" + name + "</package>"), "empty": nil},
	}
}

func TestItems(t *testing.T) {
	db := openTest(t)
	a, b := testItem("a"), testItem("bee")
	update(t, db, func(tx *catalog.Tx) error {
		for _, it := range []catalog.Item{a, b} {
			if err := tx.PutItem(it); err != nil {
				return err
			}
		}
		if err := tx.PutItem(catalog.Item{}); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("PutItem(zero digest): err = %v, want ErrInvalid", err)
		}
		return nil
	})
	// Empty maps and nil fragments come back as nil / empty.
	wantA := a
	wantA.Fragments = map[string][]byte{"primary": a.Fragments["primary"], "empty": {}}

	var got catalog.Item
	view(t, db, func(tx *catalog.Tx) error {
		var err error
		got, err = tx.Item(a.Digest)
		return err
	})
	// Used after the transaction: must be a copy.
	if diff := cmp.Diff(wantA, got); diff != "" {
		t.Errorf("Item mismatch (-want +got):\n%s", diff)
	}
	// ItemHead: the same without the maps.
	var head catalog.Item
	view(t, db, func(tx *catalog.Tx) error {
		var err error
		head, err = tx.ItemHead(a.Digest)
		if _, merr := tx.ItemHead(digest("zzz")); !errors.Is(merr, catalog.ErrNotFound) {
			t.Errorf("ItemHead(missing): err = %v, want ErrNotFound", merr)
		}
		return err
	})
	wantHead := wantA
	wantHead.Checksums, wantHead.Fields, wantHead.Fragments = nil, nil, nil
	if diff := cmp.Diff(wantHead, head); diff != "" {
		t.Errorf("ItemHead mismatch (-want +got):\n%s", diff)
	}

	tests := []struct {
		name      string
		d         pool.Digest
		wantHas   bool
		wantItErr error
	}{
		{"a", a.Digest, true, nil},
		{"b", b.Digest, true, nil},
		{"missing", digest("zzz"), false, catalog.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, db, func(tx *catalog.Tx) error {
				has, err := tx.HasItem(tt.d)
				if err != nil || has != tt.wantHas {
					t.Errorf("HasItem = %v, %v; want %v", has, err, tt.wantHas)
				}
				if _, err := tx.Item(tt.d); !errors.Is(err, tt.wantItErr) {
					t.Errorf("Item: err = %v, want %v", err, tt.wantItErr)
				}
				return nil
			})
		})
	}

	var walked []string
	view(t, db, func(tx *catalog.Tx) error {
		return tx.WalkItems(func(it catalog.Item) error {
			walked = append(walked, it.Name)
			return nil
		})
	})
	if len(walked) != 2 {
		t.Errorf("WalkItems visited %v, want 2 items", walked)
	}
	if st := stats(t, db); st.Items != 2 || st.ItemBytes != 4000 {
		t.Errorf("Stats: %+v, want 2 items, 4000 bytes", st)
	}
}

func TestItemByChecksum(t *testing.T) {
	db := openTest(t)
	a := testItem("a")
	update(t, db, func(tx *catalog.Tx) error { return tx.PutItem(a) })

	lookup := func(algo, sum string) (pool.Digest, error) {
		var d pool.Digest
		err := db.View(t.Context(), func(tx *catalog.Tx) error {
			var err error
			d, err = tx.ItemByChecksum(algo, sum)
			return err
		})
		return d, err
	}
	tests := []struct {
		name, algo, sum string
		wantErr         error
	}{
		{"sha1", "sha1", "aaa", nil},
		{"case-insensitive", "SHA1", "AAA", nil},
		{"md5 is not indexed", "md5", "bba", catalog.ErrNotFound},
		{"sha256 is the digest", "sha256", a.Digest.String(), nil},
		{"wrong sum", "sha1", "aab", catalog.ErrNotFound},
		{"wrong algo", "sha512", "aaa", catalog.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := lookup(tt.algo, tt.sum)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && d != a.Digest {
				t.Errorf("digest = %v, want %v", d, a.Digest)
			}
		})
	}

	// Replacing the item re-indexes: the old sha1 disappears, the new one works.
	a2 := a
	a2.Checksums = map[string]string{"sha1": "cafe", "sha512": "beef"}
	update(t, db, func(tx *catalog.Tx) error { return tx.PutItem(a2) })
	for _, c := range []struct {
		algo, sum string
		want      error
	}{{"sha1", "aaa", catalog.ErrNotFound}, {"md5", "bba", catalog.ErrNotFound}, {"sha1", "cafe", nil}, {"sha512", "beef", nil}, {"sha256", a.Digest.String(), nil}} {
		if _, err := lookup(c.algo, c.sum); !errors.Is(err, c.want) {
			t.Errorf("after replace, %s %s: err = %v, want %v", c.algo, c.sum, err, c.want)
		}
	}

	// An index entry taken over by another item survives deleting the first.
	b := testItem("b")
	b.Checksums = map[string]string{"sha1": "cafe"}
	update(t, db, func(tx *catalog.Tx) error {
		if err := tx.PutItem(b); err != nil {
			return err
		}
		return tx.DeleteItem(a.Digest)
	})
	if d, err := lookup("sha1", "cafe"); err != nil || d != b.Digest {
		t.Errorf("shared sha1 after deleting a: %v, %v; want b", d, err)
	}
	for _, c := range [][2]string{{"sha512", "beef"}, {"sha256", a.Digest.String()}} {
		if _, err := lookup(c[0], c[1]); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("after DeleteItem, %s: err = %v, want ErrNotFound", c[0], err)
		}
	}
	if err := db.Update(t.Context(), func(tx *catalog.Tx) error { return tx.DeleteItem(a.Digest) }); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("second DeleteItem: err = %v, want ErrNotFound", err)
	}
}

func TestSnapshots(t *testing.T) {
	db := openTest(t)
	putRepos(t, db, "a", "a-b", "c")
	s1 := &catalog.State{Refs: []catalog.Ref{{Path: "x.rpm", Digest: digest("x")}}}
	id1 := setState(t, db, "a", s1)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

	snaps := []catalog.Snapshot{
		{Repo: "a", Name: "2026-03", State: id1, Created: t0, Description: "march"},
		{Repo: "a", Name: "2026-02", State: id1, Created: t0},
		{Repo: "a-b", Name: "empty", State: (&catalog.State{}).ID()},
		{Repo: "c", Name: "zero"},
	}
	update(t, db, func(tx *catalog.Tx) error {
		for _, s := range snaps {
			if err := tx.PutSnapshot(s); err != nil {
				return err
			}
		}
		return nil
	})

	puts := []struct {
		name    string
		s       catalog.Snapshot
		wantErr error
	}{
		{"exists", catalog.Snapshot{Repo: "a", Name: "2026-03", State: id1}, catalog.ErrExists},
		{"unknown repo", catalog.Snapshot{Repo: "zz", Name: "n"}, catalog.ErrNotFound},
		{"unknown state", catalog.Snapshot{Repo: "a", Name: "n", State: catalog.StateID{9}}, catalog.ErrNotFound},
		{"empty name", catalog.Snapshot{Repo: "a"}, catalog.ErrInvalid},
	}
	for _, tt := range puts {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Update(t.Context(), func(tx *catalog.Tx) error { return tx.PutSnapshot(tt.s) })
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}

	lists := []struct {
		repo string
		want []catalog.Snapshot
	}{
		{"", []catalog.Snapshot{snaps[1], snaps[0], snaps[2], snaps[3]}},
		{"a", []catalog.Snapshot{snaps[1], snaps[0]}},
		{"a-b", []catalog.Snapshot{snaps[2]}},
		{"none", nil},
	}
	for _, tt := range lists {
		view(t, db, func(tx *catalog.Tx) error {
			got, err := tx.Snapshots(tt.repo)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Snapshots(%q) mismatch (-want +got):\n%s", tt.repo, diff)
			}
			return nil
		})
	}
	view(t, db, func(tx *catalog.Tx) error {
		if got, err := tx.Snapshot("a", "2026-03"); err != nil || !cmp.Equal(got, snaps[0]) {
			t.Errorf("Snapshot = %+v, %v", got, err)
		}
		if _, err := tx.Snapshot("a", "nope"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("missing Snapshot: err = %v", err)
		}
		return nil
	})

	// The snapshot survives SetRepoState of its repository.
	id2 := setState(t, db, "a", &catalog.State{Refs: []catalog.Ref{{Path: "y.rpm", Digest: digest("y")}}})
	view(t, db, func(tx *catalog.Tx) error {
		s, err := tx.State(id1)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(s1, s); diff != "" {
			t.Errorf("snapshot state after SetRepoState (-want +got):\n%s", diff)
		}
		return nil
	})
	if st := stats(t, db); st.States != 3 { // id1 (snapshots), id2 (repo), empty (snapshot)
		t.Errorf("States = %d, want 3", st.States)
	}
	update(t, db, func(tx *catalog.Tx) error {
		if err := tx.DeleteSnapshot("a", "2026-03"); err != nil {
			return err
		}
		if err := tx.DeleteSnapshot("a", "2026-03"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("second DeleteSnapshot: err = %v", err)
		}
		return nil
	})
	view(t, db, func(tx *catalog.Tx) error {
		if _, err := tx.State(id1); err != nil {
			t.Errorf("state still held by 2026-02 is gone: %v", err)
		}
		return nil
	})
	update(t, db, func(tx *catalog.Tx) error { return tx.DeleteSnapshot("a", "2026-02") })
	view(t, db, func(tx *catalog.Tx) error {
		if _, err := tx.State(id1); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("state after last snapshot deleted: err = %v, want ErrNotFound", err)
		}
		if _, err := tx.State(id2); err != nil {
			t.Errorf("repo state: %v", err)
		}
		return nil
	})
}

func TestSyncRuns(t *testing.T) {
	db := openTest(t)
	putRepos(t, db, "a", "b")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	update(t, db, func(tx *catalog.Tx) error {
		for i, repo := range []string{"a", "b", "a", "a", "b"} {
			r := &catalog.SyncRun{Repo: repo, Started: t0.Add(time.Duration(i) * time.Hour), Status: "ok", Added: i}
			if err := tx.PutSyncRun(r); err != nil {
				return err
			}
		}
		if err := tx.PutSyncRun(&catalog.SyncRun{Repo: "zz"}); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("PutSyncRun for unknown repo: err = %v", err)
		}
		return nil
	})
	// Replace run 2 of a.
	update(t, db, func(tx *catalog.Tx) error {
		return tx.PutSyncRun(&catalog.SyncRun{Repo: "a", Seq: 2, Status: "failed", Errors: []string{"boom"}, Started: t0.Add(2 * time.Hour), Added: 2})
	})
	seqs := func(runs []catalog.SyncRun) (out []uint64) {
		for _, r := range runs {
			out = append(out, r.Seq)
		}
		return out
	}
	tests := []struct {
		repo  string
		limit int
		want  []uint64
	}{
		{"a", 0, []uint64{3, 2, 1}},
		{"a", 2, []uint64{3, 2}},
		{"a", -1, []uint64{3, 2, 1}},
		{"b", 0, []uint64{2, 1}},
		{"", 0, nil},
		{"c", 0, nil},
	}
	for _, tt := range tests {
		view(t, db, func(tx *catalog.Tx) error {
			got, err := tx.SyncRuns(tt.repo, tt.limit)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(tt.want, seqs(got)); diff != "" {
				t.Errorf("SyncRuns(%q, %d) seqs (-want +got):\n%s", tt.repo, tt.limit, diff)
			}
			return nil
		})
	}
	view(t, db, func(tx *catalog.Tx) error {
		runs, err := tx.SyncRuns("a", 0)
		if err != nil {
			return err
		}
		want := catalog.SyncRun{Repo: "a", Seq: 2, Status: "failed", Errors: []string{"boom"}, Started: t0.Add(2 * time.Hour), Added: 2}
		if diff := cmp.Diff(want, runs[1]); diff != "" {
			t.Errorf("replaced run (-want +got):\n%s", diff)
		}
		if runs[0].Added != 3 || runs[2].Added != 0 {
			t.Errorf("runs out of order: %+v", runs)
		}
		return nil
	})
}
