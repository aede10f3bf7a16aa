package catalog_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/pool"
)

func TestViewSnapshotHoldsMemberStates(t *testing.T) {
	db := openTest(t)
	putRepos(t, db, "a", "b")
	sa := setState(t, db, "a", &catalog.State{Refs: []catalog.Ref{{Path: "x", Digest: digest("x")}}})
	sb := setState(t, db, "b", &catalog.State{Refs: []catalog.Ref{{Path: "y", Digest: digest("y")}}})
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	vs := catalog.ViewSnapshot{View: "v", Name: "s1", Format: "lines", Created: t0, Members: []catalog.ViewMember{
		{Repo: "a", State: sa, StateTime: t0}, {Repo: "b", State: sb},
	}}
	update(t, db, func(tx *catalog.Tx) error { return tx.PutViewSnapshot(vs) })
	update(t, db, func(tx *catalog.Tx) error {
		if err := tx.PutViewSnapshot(vs); !errors.Is(err, catalog.ErrExists) {
			t.Errorf("second put: %v, want ErrExists", err)
		}
		if err := tx.PutViewSnapshot(catalog.ViewSnapshot{View: "v", Name: "empty"}); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("put without members: %v, want ErrInvalid", err)
		}
		return nil
	})
	// The repositories move on; the view snapshot keeps their old states.
	setState(t, db, "a", nil)
	setState(t, db, "b", nil)
	update(t, db, func(tx *catalog.Tx) error {
		n, err := tx.PruneItems()
		if n != 0 || err != nil {
			t.Errorf("PruneItems = %d, %v", n, err)
		}
		return nil
	})
	view(t, db, func(tx *catalog.Tx) error {
		got, err := tx.ViewSnapshot("v", "s1")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(vs, got); diff != "" {
			t.Errorf("ViewSnapshot (-want +got):\n%s", diff)
		}
		st, err := tx.State(sa)
		if err != nil || len(st.Refs) != 1 {
			t.Errorf("member state after repo moved on: %v, %v", st, err)
		}
		all, err := tx.ViewSnapshots("")
		if err != nil || len(all) != 1 {
			t.Errorf("ViewSnapshots = %v, %v", all, err)
		}
		return nil
	})
	update(t, db, func(tx *catalog.Tx) error { return tx.DeleteViewSnapshot("v", "s1") })
	view(t, db, func(tx *catalog.Tx) error {
		if _, err := tx.State(sa); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("state after delete: %v, want ErrNotFound", err)
		}
		var live []pool.Digest
		_ = tx.LiveDigests(func(d pool.Digest) error { live = append(live, d); return nil })
		if len(live) != 0 {
			t.Errorf("live digests after delete: %v", live)
		}
		return nil
	})
}

func TestPublications(t *testing.T) {
	db := openTest(t)
	view(t, db, func(tx *catalog.Tx) error {
		if ps, err := tx.Publications(); err != nil || len(ps) != 0 {
			t.Errorf("Publications on a fresh catalog = %v, %v", ps, err)
		}
		if _, err := tx.Publication("/x"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("Publication: %v, want ErrNotFound", err)
		}
		return nil
	})
	p := catalog.Publication{Target: "/pub/r1", Kind: "repo", Name: "r1", Format: "lines",
		Versions: []catalog.PublishedVersion{{Version: "v1", State: catalog.StateID{1}, Published: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}}
	update(t, db, func(tx *catalog.Tx) error { return tx.PutPublication(p) })
	view(t, db, func(tx *catalog.Tx) error {
		got, err := tx.Publication("/pub/r1")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("Publication (-want +got):\n%s", diff)
		}
		return nil
	})
	update(t, db, func(tx *catalog.Tx) error { return tx.DeletePublication("/pub/r1") })
	update(t, db, func(tx *catalog.Tx) error {
		if err := tx.DeletePublication("/pub/r1"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		return nil
	})
}
