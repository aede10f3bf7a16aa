package publish

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/pool"
)

// items63k returns 63,000 items laid out like a Debian pool.
func items63k() []formats.Item {
	items := make([]formats.Item, 63000)
	for i := range items {
		name := fmt.Sprintf("pkg%05d", i)
		p := fmt.Sprintf("pool/main/%c/%s/%s_1.0-%d_amd64.deb", name[3], name, name, i%7)
		items[i] = formats.Item{Path: p, Digest: pool.Sum([]byte(p))}
	}
	return items
}

// BenchmarkManifest63k measures what every publish does with manifests at
// 63,000 payloads: check and sort the items, encode the new manifest and
// parse a kept one.
func BenchmarkManifest63k(b *testing.B) {
	in := items63k()
	b.Run("checkItems", func(b *testing.B) {
		for b.Loop() {
			if _, err := checkItems(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	items, err := checkItems(in)
	if err != nil {
		b.Fatal(err)
	}
	m := &manifest{ID: "20261126T120000Z-0123abcd", Key: "k", Created: time.Unix(0, 0), Entries: []string{"dists"}, Items: items}
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeManifest(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	enc, err := encodeManifest(m)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			if _, err := parseManifest(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What a republish does with the current version's manifest: read its
	// lines and compare them with the new items, one of them new.
	dir := b.TempDir()
	if err := os.Mkdir(filepath.Join(dir, versionsDir), 0o755); err != nil {
		b.Fatal(err)
	}
	var ops atomic.Int64
	if err := newTree(dir, false, &ops).writeManifest(m); err != nil {
		b.Fatal(err)
	}
	more := slices.Insert(slices.Clone(items), 100, manifestItem{Path: items[99].Path + "-new", Digest: pool.Sum([]byte("new"))})
	// (The new items' lines are encoded for writing anyway; here with the
	// comparison.)
	b.Run("read-lines-compare", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			old, err := readManifestLines(dir, m.ID)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			next := &manifest{Items: more}
			if err := compareItems(old, next, func(int, bool) error { n++; return nil }, nil); err != nil || n != 1 {
				b.Fatalf("compareItems: %d changed, %v", n, err)
			}
		}
	})
}
