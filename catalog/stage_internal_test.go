package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/chantal-lite/chantal/pool"
)

func openStageTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "catalog.db"), &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// stageItems returns n items, each with a sha1 and a fragment of a few
// hundred bytes, and for every tenth an md5 (not indexed).
func stageItems(n int, tag string) []Item {
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{
			Digest: pool.Sum(fmt.Appendf(nil, "%s %d", tag, i)), Size: int64(i), Format: "apt",
			Name: fmt.Sprintf("p%05d", i), Version: "1.0", Arch: "amd64",
			Checksums: map[string]string{"sha1": fmt.Sprintf("%040x", i+1<<20)},
			Fields:    map[string]string{"section": "utils"},
			Fragments: map[string][]byte{"stanza": bytes.Repeat([]byte{'a' + byte(i%26)}, 200+i%700)},
		}
		if i%10 == 0 {
			items[i].Checksums["md5"] = fmt.Sprintf("%032x", i)
		}
	}
	return items
}

// dumpItems returns every item record and checksum index entry of db.
func dumpItems(t *testing.T, db *DB) (items, index map[string]string) {
	t.Helper()
	items, index = map[string]string{}, map[string]string{}
	err := db.View(context.Background(), func(tx *Tx) error {
		if err := tx.bucket(bucketItems).ForEach(func(k, v []byte) error {
			items[string(k)] = string(v)
			return nil
		}); err != nil {
			return err
		}
		return tx.bucket(bucketChecksum).ForEach(func(k, v []byte) error {
			index[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return items, index
}

func verifyStage(t *testing.T, db *DB) *VerifyReport {
	t.Helper()
	var rep *VerifyReport
	if err := db.View(context.Background(), func(tx *Tx) (err error) {
		rep, err = tx.Verify(context.Background())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
	return rep
}

// TestStageMatchesPutItems stages items over several transactions into a
// catalog that already holds some of them (one unchanged, one with other
// checksums) and compares every record and index entry with what PutItems
// writes.
func TestStageMatchesPutItems(t *testing.T) {
	ctx := context.Background()
	old := stageItems(40, "x")
	items := stageItems(3000, "x")
	old[7].Checksums = map[string]string{"sha1": fmt.Sprintf("%040x", 7)} // replaced: its old entry goes
	old[8].Fields = map[string]string{"section": "other"}                 // replaced, same checksums
	staged, put := openStageTest(t), openStageTest(t)
	for _, db := range []*DB{staged, put} {
		if err := db.Update(ctx, func(tx *Tx) error { return tx.PutItems(old) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := put.Update(ctx, func(tx *Tx) error { return tx.PutItems(items) }); err != nil {
		t.Fatal(err)
	}

	s, err := NewStage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.chunkBytes = 64 << 10 // index and records in several transactions each
	for i := 0; i < len(items); i += 500 {
		if err := s.Add(items[i:min(i+500, len(items))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Add(items[100:110]); err != nil { // staged twice: written once
		t.Fatal(err)
	}
	if s.Len() != len(items)+10 {
		t.Fatalf("Len %d, want %d", s.Len(), len(items)+10)
	}
	txs := 0
	u := updaterFunc(func(ctx context.Context, fn func(*Tx) error) error {
		txs++
		return staged.Update(ctx, fn)
	})
	if err := s.Commit(ctx, u); err != nil {
		t.Fatal(err)
	}
	if txs < 10 {
		t.Fatalf("%d transactions; want the records spread over many", txs)
	}
	if s.Len() != 0 {
		t.Fatalf("Len %d after Commit, want 0", s.Len())
	}
	gotItems, gotIndex := dumpItems(t, staged)
	wantItems, wantIndex := dumpItems(t, put)
	if len(gotItems) != len(items) || len(gotIndex) != len(items) {
		t.Fatalf("%d items, %d index entries; want %d each", len(gotItems), len(gotIndex), len(items))
	}
	for k, v := range wantItems {
		if gotItems[k] != v {
			t.Fatalf("item %x differs from PutItems'", k)
		}
	}
	for k, v := range wantIndex {
		if gotIndex[k] != v {
			t.Fatalf("index %q differs from PutItems'", k)
		}
	}
	if _, ok := gotIndex["sha1\x00"+fmt.Sprintf("%040x", 7)]; ok {
		t.Fatal("the replaced record's old index entry is still there")
	}
	if rep := verifyStage(t, staged); rep.StaleIndex != 0 {
		t.Fatalf("%d stale index entries", rep.StaleIndex)
	}

	// The stage is reusable, and an empty Commit writes nothing.
	more := stageItems(5, "y")
	if err := s.Add(more); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, staged); err != nil {
		t.Fatal(err)
	}
	txs = 0
	if err := s.Commit(ctx, u); err != nil || txs != 0 {
		t.Fatalf("empty commit: %v, %d transactions", err, txs)
	}
	if err := staged.View(ctx, func(tx *Tx) error {
		for _, it := range more {
			if d, err := tx.ItemByChecksum("sha1", it.Checksums["sha1"]); err != nil || d != it.Digest {
				return fmt.Errorf("ItemByChecksum %s: %v, %v", it.Name, d, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

type updaterFunc func(context.Context, func(*Tx) error) error

func (u updaterFunc) Update(ctx context.Context, fn func(*Tx) error) error { return u(ctx, fn) }

// TestStageInterrupted fails a Commit after its index and first record
// transactions: the records written are whole, the index entries of those
// not written find nothing and are no verify problem, and PruneItems
// removes them.
func TestStageInterrupted(t *testing.T) {
	ctx := context.Background()
	db := openStageTest(t)
	items := stageItems(1000, "z")
	s, err := NewStage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.chunkBytes = 96 << 10 // the index in one transaction, the records in several
	if err := s.Add(items); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	txs := 0
	err = s.Commit(ctx, updaterFunc(func(ctx context.Context, fn func(*Tx) error) error {
		if txs++; txs > 2 {
			return boom
		}
		return db.Update(ctx, fn)
	}))
	if !errors.Is(err, boom) {
		t.Fatalf("Commit: %v, want boom", err)
	}
	stored, index := dumpItems(t, db)
	if len(stored) == 0 || len(stored) == len(items) || len(index) != len(items) {
		t.Fatalf("%d items, %d index entries after the failure; want some items and every entry", len(stored), len(index))
	}
	found := 0
	if err := db.View(ctx, func(tx *Tx) error {
		for _, it := range items {
			d, err := tx.ItemByChecksum("sha1", it.Checksums["sha1"])
			_, isStored := stored[string(it.Digest[:])]
			switch {
			case isStored && (err != nil || d != it.Digest):
				return fmt.Errorf("stored %s: ItemByChecksum %v, %v", it.Name, d, err)
			case !isStored && !errors.Is(err, ErrNotFound):
				return fmt.Errorf("not stored %s: ItemByChecksum %v, %v; want ErrNotFound", it.Name, d, err)
			}
			if isStored {
				if got, err := tx.Item(it.Digest); err != nil || got.Name != it.Name {
					return fmt.Errorf("stored %s: Item %v, %v", it.Name, got.Name, err)
				}
				found++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if rep := verifyStage(t, db); rep.StaleIndex != len(items)-found {
		t.Fatalf("%d stale index entries, want %d", rep.StaleIndex, len(items)-found)
	}
	// A failed Commit empties the stage.
	if s.Len() != 0 {
		t.Fatalf("Len %d after a failed Commit", s.Len())
	}
	if err := db.Update(ctx, func(tx *Tx) error {
		_, err := tx.PruneItems() // no state: every item goes, and every entry
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if stored, index := dumpItems(t, db); len(stored)+len(index) != 0 {
		t.Fatalf("%d items, %d index entries after PruneItems", len(stored), len(index))
	}
	if rep := verifyStage(t, db); rep.StaleIndex != 0 {
		t.Fatalf("%d stale index entries after PruneItems", rep.StaleIndex)
	}
}

func TestStageZeroDigest(t *testing.T) {
	s, err := NewStage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Add([]Item{{Name: "x"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Add: %v, want ErrInvalid", err)
	}
	// The error sticks: nothing half-staged is committed.
	if err := s.Commit(context.Background(), openStageTest(t)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Commit: %v, want ErrInvalid", err)
	}
}

func TestStageLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	s, err := NewStage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(stageItems(10, "w")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Fatalf("after Close: %v, %v", ents, err)
	}
	if _, err := NewStage(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("NewStage in a missing directory succeeded")
	}
}
