package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/catalog"
)

func TestVacuum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := catalog.Open(path, &catalog.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	fillCatalog(t, db, 3000)
	// Churn: big states come and go, leaving free pages behind.
	for i := range 5 {
		update(t, db, func(tx *catalog.Tx) error {
			return tx.PutRepo(catalog.Repo{ID: "churn"})
		})
		setState(t, db, "churn", randStateSeeded(uint64(i), 20000))
		setState(t, db, "churn", nil)
	}
	update(t, db, func(tx *catalog.Tx) error { return tx.DeleteRepo("churn") })
	before := exportBytes(t, db)

	// While a handle holds the catalog, Vacuum refuses with ErrLocked.
	if _, err := catalog.Vacuum(context.Background(), path, &catalog.VacuumOptions{Timeout: 20 * time.Millisecond}); !errors.Is(err, catalog.ErrLocked) {
		t.Fatalf("vacuum while held: %v, want ErrLocked", err)
	}
	db.Close()

	res, err := catalog.Vacuum(context.Background(), path, &catalog.VacuumOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.After >= res.Before {
		t.Errorf("vacuum did not shrink the file: %d → %d bytes", res.Before, res.After)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != res.After {
		t.Errorf("file size %v, %v; result says %d", fi, err, res.After)
	}
	if _, err := os.Stat(path + ".vacuum"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left: %v", err)
	}
	db, err = catalog.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if after := exportBytes(t, db); !bytes.Equal(before, after) {
		t.Errorf("vacuum changed the content:\n%s", firstDiff(before, after))
	}
}

func randStateSeeded(seed uint64, n int) *catalog.State {
	return randState(rand.New(rand.NewPCG(seed, seed)), n)
}
