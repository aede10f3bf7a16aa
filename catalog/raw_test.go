package catalog_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/pool"
)

func TestItemChanges(t *testing.T) {
	db := openTest(t)
	mk := func(name, frag string) catalog.Item {
		return catalog.Item{Digest: pool.Sum([]byte(name)), Size: 1, Format: "rpm", Name: name, Version: "1",
			Fragments: map[string][]byte{"primary": []byte(frag)}}
	}
	changes := func() ([]byte, map[pool.Digest]uint64) { return itemChanges(t, db) }
	a, b, c := mk("a", "1"), mk("b", "1"), mk("c", "1")
	update(t, db, func(tx *catalog.Tx) error { return tx.PutItems([]catalog.Item{a, b}) })
	update(t, db, func(tx *catalog.Tx) error { return tx.PutItem(c) })
	if id, ch := changes(); len(id) != 0 || len(ch) != 0 {
		t.Fatalf("first puts logged changes: id %x, %v", id, ch)
	}
	// Unchanged bytes: no change.
	update(t, db, func(tx *catalog.Tx) error { return tx.PutItems([]catalog.Item{a, b}) })
	if _, ch := changes(); len(ch) != 0 {
		t.Fatalf("unchanged puts logged changes: %v", ch)
	}
	a2 := mk("a", "2")
	update(t, db, func(tx *catalog.Tx) error { return tx.PutItems([]catalog.Item{a2, b}) })
	id1, ch := changes()
	if len(id1) == 0 || len(ch) != 1 || ch[a.Digest] == 0 {
		t.Fatalf("after replacing a: id %x, %v", id1, ch)
	}
	first := ch[a.Digest]
	update(t, db, func(tx *catalog.Tx) error { return tx.PutItem(a) })
	update(t, db, func(tx *catalog.Tx) error { return tx.DeleteItem(c.Digest) })
	id2, ch := changes()
	if !bytes.Equal(id1, id2) || len(ch) != 2 || ch[a.Digest] <= first || ch[c.Digest] == 0 {
		t.Fatalf("after replacing a again and deleting c: id %x (was %x), %v", id2, id1, ch)
	}
	// The log is bookkeeping: export does not refuse it.
	view(t, db, func(tx *catalog.Tx) error {
		_, err := tx.Export(context.Background(), io.Discard)
		return err
	})
}

// TestItemChangesRestart: past its bound the log starts again under a new
// id, so keys that named the old log can never match again.
func TestItemChangesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 65,536 changes")
	}
	db := openTest(t)
	it := catalog.Item{Digest: pool.Sum([]byte("x")), Size: 1, Format: "rpm", Name: "x", Version: "1"}
	update(t, db, func(tx *catalog.Tx) error { return tx.PutItem(it) })
	ids := func() ([]byte, map[pool.Digest]uint64) { return itemChanges(t, db) }
	update(t, db, func(tx *catalog.Tx) error {
		for i := range 1 << 16 {
			it.Version = fmt.Sprint(i + 2)
			if err := tx.PutItem(it); err != nil {
				return err
			}
		}
		return nil
	})
	first, ch := ids()
	if len(first) == 0 || ch[it.Digest] != 1<<16 {
		t.Fatalf("after 65,536 changes: id %x, change %d", first, ch[it.Digest])
	}
	update(t, db, func(tx *catalog.Tx) error {
		it.Version = "last"
		return tx.PutItem(it)
	})
	second, ch := ids()
	if bytes.Equal(first, second) || len(ch) != 1 || ch[it.Digest] != 1 {
		t.Fatalf("the log did not restart: id %x → %x, changes %v", first, second, ch)
	}
}

// itemChanges reads the item change log.
func itemChanges(t *testing.T, db *catalog.DB) ([]byte, map[pool.Digest]uint64) {
	t.Helper()
	var id []byte
	var ch map[pool.Digest]uint64
	view(t, db, func(tx *catalog.Tx) error {
		var err error
		id, ch, err = tx.ItemChanges()
		return err
	})
	return id, ch
}
