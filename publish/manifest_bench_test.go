package publish

import (
	"fmt"
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
}
