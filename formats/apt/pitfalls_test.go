package apt

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/formats"
	"github.com/klauspost/compress/gzip"
)

// Pitfall 41: index decompression is bounded.
func TestScanBoundedDecompression(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(bytes.Repeat([]byte("Package: x\n"), 100000))
	w.Close()
	src := syntheticRepo(t, map[string]string{"main/binary-amd64/Packages.gz": gz.String()})
	err := New(&Options{MaxIndexSize: 1 << 16}).Scan(context.Background(), formats.ScanRequest{Source: src, Params: benchParams}, func(formats.Entry) error { return nil })
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Scan = %v, want ErrTooLarge", err)
	}
}

// Pitfall 48: a bad size in Sources skips that artifact only.
func TestScanSourcesLenient(t *testing.T) {
	h := func(c string) string { return strings.Repeat(c, 64) }
	idx := "Package: s\nVersion: 1-1\nDirectory: pool/main/s/s\nChecksums-Sha256:\n " + h("a") + " 10 s_1-1.dsc\n " + h("b") + " lots s_1.orig.tar.gz\n " + h("c") + " 20 s_1-1.debian.tar.xz\n"
	src := syntheticRepo(t, map[string]string{"main/source/Sources": idx})
	p := map[string]string{"distribution": "x", "components": "main", "architectures": "amd64", "sources": "true"}
	items, _ := scanAll(t, New(nil), formats.ScanRequest{Source: src, Params: p})
	var got []string
	for _, it := range items {
		got = append(got, it.Path)
	}
	if strings.Join(got, " ") != "pool/main/s/s/s_1-1.dsc pool/main/s/s/s_1-1.debian.tar.xz" {
		t.Errorf("items = %v", got)
	}
}

// Pitfall 49: Valid-Until is generated relative to the publish time, never
// copied from upstream.
func TestRenderValidUntil(t *testing.T) {
	p := map[string]string{"distribution": "stable", "components": "main", "architectures": "amd64", "valid_until": "168h"}
	out := renderItems(t, laidOut(t, "repo", stdParams), p)
	rel, _ := out.Get("dists/stable/Release")
	want := "Valid-Until: " + renderNow.Add(168*time.Hour).Format(releaseDate) + "\n"
	if !strings.Contains(string(rel), want) || strings.Contains(string(rel), "2099") {
		t.Errorf("Release lacks %q:\n%s", want, rel)
	}
}

// Pitfall 45: one stanza per published filename, even if two items claim it
// (upstream repackaging: same name, version, arch, new bytes).
func TestRenderOneStanzaPerFilename(t *testing.T) {
	a := fakeItem("greet", "amd64", "Package: greet\nVersion: 1\nArchitecture: amd64\nDescription: old\n")
	b := fakeItem("greet", "amd64", "Package: greet\nVersion: 1\nArchitecture: amd64\nDescription: new\n")
	out := renderItems(t, []formats.Item{a, b}, map[string]string{"distribution": "stable", "components": "main", "architectures": "amd64"})
	pk, _ := out.Get("dists/stable/main/binary-amd64/Packages")
	if n := strings.Count(string(pk), "Filename: "+a.Path+"\n"); n != 1 {
		t.Errorf("%d stanzas for %s:\n%s", n, a.Path, pk)
	}
}
