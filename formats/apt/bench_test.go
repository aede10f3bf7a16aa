package apt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest"
	"github.com/klauspost/compress/gzip"
)

// benchStanzas is the size of Debian bookworm main amd64's Packages.
const benchStanzas = 63000

// genPackages writes n realistic stanzas (~750 bytes each, like Debian's).
func genPackages(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		h := hex.EncodeToString(sum[:])
		fmt.Fprintf(&b, "Package: pkg%d\nSource: src%d\nVersion: 1:%d.%d-%d+deb12u1\nInstalled-Size: %d\nMaintainer: Debian Maintainers <pkg-maint%d@lists.example.invalid>\nArchitecture: %s\n",
			i, i/3, i%17, i%101, i%7, i*3%9000, i%50, map[bool]string{true: "all", false: "amd64"}[i%5 == 0])
		fmt.Fprintf(&b, "Depends: libc6 (>= 2.34), libssl3 (>= 3.0.0), pkg%d (= ${binary:Version}) | pkg%d, zlib1g (>= 1:1.1.4)\nDescription: package number %d of the benchmark\nHomepage: https://example.invalid/pkg%d\n", (i+1)%n, (i+2)%n, i, i)
		fmt.Fprintf(&b, "Description-md5: %s\nTag: devel::library, implemented-in::c, role::shared-lib\nSection: libs\nPriority: optional\n", h[:32])
		fmt.Fprintf(&b, "Filename: pool/main/s/src%d/pkg%d_%d.%d-%d+deb12u1_amd64.deb\nSize: %d\nMD5sum: %s\nSHA256: %s\n\n", i/3, i, i%17, i%101, i%7, 10000+i, h[:32], h)
	}
	return b.Bytes()
}

func benchRepo(b testing.TB) (*formattest.MemFS, int) {
	raw := genPackages(benchStanzas)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(raw)
	w.Close()
	return syntheticRepo(b, map[string]string{"main/binary-amd64/Packages.gz": gz.String()}), len(raw)
}

var benchParams = map[string]string{"distribution": "x", "components": "main", "architectures": "amd64"}

// BenchmarkScan63k is ingest: Release, verified Packages.gz, 63,000 items
// with their verbatim stanzas (what the caller keeps).
func BenchmarkScan63k(b *testing.B) {
	src, size := benchRepo(b)
	f := New(nil)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		items := make([]formats.Item, 0, benchStanzas)
		err := f.Scan(context.Background(), formats.ScanRequest{Source: src, Params: benchParams}, func(e formats.Entry) error {
			if e.Item != nil {
				items = append(items, *e.Item)
				n++
			}
			return nil
		})
		if err != nil || n != benchStanzas {
			b.Fatalf("Scan: %v, %d items", err, n)
		}
	}
}

func benchItems(b testing.TB) []formats.Item {
	src, _ := benchRepo(b)
	f := New(nil)
	var items []formats.Item
	if err := f.Scan(context.Background(), formats.ScanRequest{Source: src, Params: benchParams}, func(e formats.Entry) error {
		if e.Item != nil {
			it := *e.Item
			it.Path = f.PublishPath(it)
			items = append(items, it)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return items
}

type nullSink struct{}

type nullWriter struct{}

func (nullWriter) Write(p []byte) (int, error) { return len(p), nil }
func (nullWriter) Close() error                { return nil }

func (nullSink) Create(context.Context, string) (io.WriteCloser, error) { return nullWriter{}, nil }

// BenchmarkRender63k renders Packages, .gz and .xz of one component (xz
// dominates), unsigned.
func BenchmarkRender63k(b *testing.B) {
	items := benchItems(b)
	f := New(nil)
	p := map[string]string{"distribution": "x", "components": "main", "architectures": "amd64", "by_hash": "false"}
	b.ReportAllocs()
	for b.Loop() {
		if err := f.Render(context.Background(), formats.RenderRequest{Sink: nullSink{}, Mode: formats.ModeFiltered, Items: items, Params: p, Now: renderNow}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRepublish63k renders 63,000 items (in Path order, as the
// facade gives them) through a piece cache, with by-hash copies, unsigned:
// "first" from an empty cache, "one-change" after changing one item's
// stanza since the previous render. The cache is in memory (the facade's is
// on disk).
func BenchmarkRepublish63k(b *testing.B) {
	items := benchItems(b)
	slices.SortFunc(items, func(a, b formats.Item) int { return strings.Compare(a.Path, b.Path) })
	f := New(nil)
	p := map[string]string{"distribution": "x", "components": "main", "architectures": "amd64"}
	render := func(cache formats.PieceCache, items []formats.Item) {
		err := formats.RenderPieces(context.Background(), f, formats.RenderRequest{Sink: nullSink{}, Mode: formats.ModeFiltered, Items: items, Params: p, Now: renderNow},
			&formats.PieceOptions{Cache: cache})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		c0 := cpuTime()
		for b.Loop() {
			render(&formattest.MemCache{}, items)
		}
		b.ReportMetric((cpuTime()-c0).Seconds()/float64(b.N), "cpu-s/op")
	})
	b.Run("one-change", func(b *testing.B) {
		cache := &formattest.MemCache{}
		render(cache, items)
		k := len(items) / 2
		orig := items[k]
		defer func() { items[k] = orig }()
		n := 0
		b.ReportAllocs()
		c0 := cpuTime()
		for b.Loop() {
			n++
			items[k] = changeOne(items[k:k+1], 0, fmt.Sprint("v", n))[0]
			render(cache, items)
		}
		b.ReportMetric((cpuTime()-c0).Seconds()/float64(b.N), "cpu-s/op")
	})
}

// cpuTime is the process's user and system time so far: on a shared,
// loaded machine it varies less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
