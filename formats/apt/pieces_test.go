package apt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest"
	"github.com/chantal-lite/chantal/pool"
)

// countingFormat counts RenderPiece calls.
type countingFormat struct {
	*Format
	calls atomic.Int64
}

func (c *countingFormat) RenderPiece(ctx context.Context, req formats.PieceRequest, it *formats.Item, emit func(string, []byte)) error {
	c.calls.Add(1)
	return c.Format.RenderPiece(ctx, req, it, emit)
}

// manyItems are n binary packages in Path order, every fifth of
// architecture all, over two components.
func manyItems(n int) []formats.Item {
	items := make([]formats.Item, n)
	for i := range items {
		name := fmt.Sprintf("pkg%05d", i)
		arch := "amd64"
		if i%5 == 0 {
			arch = "all"
		}
		comp := []string{"main", "contrib"}[i%2]
		stanza := fmt.Sprintf("Package: %s\nVersion: 1.%d\nArchitecture: %s\nDepends: libc6\nDescription: package %d\n long description\n .\n more\nFilename: upstream/%s.deb\nSize: 1\n", name, i, arch, i, name)
		d := pool.Sum([]byte(stanza))
		items[i] = formats.Item{Path: "pool/" + comp + "/p/" + name + "/" + name + "_1_" + arch + ".deb", Size: int64(100 + i), Digest: d,
			Checksums: formats.Checksums{"sha256": d.String(), "md5": strings.Repeat("ab", 16)}, Name: name, Version: fmt.Sprintf("1.%d", i), Arch: arch,
			Fields: map[string]string{"component": comp, "suite": "stable", "codename": "bookworm"}, Fragments: map[string][]byte{FragmentStanza: []byte(stanza)}}
	}
	slices.SortFunc(items, func(a, b formats.Item) int { return strings.Compare(a.Path, b.Path) })
	return items
}

// changeOne returns items with the i-th one's description changed (a new
// digest, as a repackaged upload).
func changeOne(items []formats.Item, i int, desc string) []formats.Item {
	out := slices.Clone(items)
	it := out[i]
	st := strings.Replace(string(it.Fragments[FragmentStanza]), "Description: package", "Description: "+desc+" package", 1)
	it.Fragments = map[string][]byte{FragmentStanza: []byte(st)}
	it.Digest = pool.Sum([]byte(st))
	it.Checksums = formats.Checksums{"sha256": it.Digest.String()}
	out[i] = it
	return out
}

// checkByHash checks that every by-hash copy holds the bytes its name says.
func checkByHash(t *testing.T, what string, out *formattest.MemFS) {
	t.Helper()
	n := 0
	for _, p := range out.Paths() {
		dir, sum := path.Split(p)
		b, _ := out.Get(p)
		var got string
		switch {
		case strings.HasSuffix(dir, "/by-hash/SHA256/"):
			s := sha256.Sum256(b)
			got = hex.EncodeToString(s[:])
		case strings.HasSuffix(dir, "/by-hash/SHA512/"):
			s := sha512.Sum512(b)
			got = hex.EncodeToString(s[:])
		default:
			continue
		}
		n++
		if got != sum {
			t.Errorf("%s: %s holds other bytes", what, p)
		}
	}
	if n == 0 {
		t.Errorf("%s: no by-hash copies", what)
	}
}

func sameFiles(t *testing.T, what string, got, want *formattest.MemFS) {
	t.Helper()
	if g, w := got.Paths(), want.Paths(); !slices.Equal(g, w) {
		t.Fatalf("%s: paths %v, want %v", what, g, w)
	}
	for _, p := range want.Paths() {
		g, _ := got.Get(p)
		w, _ := want.Get(p)
		if !bytes.Equal(g, w) {
			t.Errorf("%s: %s differs", what, p)
		}
	}
}

// A republish after a one-item change renders the pieces of that item's
// segment only, and the cached render gives the bytes of an uncached one.
func TestRenderPiecesCached(t *testing.T) {
	const n = 3000
	items := manyItems(n)
	params := map[string]string{"distribution": "stable", "components": "main,contrib", "architectures": "amd64,arm64"}
	cf := &countingFormat{Format: New(nil)}
	cache := &formattest.MemCache{}
	render := func(items []formats.Item) *formattest.MemFS {
		out := &formattest.MemFS{}
		err := formats.RenderPieces(context.Background(), cf, formats.RenderRequest{Sink: out, Mode: formats.ModeFiltered, Items: items, Params: params, Now: renderNow},
			&formats.PieceOptions{Cache: cache})
		if err != nil {
			t.Fatalf("RenderPieces: %v", err)
		}
		return out
	}
	first := render(items)
	if got := cf.calls.Load(); got != n {
		t.Fatalf("first render: %d RenderPiece calls, want %d", got, n)
	}
	sameFiles(t, "first render", first, renderItems(t, items, params))

	cf.calls.Store(0)
	again := render(items)
	if got := cf.calls.Load(); got != 0 {
		t.Errorf("unchanged render: %d RenderPiece calls, want 0", got)
	}
	sameFiles(t, "unchanged render", again, first)

	changed := changeOne(items, n/2, "changed")
	cf.calls.Store(0)
	second := render(changed)
	calls := cf.calls.Load()
	if calls == 0 || calls > 1024 || calls > n/4 {
		t.Errorf("one-item change: %d RenderPiece calls of %d items", calls, n)
	}
	want := renderItems(t, changed, params)
	sameFiles(t, "one-item change", second, want)
	checkByHash(t, "one-item change", second)
	pk, _ := want.Get("dists/stable/" + componentOf(&changed[n/2], "") + "/binary-amd64/Packages")
	if !bytes.Contains(pk, []byte("Description: changed package")) {
		t.Error("the changed stanza is not in its Packages")
	}
	rel, _ := want.Get("dists/stable/Release")
	if !bytes.Contains(rel, []byte("Suite: stable\nCodename: bookworm\n")) {
		t.Errorf("Suite and Codename of the items not in the Release:\n%s", rel)
	}
}

// Sources through the cache: a .dsc whose tarball goes missing is left out
// (Sources then written from its content), and comes back with it.
func TestRenderPiecesSourcesCached(t *testing.T) {
	items := laidOut(t, "repo-src", srcParams)
	slices.SortFunc(items, func(a, b formats.Item) int { return strings.Compare(a.Path, b.Path) })
	cache := &formattest.MemCache{}
	f := New(nil)
	render := func(items []formats.Item) *formattest.MemFS {
		out := &formattest.MemFS{}
		err := formats.RenderPieces(context.Background(), f, formats.RenderRequest{Sink: out, Mode: formats.ModeFiltered, Items: items, Params: srcParams, Now: renderNow},
			&formats.PieceOptions{Cache: cache})
		if err != nil {
			t.Fatalf("RenderPieces: %v", err)
		}
		return out
	}
	full := render(items)
	sameFiles(t, "sources", full, renderItems(t, items, srcParams))
	var kept []formats.Item
	for _, it := range items {
		if !strings.HasSuffix(it.Path, "greet_1.1-1.debian.tar.xz") {
			kept = append(kept, it)
		}
	}
	less := render(kept)
	sameFiles(t, "missing tarball", less, renderItems(t, kept, srcParams))
	got, _ := less.Get("dists/stable/main/source/Sources")
	if strings.Contains(string(got), "Version: 1.1-1\n") || !strings.Contains(string(got), "Version: 1.1-2\n") {
		t.Errorf("Sources with a missing tarball:\n%s", got)
	}
	sameFiles(t, "tarball back", render(items), full)
}

// Components and architectures no index lists a package of still name the
// Release's Components and Architectures, as the items they come from.
func TestRenderUnlistedNames(t *testing.T) {
	bad := fakeItem("broken", "arm64", "Package: other\nVersion: 1\n")
	bad.Path = "pool/contrib/b/broken/broken_1_arm64.deb"
	ok := fakeItem("ok", "amd64", "Package: ok\nVersion: 1\nArchitecture: amd64\n")
	out := renderItems(t, []formats.Item{ok, bad}, map[string]string{"distribution": "stable"})
	rel, _ := out.Get("dists/stable/Release")
	if !strings.Contains(string(rel), "Architectures: amd64 arm64\nComponents: contrib main\n") {
		t.Errorf("Release:\n%s", rel)
	}
	pk, _ := out.Get("dists/stable/contrib/binary-arm64/Packages")
	if _, listed := out.Get("dists/stable/contrib/binary-arm64/Packages.gz"); !listed || len(pk) != 0 {
		t.Errorf("contrib arm64 Packages %q (compressed written: %v)", pk, listed)
	}
}

// The stanzas of the indexes come in Path order, those of the
// architecture first, then those of "all", whatever the items' order.
func TestRenderPathOrder(t *testing.T) {
	items := manyItems(40)
	rev := slices.Clone(items)
	slices.Reverse(rev)
	params := map[string]string{"distribution": "stable", "components": "main,contrib", "architectures": "amd64"}
	out := renderItems(t, rev, params)
	sameFiles(t, "reversed items", out, renderItems(t, items, params))
	pk, _ := out.Get("dists/stable/main/binary-amd64/Packages")
	var got []string
	for _, ln := range strings.Split(string(pk), "\n") {
		if p, ok := strings.CutPrefix(ln, "Filename: "); ok {
			got = append(got, p)
		}
	}
	var want, all []string
	for _, it := range items {
		switch {
		case componentOf(&it, "") != "main":
		case it.Arch == "all":
			all = append(all, it.Path)
		default:
			want = append(want, it.Path)
		}
	}
	if want = append(want, all...); !slices.Equal(got, want) {
		t.Errorf("Packages order\n%v\nwant\n%v", got, want)
	}
}
