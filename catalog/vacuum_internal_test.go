package catalog

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestOpenFollowsReplacement opens the catalog while another handle holds
// it; that handle renames a new file over the name (as Vacuum and Import
// do). The waiting Open must end up in the new file, never in the
// unlinked old one, or its writes would be lost.
func TestOpenFollowsReplacement(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.db")
	old, err := Open(path, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".vacuum"
	if err := writeTemp(tmp, true, func(dst *bolt.DB) error {
		if err := bolt.Compact(dst, old.bolt, compactTxSize); err != nil {
			return err
		}
		return dst.Update(func(tx *bolt.Tx) error {
			return (&Tx{tx: tx}).PutRepo(Repo{ID: "only-in-new"})
		})
	}); err != nil {
		t.Fatal(err)
	}

	type result struct {
		db  *DB
		err error
	}
	waiter := make(chan result, 1)
	go func() {
		db, err := Open(path, &Options{Timeout: 20 * time.Second, NoSync: true})
		waiter <- result{db, err}
	}()
	time.Sleep(50 * time.Millisecond) // let the waiter open the old file; correctness does not depend on it
	if err := old.replaceWith(tmp); err != nil {
		t.Fatal(err)
	}
	old.Close()
	r := <-waiter
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.db.Close()
	if err := r.db.View(context.Background(), func(tx *Tx) error {
		_, err := tx.Repo("only-in-new")
		return err
	}); err != nil {
		t.Errorf("waiting Open did not follow the replacement: %v", err)
	}
}
