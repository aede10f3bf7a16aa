package catalog_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/pool"
)

func openTest(tb testing.TB) *catalog.DB {
	tb.Helper()
	db, err := catalog.Open(filepath.Join(tb.TempDir(), "catalog.db"), &catalog.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

func update(tb testing.TB, db *catalog.DB, fn func(*catalog.Tx) error) {
	tb.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		tb.Fatal(err)
	}
}

func view(tb testing.TB, db *catalog.DB, fn func(*catalog.Tx) error) {
	tb.Helper()
	if err := db.View(context.Background(), fn); err != nil {
		tb.Fatal(err)
	}
}

func digest(s string) pool.Digest { return pool.Sum([]byte(s)) }

func randDigest(rng *rand.Rand) pool.Digest {
	var d pool.Digest
	for i := 0; i < len(d); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			d[i+j] = byte(v >> (8 * j))
		}
	}
	return d
}

var testNames = []string{"nginx", "bash", "openssl-libs", "kernel-core", "python3-requests", "glibc", "zlib", "systemd", "httpd", "postgresql-server"}

// randRef returns a realistic ref: an RPM-like path, a random digest and,
// for some, one small attribute.
func randRef(rng *rand.Rand) catalog.Ref {
	name := testNames[rng.IntN(len(testNames))]
	path := fmt.Sprintf("Packages/%c/%s-%d.%d.%d-%d.el9.x86_64.rpm", name[0], name, rng.IntN(10), rng.IntN(30), rng.IntN(100), rng.IntN(1000000))
	r := catalog.Ref{Path: path, Digest: randDigest(rng)}
	if rng.IntN(4) == 0 {
		r.Attrs = map[string]string{"component": "main"}
	}
	return r
}

func randState(rng *rand.Rand, n int) *catalog.State {
	s := &catalog.State{Refs: make([]catalog.Ref, n)}
	for i := range s.Refs {
		s.Refs[i] = randRef(rng)
	}
	s.Sort()
	return s
}

func putRepos(tb testing.TB, db *catalog.DB, ids ...string) {
	tb.Helper()
	update(tb, db, func(tx *catalog.Tx) error {
		for _, id := range ids {
			if err := tx.PutRepo(catalog.Repo{ID: id, Format: "rpm"}); err != nil {
				return err
			}
		}
		return nil
	})
}

func setState(tb testing.TB, db *catalog.DB, repo string, s *catalog.State) catalog.StateID {
	tb.Helper()
	var id catalog.StateID
	update(tb, db, func(tx *catalog.Tx) error {
		var err error
		id, err = tx.SetRepoState(repo, s)
		return err
	})
	return id
}

func stats(tb testing.TB, db *catalog.DB) catalog.Stats {
	tb.Helper()
	var st catalog.Stats
	view(tb, db, func(tx *catalog.Tx) error {
		var err error
		st, err = tx.Stats()
		return err
	})
	return st
}
