package catalog_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chantal-lite/chantal/catalog"
)

// benchState returns a realistic 100k-ref state and a copy with 1% of
// its refs changed (a third removed, a third replaced, a third added).
func benchStates() (a, b *catalog.State) {
	rng := rand.New(rand.NewPCG(11, 12))
	a = randState(rng, 100_000)
	b = &catalog.State{Refs: slices.Clone(a.Refs)}
	for i := 0; i < 1000; i++ {
		j := rng.IntN(len(b.Refs))
		switch i % 3 {
		case 0:
			b.Refs = slices.Delete(b.Refs, j, j+1)
		case 1:
			b.Refs[j].Digest = randDigest(rng)
		case 2:
			b.Refs = append(b.Refs, randRef(rng))
		}
	}
	b.Sort()
	return a, b
}

// BenchmarkSetRepoState100k commits a 100k-ref state into a fresh catalog
// (fsync on) in one transaction. Budget: ≤ 1 s/op.
func BenchmarkSetRepoState100k(b *testing.B) {
	s, _ := benchStates()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db, err := catalog.Open(filepath.Join(b.TempDir(), "catalog.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		putRepos(b, db, "r")
		b.StartTimer()
		if err := db.Update(ctx, func(tx *catalog.Tx) error {
			_, err := tx.SetRepoState("r", s)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
}

// BenchmarkSetRepoStateChange100k commits a 1% change to a stored
// 100k-ref state, alternating between the two versions.
func BenchmarkSetRepoStateChange100k(b *testing.B) {
	s1, s2 := benchStates()
	db := openTest(b)
	putRepos(b, db, "r")
	setState(b, db, "r", s1)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := s2
		if i%2 == 1 {
			s = s1
		}
		if err := db.Update(ctx, func(tx *catalog.Tx) error {
			_, err := tx.SetRepoState("r", s)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkState100k reads a 100k-ref state back. Budget: ≤ 0.3 s/op.
func BenchmarkState100k(b *testing.B) {
	s, _ := benchStates()
	db := openTest(b)
	putRepos(b, db, "r")
	id := setState(b, db, "r", s)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := db.View(ctx, func(tx *catalog.Tx) error {
			got, err := tx.State(id)
			if err == nil && len(got.Refs) != len(s.Refs) {
				b.Fatalf("read %d refs, want %d", len(got.Refs), len(s.Refs))
			}
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiffStates100k diffs two 100k-ref states that differ by 1%.
func BenchmarkDiffStates100k(b *testing.B) {
	s1, s2 := benchStates()
	db := openTest(b)
	putRepos(b, db, "a", "b")
	id1, id2 := setState(b, db, "a", s1), setState(b, db, "b", s2)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := db.View(ctx, func(tx *catalog.Tx) error {
			return tx.DiffStates(id1, id2, func(_, _ *catalog.Ref) error { n++; return nil })
		}); err != nil {
			b.Fatal(err)
		}
		if n < 1000 {
			b.Fatalf("diff found %d changes, want ≥ 1000", n)
		}
	}
}
