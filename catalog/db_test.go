package catalog_test

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chantal-lite/chantal/catalog"
)

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := catalog.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	for _, ro := range []bool{false, true} {
		_, err = catalog.Open(path, &catalog.Options{Timeout: 20 * time.Millisecond, ReadOnly: ro})
		if !errors.Is(err, catalog.ErrLocked) {
			t.Fatalf("second Open (ReadOnly=%v): err = %v, want ErrLocked", ro, err)
		}
		if !strings.Contains(err.Error(), "another chantal-lite process is using "+path) {
			t.Errorf("error lacks hint: %v", err)
		}
	}
}

func setSchema(t *testing.T, path string, v uint64) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if err := bdb.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint64(nil, v))
	}); err != nil {
		t.Fatal(err)
	}
}

func TestOpenSchema(t *testing.T) {
	path := createdCatalog(t)
	// Reopening the current version works, read-write and read-only.
	for _, ro := range []bool{false, true} {
		db, err := catalog.Open(path, &catalog.Options{ReadOnly: ro})
		if err != nil {
			t.Fatalf("reopen (ReadOnly=%v): %v", ro, err)
		}
		db.Close()
	}
	setSchema(t, path, 99)
	for _, ro := range []bool{false, true} {
		_, err := catalog.Open(path, &catalog.Options{ReadOnly: ro})
		if !errors.Is(err, catalog.ErrSchema) {
			t.Fatalf("Open of newer schema (ReadOnly=%v): err = %v, want ErrSchema", ro, err)
		}
		var se *catalog.SchemaError
		if !errors.As(err, &se) || se.Have != 99 || se.Want != 1 {
			t.Errorf("err = %#v, want SchemaError{Have: 99, Want: 1}", err)
		}
	}
	// Version 0 has no migration registered: refused, file left as is.
	setSchema(t, path, 0)
	if _, err := catalog.Open(path, nil); !errors.Is(err, catalog.ErrSchema) {
		t.Fatalf("Open of unmigratable schema: err = %v, want ErrSchema", err)
	}
}

func TestReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	if _, err := catalog.Open(path, &catalog.Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only Open of a missing file succeeded")
	}
	db, err := catalog.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	update(t, db, func(tx *catalog.Tx) error { return tx.PutRepo(catalog.Repo{ID: "r"}) })
	db.Close()

	db, err = catalog.Open(path, &catalog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Update(ctx, func(*catalog.Tx) error { return nil }); !errors.Is(err, catalog.ErrReadOnly) {
		t.Errorf("Update on read-only DB: err = %v, want ErrReadOnly", err)
	}
	view(t, db, func(tx *catalog.Tx) error {
		if _, err := tx.Repo("r"); err != nil {
			t.Errorf("Repo: %v", err)
		}
		return nil
	})
}

func TestWritesInViewFail(t *testing.T) {
	db := openTest(t)
	putRepos(t, db, "r")
	writes := map[string]func(tx *catalog.Tx) error{
		"PutRepo":    func(tx *catalog.Tx) error { return tx.PutRepo(catalog.Repo{ID: "x"}) },
		"DeleteRepo": func(tx *catalog.Tx) error { return tx.DeleteRepo("r") },
		"SetRepoState": func(tx *catalog.Tx) error {
			_, err := tx.SetRepoState("r", &catalog.State{})
			return err
		},
		"PutItem":        func(tx *catalog.Tx) error { return tx.PutItem(catalog.Item{Digest: digest("a")}) },
		"DeleteItem":     func(tx *catalog.Tx) error { return tx.DeleteItem(digest("a")) },
		"PruneItems":     func(tx *catalog.Tx) error { _, err := tx.PruneItems(); return err },
		"PutSnapshot":    func(tx *catalog.Tx) error { return tx.PutSnapshot(catalog.Snapshot{Repo: "r", Name: "s"}) },
		"DeleteSnapshot": func(tx *catalog.Tx) error { return tx.DeleteSnapshot("r", "s") },
		"PutSyncRun":     func(tx *catalog.Tx) error { return tx.PutSyncRun(&catalog.SyncRun{Repo: "r"}) },
	}
	for name, fn := range writes {
		t.Run(name, func(t *testing.T) {
			err := db.View(context.Background(), fn)
			if !errors.Is(err, catalog.ErrReadOnly) {
				t.Errorf("err = %v, want ErrReadOnly", err)
			}
		})
	}
}

func TestContextChecked(t *testing.T) {
	db := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	fn := func(*catalog.Tx) error { called = true; return nil }
	if err := db.View(ctx, fn); !errors.Is(err, context.Canceled) {
		t.Errorf("View: err = %v, want context.Canceled", err)
	}
	if err := db.Update(ctx, fn); !errors.Is(err, context.Canceled) {
		t.Errorf("Update: err = %v, want context.Canceled", err)
	}
	if called {
		t.Error("fn ran with a cancelled context")
	}

	// Cancelled during fn: nothing is committed.
	ctx, cancel = context.WithCancel(context.Background())
	err := db.Update(ctx, func(tx *catalog.Tx) error {
		cancel()
		return tx.PutRepo(catalog.Repo{ID: "r"})
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update cancelled inside fn: err = %v, want context.Canceled", err)
	}
	view(t, db, func(tx *catalog.Tx) error {
		if _, err := tx.Repo("r"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("repo committed despite cancellation: err = %v", err)
		}
		return nil
	})
}

func TestStateIDText(t *testing.T) {
	id := (&catalog.State{Refs: []catalog.Ref{{Path: "a", Digest: digest("a")}}}).ID()
	if id.IsZero() {
		t.Fatal("ID is zero")
	}
	b, err := id.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var got catalog.StateID
	if err := got.UnmarshalText(b); err != nil || got != id {
		t.Errorf("UnmarshalText(%s) = %v, %v; want %v", b, got, err, id)
	}
	if p, err := catalog.ParseStateID(id.String()); err != nil || p != id {
		t.Errorf("ParseStateID = %v, %v", p, err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("g", 64)} {
		if _, err := catalog.ParseStateID(bad); err == nil {
			t.Errorf("ParseStateID(%q) succeeded", bad)
		}
	}
}

// TestOpenCurrentWritesNothing: opening a catalog of the current schema
// read-write commits nothing (a commit costs two fsyncs on every command).
func TestOpenCurrentWritesNothing(t *testing.T) {
	path := createdCatalog(t)
	txid := func() int {
		b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		tx, err := b.Begin(false)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		return tx.ID()
	}
	before := txid()
	for range 3 {
		db, err := catalog.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if after := txid(); after != before {
		t.Errorf("three read-write opens committed %d transactions, want none", after-before)
	}
}

// createdCatalog creates a catalog file, closed, and returns its path.
func createdCatalog(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := catalog.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
