package publish

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/pool"
)

func TestManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, versionsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	want := &manifest{
		ID:      "20261126T120000Z-0123abcd",
		Key:     "state 7\nparams \"x\" ü",
		Created: time.Date(2026, 11, 26, 12, 0, 0, 5, time.FixedZone("x", 3600)),
		Entries: []string{"meta", "top.txt"},
		Items: []manifestItem{
			{Path: "Packages/a b.rpm", Digest: pool.Sum([]byte("a"))},
			{Path: "Packages/c.rpm", Digest: pool.Sum([]byte("c"))},
		},
	}
	var ops atomic.Int64
	if err := newTree(dir, false, &ops).writeManifest(want); err != nil {
		t.Fatal(err)
	}
	got, err := readManifest(dir, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(want.Created) {
		t.Errorf("created %v, want %v", got.Created, want.Created)
	}
	got.Created = want.Created
	want.lines = "" // encoded for writing; read back as Items
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if _, err := readManifest(dir, "20261126T120000Z-ffffffff"); err == nil {
		t.Error("reading a missing manifest succeeded")
	}
}

func TestParseManifestRejects(t *testing.T) {
	h := pool.Sum(nil).String()
	for name, text := range map[string]string{
		"empty":        "",
		"no magic":     "id x\n",
		"escaping":     manifestMagic + "\nitem " + h + " ../x\n",
		"dot entry":    manifestMagic + "\nentry .versions\n",
		"nested entry": manifestMagic + "\nentry a/b\n",
		"short digest": manifestMagic + "\nitem abc x\n",
		"bad key":      manifestMagic + "\nkey unquoted\n",
		"unknown":      manifestMagic + "\nfrobnicate\n",
	} {
		if _, err := parseManifest([]byte(text)); err == nil {
			t.Errorf("%s: parseManifest(%q) succeeded", name, strings.TrimSpace(text))
		}
	}
}

// TestCheckItemsConflictsLikeBruteForce compares checkItems' one-pass
// directory check with the pairwise definition on random trees whose names
// sort between a directory and its contents ("a-b", "a.b" before "a/").
func TestCheckItemsConflictsLikeBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	elems := []string{"a", "a-b", "a.b", "b", "a0", "ab"}
	for round := range 3000 {
		n := 1 + rng.IntN(6)
		seen := map[string]bool{}
		var in []formats.Item
		for len(in) < n {
			depth := 1 + rng.IntN(3)
			var parts []string
			for range depth {
				parts = append(parts, elems[rng.IntN(len(elems))])
			}
			p := strings.Join(parts, "/")
			if seen[p] {
				continue
			}
			seen[p] = true
			in = append(in, formats.Item{Path: p, Digest: pool.Sum([]byte(p))})
		}
		want := false
		for _, x := range in {
			for _, y := range in {
				if strings.HasPrefix(y.Path, x.Path+"/") {
					want = true
				}
			}
		}
		_, err := checkItems(in)
		if got := errors.Is(err, ErrConflict); got != want {
			var paths []string
			for _, it := range in {
				paths = append(paths, it.Path)
			}
			t.Fatalf("round %d: checkItems(%q) = %v, want conflict %v", round, paths, err, want)
		}
	}
}

// TestPlainPathAgreesWithCheckPath: every path the fast test accepts, the
// full rules accept too.
func TestPlainPathAgreesWithCheckPath(t *testing.T) {
	for _, p := range []string{
		"a", "a/b", "Packages/h/hello-1.0.rpm", "pool/main/h/hello/hello_1.0_all.deb",
		"", "/a", ".a", "a/.", "a/..", "a//b", "a/", "./a", "../a", "a\\b", "a\x00b", "a\x7fb", "a\nb",
		"ä/b", ".treeinfo", "a/.hidden", "a/..b", "a/b..", "...",
	} {
		if plainPath(p) && checkPath(p) != nil {
			t.Errorf("plainPath(%q) = true, but checkPath refuses it: %v", p, checkPath(p))
		}
	}
}

func FuzzPlainPath(f *testing.F) {
	f.Add("a/b")
	f.Add("a/../b")
	f.Fuzz(func(t *testing.T, p string) {
		if plainPath(p) && checkPath(p) != nil {
			t.Fatalf("plainPath(%q) = true, but checkPath refuses it: %v", p, checkPath(p))
		}
	})
}

// TestCompareItemsLikeMaps checks compareItems, which reads a manifest's
// item lines without decoding the equal ones, against the same comparison
// done with maps of fully parsed manifests.
func TestCompareItemsLikeMaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, versionsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	var ops atomic.Int64
	tr := newTree(dir, false, &ops)
	random := func() []manifestItem {
		seen := map[string]bool{}
		var out []manifestItem
		for range rng.IntN(12) {
			p := fmt.Sprintf("pool/%c/p%d.deb", 'a'+rng.IntN(3), rng.IntN(8))
			if !seen[p] {
				seen[p] = true
				out = append(out, manifestItem{Path: p, Digest: pool.Sum([]byte{byte(rng.IntN(2))})})
			}
		}
		slices.SortFunc(out, func(a, b manifestItem) int { return strings.Compare(a.Path, b.Path) })
		return out
	}
	for round := range 2000 {
		old := &manifest{ID: fmt.Sprintf("20261126T120000Z-%08d", round), Created: time.Unix(0, 0), Items: random()}
		if err := tr.writeManifest(old); err != nil {
			t.Fatal(err)
		}
		lazy, err := readManifestLines(dir, old.ID)
		if err != nil {
			t.Fatal(err)
		}
		items := random()
		oldBy := map[string]pool.Digest{}
		for _, it := range old.Items {
			oldBy[it.Path] = it.Digest
		}
		newBy := map[string]bool{}
		var wantChanged, wantGone, gotChanged, gotGone []string
		for _, it := range items {
			newBy[it.Path] = true
			if d, ok := oldBy[it.Path]; !ok || d != it.Digest {
				wantChanged = append(wantChanged, fmt.Sprint(it.Path, " ", ok))
			}
		}
		for _, it := range old.Items {
			if !newBy[it.Path] {
				wantGone = append(wantGone, it.Path)
			}
		}
		err = compareItems(lazy, &manifest{Items: items}, func(i int, existed bool) error {
			gotChanged = append(gotChanged, fmt.Sprint(items[i].Path, " ", existed))
			return nil
		}, func(p string) error {
			gotGone = append(gotGone, p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(gotChanged, wantChanged) || !slices.Equal(gotGone, wantGone) {
			t.Fatalf("round %d: changed %q gone %q, want %q and %q", round, gotChanged, gotGone, wantChanged, wantGone)
		}
	}
}

func TestReadManifestLinesRejects(t *testing.T) {
	h := pool.Sum(nil).String()
	head := manifestMagic + "\nid 20261126T120000Z-00000000\n"
	for name, text := range map[string]string{
		"out of order":   head + "item " + h + " b\nitem " + h + " a\n",
		"twice":          head + "item " + h + " a\nitem " + h + " a\n",
		"not an item":    head + "item " + h + " a\nentry x\n",
		"short digest":   head + "item abc x\n",
		"no path":        head + "item " + h + " \n",
		"unterminated":   head + "item " + h + " a",
		"bad head":       manifestMagic + "\nfrobnicate\nitem " + h + " a\n",
		"other version":  manifestMagic + "\nid 20261126T120000Z-11111111\n",
		"entry in items": head + "item " + h + " a\nentry x\nitem " + h + " b\n",
	} {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, versionsDir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, versionsDir, "20261126T120000Z-00000000.manifest"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readManifestLines(dir, "20261126T120000Z-00000000"); err == nil {
			t.Errorf("%s: readManifestLines succeeded", name)
		}
	}
	// A path is checked when it is handed on: an escaping one is an error.
	m := &manifest{lines: "item " + h + " ../x\n"}
	if err := compareItems(m, &manifest{}, nil, func(string) error { return nil }); err == nil {
		t.Error("compareItems handed on ../x")
	}
}
