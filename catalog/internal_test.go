package catalog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/chantal-lite/chantal/pool"
)

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := Open(path, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(context.Background(), func(tx *Tx) error { return tx.PutRepo(Repo{ID: "r"}) }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	var ran []int
	step := func(from int, fail bool) migrateFunc {
		return func(tx *bolt.Tx) error {
			ran = append(ran, from)
			if err := tx.Bucket([]byte(bucketMeta)).Put(fmt.Appendf(nil, "migrated-%d", from), []byte("yes")); err != nil {
				return err
			}
			if fail {
				return errors.New("step failed")
			}
			return nil
		}
	}
	schemaOf := func() (int, bool) {
		t.Helper()
		bdb, err := bolt.Open(path, 0o644, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer bdb.Close()
		var v int
		var marked bool
		if err := bdb.View(func(tx *bolt.Tx) error {
			v, _, err = readSchema(tx)
			marked = tx.Bucket([]byte(bucketMeta)).Get([]byte("migrated-1")) != nil
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return v, marked
	}

	// A failing step rolls back the steps before it.
	_, err = openDB(path, nil, schemaPlan{version: 3, steps: map[int]migrateFunc{1: step(1, false), 2: step(2, true)}})
	if err == nil || errors.Is(err, ErrSchema) {
		t.Fatalf("Open with failing migration: err = %v, want the step's error", err)
	}
	if v, marked := schemaOf(); v != 1 || marked {
		t.Fatalf("after failed migration: schema %d, step 1 applied %v; want 1, false", v, marked)
	}

	// A gap in the table is refused before anything runs.
	ran = nil
	_, err = openDB(path, nil, schemaPlan{version: 3, steps: map[int]migrateFunc{2: step(2, false)}})
	if !errors.Is(err, ErrSchema) || len(ran) != 0 {
		t.Fatalf("Open with missing step: err = %v, ran %v; want ErrSchema and nothing run", err, ran)
	}

	// A read-only open never migrates.
	_, err = openDB(path, &Options{ReadOnly: true}, schemaPlan{version: 3, steps: map[int]migrateFunc{1: step(1, false), 2: step(2, false)}})
	if !errors.Is(err, ErrSchema) {
		t.Fatalf("read-only Open of old schema: err = %v, want ErrSchema", err)
	}

	ran = nil
	db, err = openDB(path, nil, schemaPlan{version: 3, steps: map[int]migrateFunc{1: step(1, false), 2: step(2, false)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.View(context.Background(), func(tx *Tx) error {
		_, err := tx.Repo("r")
		return err
	}); err != nil {
		t.Errorf("data lost in migration: %v", err)
	}
	db.Close()
	if !slices.Equal(ran, []int{1, 2}) {
		t.Errorf("steps ran %v, want [1 2]", ran)
	}
	if v, marked := schemaOf(); v != 3 || !marked {
		t.Errorf("after migration: schema %d, marked %v; want 3, true", v, marked)
	}
	// And now this build (schema 1) refuses the newer file.
	if _, err := Open(path, nil); !errors.Is(err, ErrSchema) {
		t.Errorf("Open of migrated file with older build: err = %v, want ErrSchema", err)
	}
}

func genRefs(rng *rand.Rand, n int) []Ref {
	names := []string{"nginx", "bash", "openssl-libs", "kernel-core", "python3-requests", "glibc"}
	refs := make([]Ref, n)
	for i := range refs {
		name := names[rng.IntN(len(names))]
		var d pool.Digest
		for j := range d {
			d[j] = byte(rng.Uint32())
		}
		refs[i] = Ref{Path: fmt.Sprintf("Packages/%c/%s-%d.%d-%d.el9.x86_64.rpm", name[0], name, rng.IntN(100), rng.IntN(100), rng.IntN(1000000)), Digest: d}
		if i%4 == 0 {
			refs[i].Attrs = map[string]string{"component": "main"}
		}
	}
	return refs
}

// TestGrowthBudget checks that a small change to a large state writes
// O(change) bytes: bbolt's PageAlloc counts every page a commit allocates.
func TestGrowthBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100k-ref state")
	}
	db, err := Open(filepath.Join(t.TempDir(), "catalog.db"), &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Update(ctx, func(tx *Tx) error { return tx.PutRepo(Repo{ID: "r"}) }); err != nil {
		t.Fatal(err)
	}
	pageAlloc := func() int64 {
		st := db.bolt.Stats()
		return st.TxStats.GetPageAlloc()
	}
	commit := func(s *State) int64 {
		t.Helper()
		before := pageAlloc()
		if err := db.Update(ctx, func(tx *Tx) error {
			_, err := tx.SetRepoState("r", s)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return pageAlloc() - before
	}
	rng := rand.New(rand.NewPCG(9, 10))
	s := &State{Refs: genRefs(rng, 100_000)}
	s.Sort()
	first := commit(s)

	// Change 10 refs spread over the list: 4 new digests, 3 removals, 3 additions.
	next := &State{Refs: slices.Clone(s.Refs)}
	for i := range 4 {
		next.Refs[(i*2+1)*len(next.Refs)/9].Digest = pool.Sum(fmt.Appendf(nil, "new-%d", i))
	}
	for i := range 3 {
		j := (i*2 + 2) * len(next.Refs) / 9
		next.Refs = slices.Delete(next.Refs, j, j+1)
	}
	next.Refs = append(next.Refs, genRefs(rng, 3)...)
	second := commit(next)

	t.Logf("first commit allocated %d bytes, second %d (%.2f%%)", first, second, 100*float64(second)/float64(first))
	if second*20 >= first {
		t.Errorf("second commit allocated %d bytes, want < 5%% of the first (%d)", second, first)
	}
	if err := db.View(ctx, func(tx *Tx) error {
		got, err := tx.State(next.ID())
		if err != nil {
			return err
		}
		if len(got.Refs) != len(next.Refs) {
			t.Errorf("read back %d refs, want %d", len(got.Refs), len(next.Refs))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeCorrupt(t *testing.T) {
	refs := genRefs(rand.New(rand.NewPCG(1, 1)), 50)
	slices.SortFunc(refs, compareRefValues)
	data := encodeChunk(nil, refs)
	got, err := decodeChunk(data)
	if err != nil || len(got) != len(refs) {
		t.Fatalf("decodeChunk = %d refs, %v", len(got), err)
	}
	for _, cut := range []int{0, 1, 5, len(data) / 2, len(data) - 1} {
		if _, err := decodeChunk(data[:cut]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated chunk (%d bytes): err = %v, want ErrCorrupt", cut, err)
		}
	}
	it := Item{Digest: pool.Sum([]byte("x")), Size: 5, Name: "x", Fragments: map[string][]byte{"p": []byte("<x/>")}}
	enc := encodeItem(&it)
	for _, cut := range []int{0, 3, len(enc) - 1} {
		if _, err := decodeItem(it.Digest, enc[:cut]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated item (%d bytes): err = %v, want ErrCorrupt", cut, err)
		}
	}
	if _, err := decodeStateRecord([]byte{0xff, 0xff, 0xff}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("garbage state record: err = %v, want ErrCorrupt", err)
	}
}
