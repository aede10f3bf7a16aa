package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/pool"
)

func TestItemRecord(t *testing.T) {
	db := openTest(t)
	a := catalog.Item{Digest: pool.Sum([]byte("a")), Size: 1, Format: "rpm", Name: "a", Version: "1", Arch: "x86_64",
		Fields: map[string]string{"group": "g"}, Fragments: map[string][]byte{"primary": []byte("<package/>")}}
	b := a
	b.Fragments = map[string][]byte{"primary": []byte("<package>changed</package>")}
	var first []byte
	update(t, db, func(tx *catalog.Tx) error { return tx.PutItem(a) })
	view(t, db, func(tx *catalog.Tx) error {
		rec, err := tx.ItemRecord(a.Digest)
		if err != nil {
			return err
		}
		first = bytes.Clone(rec)
		got, err := catalog.DecodeItemRecord(a.Digest, rec)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, a) {
			t.Errorf("decoded %+v, want %+v", got, a)
		}
		if _, err := tx.ItemRecord(pool.Sum([]byte("missing"))); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("missing item: %v, want ErrNotFound", err)
		}
		return nil
	})
	update(t, db, func(tx *catalog.Tx) error { return tx.PutItem(b) })
	view(t, db, func(tx *catalog.Tx) error {
		rec, err := tx.ItemRecord(a.Digest)
		if err != nil {
			return err
		}
		if bytes.Equal(rec, first) {
			t.Error("a replaced item kept its record bytes")
		}
		if _, err := catalog.DecodeItemRecord(a.Digest, rec[:len(rec)-1]); err == nil {
			t.Error("a truncated record decoded")
		}
		return nil
	})
}

func TestItemChanges(t *testing.T) {
	db := openTest(t)
	mk := func(name, frag string) catalog.Item {
		return catalog.Item{Digest: pool.Sum([]byte(name)), Size: 1, Format: "rpm", Name: name, Version: "1",
			Fragments: map[string][]byte{"primary": []byte(frag)}}
	}
	changes := func() ([]byte, map[pool.Digest]uint64) {
		var id []byte
		var ch map[pool.Digest]uint64
		view(t, db, func(tx *catalog.Tx) error {
			var err error
			id, ch, err = tx.ItemChanges()
			return err
		})
		return id, ch
	}
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
