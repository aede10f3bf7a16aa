package catalog_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/pool"
)

func TestStateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	want := randState(rng, 3000)
	want.Files = []catalog.File{
		{Path: "repodata/comps.xml", Digest: digest("comps"), Size: 123, Kind: "comps", Checksums: map[string]string{"sha1": "ab"}},
		{Path: "images/boot.iso", Digest: digest("iso"), Size: 1 << 33, Kind: "image"},
	}
	want.Sort()
	shuffled := &catalog.State{Refs: slices.Clone(want.Refs), Files: slices.Clone(want.Files)}
	rng.Shuffle(len(shuffled.Refs), func(i, j int) { shuffled.Refs[i], shuffled.Refs[j] = shuffled.Refs[j], shuffled.Refs[i] })
	slices.Reverse(shuffled.Files)
	before := slices.Clone(shuffled.Refs)

	if want.ID() != shuffled.ID() {
		t.Fatal("ID depends on input order")
	}
	if !slices.EqualFunc(before, shuffled.Refs, func(a, b catalog.Ref) bool { return a.Path == b.Path && a.Digest == b.Digest }) {
		t.Fatal("ID modified its receiver")
	}

	db := openTest(t)
	putRepos(t, db, "r")
	id := setState(t, db, "r", shuffled)
	if id != want.ID() {
		t.Errorf("SetRepoState returned %v, want %v", id, want.ID())
	}
	view(t, db, func(tx *catalog.Tx) error {
		r, err := tx.Repo("r")
		if err != nil {
			return err
		}
		if r.State != id {
			t.Errorf("repo State = %v, want %v", r.State, id)
		}
		got, err := tx.State(id)
		if err != nil {
			return err
		}
		if !statesEqual(want, got) {
			t.Errorf("State mismatch (-want +got):\n%s", cmp.Diff(want, got))
		}
		if got.ID() != id {
			t.Errorf("ID of read-back state differs")
		}
		var walked []catalog.Ref
		if err := tx.WalkState(id, func(r catalog.Ref) error {
			walked = append(walked, r)
			return nil
		}); err != nil {
			return err
		}
		if !slices.EqualFunc(want.Refs, walked, refEqual) {
			t.Errorf("WalkState mismatch (-want +got):\n%s", cmp.Diff(want.Refs, walked))
		}
		stop := errors.New("stop")
		n := 0
		if err := tx.WalkState(id, func(catalog.Ref) error { n++; return stop }); err != stop || n != 1 {
			t.Errorf("WalkState with failing fn: %v after %d calls, want stop after 1", err, n)
		}
		if _, err := tx.State(catalog.StateID{7}); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("State(unknown): err = %v, want ErrNotFound", err)
		}
		return nil
	})
	if st := stats(t, db); st.States != 1 || st.Chunks < 3 {
		t.Errorf("Stats = %+v: want 1 state cut into several chunks", st)
	}
}

// refEqual and statesEqual are fast exact comparisons (nil and empty maps
// differ, as in cmp); cmp.Diff only runs to explain a failure.
func refEqual(a, b catalog.Ref) bool {
	return a.Path == b.Path && a.Digest == b.Digest && (a.Attrs == nil) == (b.Attrs == nil) && maps.Equal(a.Attrs, b.Attrs)
}

func statesEqual(a, b *catalog.State) bool {
	return slices.EqualFunc(a.Refs, b.Refs, refEqual) && cmp.Equal(a.Files, b.Files)
}

func TestStateIDEquality(t *testing.T) {
	ref := func(p string, attrs map[string]string) catalog.Ref {
		return catalog.Ref{Path: p, Digest: digest(p), Attrs: attrs}
	}
	base := &catalog.State{Refs: []catalog.Ref{ref("a", nil), ref("b", map[string]string{"c": "main"})}}
	tests := []struct {
		name string
		s    *catalog.State
		same bool
	}{
		{"identical", &catalog.State{Refs: []catalog.Ref{ref("a", nil), ref("b", map[string]string{"c": "main"})}}, true},
		{"reordered", &catalog.State{Refs: []catalog.Ref{ref("b", map[string]string{"c": "main"}), ref("a", map[string]string{})}}, true},
		{"attr value", &catalog.State{Refs: []catalog.Ref{ref("a", nil), ref("b", map[string]string{"c": "contrib"})}}, false},
		{"attr missing", &catalog.State{Refs: []catalog.Ref{ref("a", nil), ref("b", nil)}}, false},
		{"extra file", &catalog.State{Refs: base.Refs, Files: []catalog.File{{Path: "f", Digest: digest("f")}}}, false},
		{"other digest", &catalog.State{Refs: []catalog.Ref{{Path: "a", Digest: digest("z")}, ref("b", map[string]string{"c": "main"})}}, false},
		{"empty", &catalog.State{}, false},
	}
	for _, tt := range tests {
		if got := tt.s.ID() == base.ID(); got != tt.same {
			t.Errorf("%s: equal IDs = %v, want %v", tt.name, got, tt.same)
		}
	}
	empty := (&catalog.State{}).ID()
	if empty.IsZero() || empty != (&catalog.State{Refs: []catalog.Ref{}, Files: []catalog.File{}}).ID() {
		t.Errorf("empty state ID %v is zero or unstable", empty)
	}
}

func TestEmptyAndInvalidStates(t *testing.T) {
	db := openTest(t)
	putRepos(t, db, "r")
	update(t, db, func(tx *catalog.Tx) error {
		for _, id := range []catalog.StateID{{}, (&catalog.State{}).ID()} {
			s, err := tx.State(id)
			if err != nil || len(s.Refs) != 0 || len(s.Files) != 0 {
				t.Errorf("State(%v) = %+v, %v; want empty", id, s, err)
			}
		}
		dup := &catalog.State{Refs: []catalog.Ref{{Path: "a", Digest: digest("a")}, {Path: "a", Digest: digest("a")}}}
		if _, err := tx.SetRepoState("r", dup); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("duplicate refs: err = %v, want ErrInvalid", err)
		}
		dupFiles := &catalog.State{Files: []catalog.File{{Path: "f"}, {Path: "f", Size: 1}}}
		if _, err := tx.SetRepoState("r", dupFiles); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("duplicate files: err = %v, want ErrInvalid", err)
		}
		if _, err := tx.SetRepoState("nope", &catalog.State{}); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("unknown repo: err = %v, want ErrNotFound", err)
		}
		// Same path, different digests is allowed (repackaging).
		ok := &catalog.State{Refs: []catalog.Ref{{Path: "a", Digest: digest("1")}, {Path: "a", Digest: digest("2")}}}
		if _, err := tx.SetRepoState("r", ok); err != nil {
			t.Errorf("same path, two digests: %v", err)
		}
		id, err := tx.SetRepoState("r", nil)
		if err != nil || id != (&catalog.State{}).ID() {
			t.Errorf("SetRepoState(nil) = %v, %v; want empty state ID", id, err)
		}
		return nil
	})
	if st := stats(t, db); st.States != 1 || st.Chunks != 0 {
		t.Errorf("after setting the empty state: %+v, want 1 state, 0 chunks", st)
	}
}

func TestStateDedupAndRelease(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	db := openTest(t)
	putRepos(t, db, "a", "b", "c")
	s := randState(rng, 5000)
	setState(t, db, "a", s)
	one := stats(t, db)
	if one.States != 1 || one.Chunks < 5 {
		t.Fatalf("one state: %+v", one)
	}
	setState(t, db, "b", s)
	if got := stats(t, db); got.States != 1 || got.Chunks != one.Chunks {
		t.Errorf("same state in two repos: %+v, want %d chunks in 1 state", got, one.Chunks)
	}
	// A near copy shares all but the chunk it changes.
	near := &catalog.State{Refs: slices.Clone(s.Refs)}
	near.Refs[2500].Digest = digest("changed")
	setState(t, db, "c", near)
	got := stats(t, db)
	if got.States != 2 || got.Chunks < one.Chunks+1 || got.Chunks > one.Chunks+3 {
		t.Errorf("near copy: %+v, want 2 states and 1-3 new chunks over %d", got, one.Chunks)
	}
	// Releasing holders deletes what nobody holds any more.
	setState(t, db, "a", &catalog.State{})
	if after := stats(t, db); after.States != 3 || after.Chunks != got.Chunks {
		t.Errorf("after a→empty: %+v, want 3 states and still %d chunks (b holds s)", after, got.Chunks)
	}
	setState(t, db, "b", &catalog.State{})
	if got := stats(t, db); got.States != 2 {
		t.Errorf("after b→empty: States = %d, want 2 (empty, near)", got.States)
	}
	update(t, db, func(tx *catalog.Tx) error { return tx.DeleteRepo("c") })
	if got := stats(t, db); got.States != 1 || got.Chunks != 0 {
		t.Errorf("after releasing every ref chunk: %+v, want only the empty state", got)
	}
}

// refKey renders a ref for diff comparisons.
func refKey(r *catalog.Ref) string {
	keys := slices.Sorted(maps.Keys(r.Attrs))
	var b strings.Builder
	fmt.Fprintf(&b, "%s@%s", r.Path, r.Digest.String()[:8])
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, r.Attrs[k])
	}
	return b.String()
}

func diffStates(tb testing.TB, db *catalog.DB, a, b catalog.StateID) []string {
	tb.Helper()
	var out []string
	var last *catalog.Ref
	view(tb, db, func(tx *catalog.Tx) error {
		return tx.DiffStates(a, b, func(old, new *catalog.Ref) error {
			cur := new
			switch {
			case old == nil:
				out = append(out, "+"+refKey(new))
			case new == nil:
				out = append(out, "-"+refKey(old))
				cur = old
			default:
				if old.Path != new.Path || old.Digest != new.Digest {
					tb.Errorf("changed pair with different keys: %s vs %s", refKey(old), refKey(new))
				}
				out = append(out, "~"+refKey(old)+" → "+refKey(new))
			}
			if last != nil && (last.Path > cur.Path || last.Path == cur.Path && string(last.Digest[:]) >= string(cur.Digest[:])) {
				tb.Errorf("diff out of order: %s after %s", refKey(cur), refKey(last))
			}
			last = cur
			return nil
		})
	})
	return out
}

func naiveDiff(a, b *catalog.State) []string {
	type key struct {
		path string
		d    pool.Digest
	}
	ma, mb := map[key]catalog.Ref{}, map[key]catalog.Ref{}
	for _, r := range a.Refs {
		ma[key{r.Path, r.Digest}] = r
	}
	for _, r := range b.Refs {
		mb[key{r.Path, r.Digest}] = r
	}
	var out []string
	for k, r := range ma {
		if r2, ok := mb[k]; !ok {
			out = append(out, "-"+refKey(&r))
		} else if !maps.Equal(r.Attrs, r2.Attrs) {
			out = append(out, "~"+refKey(&r)+" → "+refKey(&r2))
		}
	}
	for k, r := range mb {
		if _, ok := ma[k]; !ok {
			out = append(out, "+"+refKey(&r))
		}
	}
	return out
}

func TestDiffStates(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	base := randState(rng, 3000)
	n := len(base.Refs)
	mk := func(refs []catalog.Ref) *catalog.State { return &catalog.State{Refs: refs} }
	with := func(i int, r catalog.Ref) *catalog.State { // replace ref i
		refs := slices.Clone(base.Refs)
		refs[i] = r
		return mk(refs)
	}
	without := func(i int) *catalog.State { return mk(slices.Delete(slices.Clone(base.Refs), i, i+1)) }
	added := func(r catalog.Ref) *catalog.State { return mk(append(slices.Clone(base.Refs), r)) }
	newRef := func(path string) catalog.Ref { return catalog.Ref{Path: path, Digest: digest(path)} }
	attrs := func(i int) *catalog.State {
		r := base.Refs[i]
		r.Attrs = map[string]string{"component": "changed"}
		return with(i, r)
	}
	retagged := func(i int) catalog.Ref { r := base.Refs[i]; r.Digest = digest("new"); return r }

	tests := []struct {
		name string
		a, b *catalog.State
		want []string
	}{
		{"identical", base, base, nil},
		{"empty vs empty", &catalog.State{}, &catalog.State{}, nil},
		{"add at start", base, added(newRef("AAA/first.rpm")), []string{"+" + refKey(&catalog.Ref{Path: "AAA/first.rpm", Digest: digest("AAA/first.rpm")})}},
		{"add in middle", base, added(newRef(base.Refs[n/2].Path + "x")), []string{"+" + refKey(&catalog.Ref{Path: base.Refs[n/2].Path + "x", Digest: digest(base.Refs[n/2].Path + "x")})}},
		{"add at end", base, added(newRef("zzz/last.rpm")), []string{"+" + refKey(&catalog.Ref{Path: "zzz/last.rpm", Digest: digest("zzz/last.rpm")})}},
		{"remove first", base, without(0), []string{"-" + refKey(&base.Refs[0])}},
		{"remove middle", base, without(n / 2), []string{"-" + refKey(&base.Refs[n/2])}},
		{"remove last", base, without(n - 1), []string{"-" + refKey(&base.Refs[n-1])}},
		{"replace first digest", base, with(0, retagged(0)), nil},
		{"replace middle digest", base, with(n/2, retagged(n/2)), nil},
		{"replace last digest", base, with(n-1, retagged(n-1)), nil},
		{"attrs at start", base, attrs(0), nil},
		{"attrs at end", base, attrs(n - 1), nil},
		{"empty to full", &catalog.State{}, base, nil},
		{"full to empty", base, &catalog.State{}, nil},
	}
	db := openTest(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ra, rb := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
			putRepos(t, db, ra, rb)
			ida, idb := setState(t, db, ra, tt.a), setState(t, db, rb, tt.b)
			got := diffStates(t, db, ida, idb)
			want := tt.want
			if want == nil {
				want = naiveDiff(tt.a, tt.b)
			}
			slices.Sort(want)
			if diff := cmp.Diff(want, slices.Sorted(slices.Values(got))); diff != "" {
				t.Errorf("diff mismatch (-want +got):\n%s", diff)
			}
			if strings.HasPrefix(tt.name, "replace") && len(got) != 2 {
				t.Errorf("replace: %d changes, want 2 (one removed, one added)", len(got))
			}
			if strings.HasPrefix(tt.name, "attrs") && (len(got) != 1 || got[0][0] != '~') {
				t.Errorf("attrs: got %v, want one change", got)
			}
		})
	}
	t.Run("zero id is empty", func(t *testing.T) {
		putRepos(t, db, "z")
		id := setState(t, db, "z", base)
		if got := diffStates(t, db, catalog.StateID{}, id); len(got) != n {
			t.Errorf("zero→base: %d adds, want %d", len(got), n)
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		err := db.View(t.Context(), func(tx *catalog.Tx) error {
			return tx.DiffStates(catalog.StateID{}, catalog.StateID{1}, func(_, _ *catalog.Ref) error { return nil })
		})
		if !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}

func TestDiffStatesRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	db := openTest(t)
	for iter := range 30 {
		a := randState(rng, rng.IntN(4000))
		b := &catalog.State{Refs: slices.Clone(a.Refs)}
		changes := rng.IntN(50)
		if iter%5 == 0 {
			changes = rng.IntN(2000) // large, overlapping changes too
		}
		for range changes {
			if len(b.Refs) == 0 {
				b.Refs = append(b.Refs, randRef(rng))
				continue
			}
			i := rng.IntN(len(b.Refs))
			switch rng.IntN(4) {
			case 0:
				b.Refs = slices.Delete(b.Refs, i, i+1)
			case 1:
				b.Refs = append(b.Refs, randRef(rng))
			case 2:
				b.Refs[i].Digest = randDigest(rng)
			case 3:
				b.Refs[i].Attrs = map[string]string{"component": fmt.Sprint(rng.IntN(3))}
			}
		}
		b.Sort()
		b.Refs = slices.CompactFunc(b.Refs, func(x, y catalog.Ref) bool { return x.Path == y.Path && x.Digest == y.Digest })
		ra, rb := fmt.Sprintf("a%d", iter), fmt.Sprintf("b%d", iter)
		putRepos(t, db, ra, rb)
		ida, idb := setState(t, db, ra, a), setState(t, db, rb, b)
		for _, dir := range []struct {
			x, y   catalog.StateID
			sx, sy *catalog.State
		}{{ida, idb, a, b}, {idb, ida, b, a}} {
			want := slices.Sorted(slices.Values(naiveDiff(dir.sx, dir.sy)))
			got := slices.Sorted(slices.Values(diffStates(t, db, dir.x, dir.y)))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("iteration %d (%d refs, %d changes): diff mismatch (-want +got):\n%s", iter, len(a.Refs), changes, diff)
			}
		}
	}
}

func TestLiveDigestsAndPrune(t *testing.T) {
	db := openTest(t)
	putRepos(t, db, "a", "b")
	ref := func(name string) catalog.Ref { return catalog.Ref{Path: name + ".rpm", Digest: digest(name)} }
	old := &catalog.State{Refs: []catalog.Ref{ref("x"), ref("y")}, Files: []catalog.File{{Path: "comps.xml", Digest: digest("comps")}}}
	oldID := setState(t, db, "a", old)
	update(t, db, func(tx *catalog.Tx) error {
		if err := tx.PutSnapshot(catalog.Snapshot{Repo: "a", Name: "s", State: oldID}); err != nil {
			return err
		}
		for _, n := range []string{"x", "y", "z", "orphan", "w"} {
			if err := tx.PutItem(catalog.Item{Digest: digest(n), Name: n}); err != nil {
				return err
			}
		}
		return nil
	})
	// The repo moves on; only the snapshot holds x and comps.
	setState(t, db, "a", &catalog.State{Refs: []catalog.Ref{ref("y"), ref("z")}})
	// Same digest under another path in another repo is reported once.
	setState(t, db, "b", &catalog.State{Refs: []catalog.Ref{ref("z"), {Path: "other/z.rpm", Digest: digest("z")}}})

	var live []pool.Digest
	view(t, db, func(tx *catalog.Tx) error {
		return tx.LiveDigests(func(d pool.Digest) error { live = append(live, d); return nil })
	})
	want := []pool.Digest{digest("x"), digest("y"), digest("z"), digest("comps")}
	less := func(a, b pool.Digest) int { return strings.Compare(a.String(), b.String()) }
	slices.SortFunc(want, less)
	slices.SortFunc(live, less)
	if diff := cmp.Diff(want, live); diff != "" {
		t.Errorf("LiveDigests (-want +got):\n%s", diff)
	}

	var pruned int
	update(t, db, func(tx *catalog.Tx) error {
		var err error
		pruned, err = tx.PruneItems()
		return err
	})
	if pruned != 2 {
		t.Errorf("PruneItems = %d, want 2 (orphan, w)", pruned)
	}
	view(t, db, func(tx *catalog.Tx) error {
		for n, want := range map[string]bool{"x": true, "y": true, "z": true, "orphan": false, "w": false} {
			if has, _ := tx.HasItem(digest(n)); has != want {
				t.Errorf("HasItem(%s) = %v, want %v", n, has, want)
			}
		}
		return nil
	})
	// Dropping the snapshot frees x.
	update(t, db, func(tx *catalog.Tx) error {
		if err := tx.DeleteSnapshot("a", "s"); err != nil {
			return err
		}
		n, err := tx.PruneItems()
		if n != 1 {
			t.Errorf("PruneItems after DeleteSnapshot = %d, want 1", n)
		}
		return err
	})
}
