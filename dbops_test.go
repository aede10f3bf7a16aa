package chantal_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/pool"
)

// BenchmarkVerifyDB100k runs Mirror.VerifyDB (catalog consistency plus the
// existence of every referenced blob, no rehash) over a catalog of 100k
// items whose blobs are all in the pool. Budget: ≤ 1 s/op.
func BenchmarkVerifyDB100k(b *testing.B) {
	dir := b.TempDir()
	m, err := chantal.Open(dir, chantal.WithNoSync())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	st := &catalog.State{}
	var items []catalog.Item
	for i := range 100_000 {
		data := []byte(fmt.Sprintf("blob %d %d", i, rng.Uint64()))
		d := pool.Sum(data)
		// Write the blob where the pool keeps it; Put per blob would fsync.
		p := m.Pool().Path(d)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o444); err != nil {
			b.Fatal(err)
		}
		items = append(items, catalog.Item{Digest: d, Size: int64(len(data)), Format: "rpm", Name: fmt.Sprintf("p%d", i),
			Fragments: map[string][]byte{"primary": make([]byte, 1500)}})
		st.Refs = append(st.Refs, catalog.Ref{Path: fmt.Sprintf("Packages/p%06d.rpm", i), Digest: d})
	}
	db, err := catalog.Open(filepath.Join(dir, "catalog.db"), &catalog.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	err = db.Update(ctx, func(tx *catalog.Tx) error {
		if err := tx.PutRepo(catalog.Repo{ID: "r"}); err != nil {
			return err
		}
		for _, it := range items {
			if err := tx.PutItem(it); err != nil {
				return err
			}
		}
		_, err := tx.SetRepoState("r", st)
		return err
	})
	db.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		res, err := m.VerifyDB(ctx, chantal.VerifyDBRequest{})
		if err != nil {
			b.Fatal(err)
		}
		if !res.OK() || res.LiveBlobs != 100_000 {
			b.Fatalf("VerifyDB: ok=%v live=%d problems=%v missing=%d", res.OK(), res.LiveBlobs, res.Catalog.Problems, res.MissingCount)
		}
	}
}
