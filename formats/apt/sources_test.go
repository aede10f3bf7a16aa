package apt

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest"
	"github.com/chantal-lite/chantal/pool"
)

var srcParams = map[string]string{"distribution": "stable", "components": "main", "architectures": "amd64", "sources": "true"}

// countingFS counts the opens of each path.
type countingFS struct {
	*formattest.MemFS
	mu    sync.Mutex
	opens map[string]int
}

func (c *countingFS) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	c.mu.Lock()
	if c.opens == nil {
		c.opens = map[string]int{}
	}
	c.opens[p]++
	c.mu.Unlock()
	return c.MemFS.Open(ctx, p)
}

// verifiedTop returns the fixture's verified top-level document.
func verifiedTop(t *testing.T, f *Format, src formats.Source, req formats.ScanRequest) *formats.TopLevel {
	t.Helper()
	top, sig, err := f.TopLevel(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := src.Open(context.Background(), top)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	tl := &formats.TopLevel{Path: top, Data: data}
	if sig != "" {
		if b, ok := loadTree(t, "repo-src").Get(sig); ok {
			tl.Signature = b
		}
	}
	if err := f.Verify(context.Background(), tl, fixtureKeyring(t)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return tl
}

// Sources: every artifact is one item, the .dsc carries the stanza, and an
// orig tarball shared by two revisions is one item with the higher version
// (so that keeping the latest revision keeps it with its .dsc).
func TestScanSources(t *testing.T) {
	f := New(nil)
	src := loadTree(t, "repo-src")
	req := formats.ScanRequest{Source: src, Mode: formats.ModeMirror, Params: srcParams}
	req.Top = verifiedTop(t, f, src, req)
	items, files := scanAll(t, f, req)
	bySrc := map[string]formats.Item{}
	for _, it := range items {
		if it.Arch == "source" {
			bySrc[filepath.Base(it.Path)] = it
		}
	}
	want := map[string]string{
		"greet_1.1-1.dsc": "1.1-1", "greet_1.1-1.debian.tar.xz": "1.1-1",
		"greet_1.1-2.dsc": "1.1-2", "greet_1.1-2.debian.tar.xz": "1.1-2",
		"greet_1.1.orig.tar.gz": "1.1-2",
	}
	if len(bySrc) != len(want) {
		t.Errorf("source items %v, want %v", keys(bySrc), want)
	}
	for fn, v := range want {
		it, ok := bySrc[fn]
		if !ok {
			t.Errorf("no item for %s", fn)
			continue
		}
		if it.Version != v || it.Name != "greet" || it.Fields["component"] != "main" {
			t.Errorf("%s: %s %s %v", fn, it.Name, it.Version, it.Fields)
		}
		if b, ok := src.Get(it.Path); !ok || pool.Sum(b) != it.Digest || int64(len(b)) != it.Size {
			t.Errorf("%s: path %s does not hold the declared bytes", fn, it.Path)
		}
		if (strings.HasSuffix(fn, ".dsc")) != (len(it.Fragments[FragmentStanza]) > 0) {
			t.Errorf("%s: stanza %q", fn, it.Fragments[FragmentStanza])
		}
	}
	// Binaries: the fixture ones and the two real Debian packages.
	var bins []formats.Item
	for _, it := range items {
		if it.Arch != "source" {
			bins = append(bins, it)
		}
	}
	got := names(bins)
	for _, w := range []string{"node-once=1.4.0-7", "node-wrappy=1.0.2-3", "greet=1.1-1", "greet-data=1.0-1"} {
		if got[w] != 1 {
			t.Errorf("%s yielded %d times", w, got[w])
		}
	}
	fp := map[string]formats.File{}
	for _, fl := range files {
		fp[fl.Path] = fl
		if !fl.MirrorOnly {
			t.Errorf("%s is not MirrorOnly", fl.Path)
		}
	}
	for _, p := range []string{"dists/stable/main/source/Sources.gz", "dists/stable/main/source/Sources.xz", "dists/stable/Release", "dists/stable/Release.gpg"} {
		fl, ok := fp[p]
		if !ok {
			t.Errorf("mirror files lack %s", p)
			continue
		}
		b, _ := src.Get(p)
		if fl.Digest != pool.Sum(b) || fl.Size != int64(len(b)) {
			t.Errorf("%s: digest/size do not match upstream's bytes", p)
		}
	}
	// Variants the scan did not read may be absent (Debian lists uncompressed
	// indexes it does not ship): the caller's download skips them.
	for p, optional := range map[string]bool{"dists/stable/main/source/Sources": true, "dists/stable/main/source/Sources.xz": true,
		"dists/stable/main/binary-amd64/Packages": true, "dists/stable/main/source/Sources.gz": false,
		"dists/stable/main/binary-amd64/Packages.gz": false, "dists/stable/Release": false} {
		if fl, ok := fp[p]; !ok || fl.Optional != optional {
			t.Errorf("%s: yielded %v, Optional %v; want Optional %v", p, ok, fl.Optional, optional)
		}
	}
	// Without sources: true no source item and no Sources file.
	p := map[string]string{"distribution": "stable", "components": "main", "architectures": "amd64"}
	items, files = scanAll(t, f, formats.ScanRequest{Source: src, Mode: formats.ModeMirror, Params: p, Top: req.Top})
	for _, it := range items {
		if it.Arch == "source" {
			t.Errorf("source item %s without sources: true", it.Path)
		}
	}
	for _, fl := range files {
		if strings.Contains(fl.Path, "/source/") {
			t.Errorf("Sources file %s without sources: true", fl.Path)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Mirror mode republishes Release and Release.gpg next to InRelease, but not
// a Release that says something else than the verified InRelease.
func TestScanReleaseCopies(t *testing.T) {
	f := New(nil)
	src := loadTree(t, "repo-src")
	req := formats.ScanRequest{Source: src, Mode: formats.ModeMirror, Params: srcParams}
	req.Top = verifiedTop(t, f, src, req)
	rel, _ := src.Get("dists/stable/Release")
	src.Put("dists/stable/Release", append(bytes.Clone(rel), "X-Extra: forged\n"...))
	_, files := scanAll(t, f, req)
	for _, fl := range files {
		if fl.Path == "dists/stable/Release" || fl.Path == "dists/stable/Release.gpg" {
			t.Errorf("%s yielded although Release differs from InRelease", fl.Path)
		}
	}
	// Filtered mode reads neither.
	src.Put("dists/stable/Release", rel)
	c := &countingFS{MemFS: src}
	req.Source, req.Mode = c, formats.ModeFiltered
	scanAll(t, f, req)
	if c.opens["dists/stable/Release"]+c.opens["dists/stable/Release.gpg"] != 0 {
		t.Errorf("filtered scan read Release copies: %v", c.opens)
	}
}

// Mirror mode probes nothing: Scan opens only the indexes it reads (and the
// Release copies next to an InRelease), each once. The files that may be
// absent (compression variants of an index listed in several, plain and
// by-hash copies with Acquire-By-Hash) are Optional; a file listed once in a
// repository without by-hash is not.
func TestScanMirrorNoProbes(t *testing.T) {
	f := New(nil)
	for _, tc := range []struct {
		dir      string
		optional bool
	}{{"repo-xz", false}, {"repo", true}, {"repo-byhash", true}, {"repo-src", true}} {
		params := stdParams
		if tc.dir == "repo-src" {
			params = srcParams
		}
		c := &countingFS{MemFS: loadTree(t, tc.dir)}
		req := formats.ScanRequest{Source: c, Mode: formats.ModeMirror, Params: params}
		req.Top = verifiedTop(t, f, c.MemFS, req)
		c.opens = nil
		_, files := scanAll(t, f, req)
		read := map[string]bool{}
		for p, n := range c.opens {
			if n > 1 {
				t.Errorf("%s: %s opened %d times", tc.dir, p, n)
			}
			read[p] = true
		}
		optional := 0
		for _, fl := range files {
			_, exists := c.Get(fl.Path)
			switch {
			case fl.Optional:
				optional++
				if read[fl.Path] {
					t.Errorf("%s: %s was read by the scan but is Optional", tc.dir, fl.Path)
				}
			case !exists:
				t.Errorf("%s: %s is absent upstream and not Optional", tc.dir, fl.Path)
			}
		}
		for p := range read {
			if strings.HasSuffix(p, "/Packages") || strings.HasSuffix(p, "/Sources") {
				t.Errorf("%s: the scan probed %s", tc.dir, p)
			}
		}
		if tc.optional != (optional > 0) {
			t.Errorf("%s: %d Optional files, want some = %v", tc.dir, optional, tc.optional)
		}
		if len(files) == 0 {
			t.Errorf("%s: no mirror files", tc.dir)
		}
	}
}

// Filtered Sources: Directory is where the .dsc is published, and a source
// package missing one of its files is left out instead of sending clients
// after it.
func TestRenderSources(t *testing.T) {
	items := laidOut(t, "repo-src", srcParams)
	out := renderItems(t, items, srcParams)
	got, ok := out.Get("dists/stable/main/source/Sources")
	if !ok {
		t.Fatalf("no Sources: %v", out.Paths())
	}
	golden := filepath.Join("testdata", "golden", "dists_stable_main_source_Sources")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if want, err := os.ReadFile(golden); err != nil || !bytes.Equal(got, want) {
		t.Errorf("Sources differs from %s (%v):\n%s", golden, err, got)
	}
	if strings.Count(string(got), "Directory: pool/main/g/greet\n") != 2 {
		t.Errorf("Directory not rewritten:\n%s", got)
	}
	rel, _ := out.Get("dists/stable/Release")
	for _, w := range []string{" main/source/Sources\n", " main/source/Sources.gz\n", " main/source/Sources.xz\n"} {
		if !strings.Contains(string(rel), w) {
			t.Errorf("Release lacks %q", w)
		}
	}
	// Drop the 1.1-1 debian tarball: that revision is no longer listed.
	var kept []formats.Item
	for _, it := range items {
		if !strings.HasSuffix(it.Path, "greet_1.1-1.debian.tar.xz") {
			kept = append(kept, it)
		}
	}
	out = renderItems(t, kept, srcParams)
	got, _ = out.Get("dists/stable/main/source/Sources")
	if strings.Contains(string(got), "Version: 1.1-1\n") || !strings.Contains(string(got), "Version: 1.1-2\n") {
		t.Errorf("Sources with a missing tarball:\n%s", got)
	}
}

// The component of a regenerated index is the one of the published path, so
// index and pool agree even when the (digest-keyed) item's fields name
// another component, as when the same .deb is uploaded to two repositories.
func TestRenderComponentFromPath(t *testing.T) {
	it := fakeItem("greet", "amd64", "Package: greet\nVersion: 1\nArchitecture: amd64\n")
	it.Fields["component"] = "contrib"
	it.Path = "pool/main/g/greet/greet_1_amd64.deb"
	p := map[string]string{"distribution": "stable", "components": "main,contrib", "architectures": "amd64"}
	out := renderItems(t, []formats.Item{it}, p)
	main, _ := out.Get("dists/stable/main/binary-amd64/Packages")
	contrib, _ := out.Get("dists/stable/contrib/binary-amd64/Packages")
	if !strings.Contains(string(main), "Filename: pool/main/g/greet/greet_1_amd64.deb\n") || len(contrib) != 0 {
		t.Errorf("main:\n%s\ncontrib:\n%s", main, contrib)
	}
	// PublishPath and Render agree for every component source.
	f := New(nil)
	for _, c := range []string{"", "contrib", "non-free-firmware", "bad/../x"} {
		it := fakeItem("greet", "amd64", "Package: greet\nVersion: 1\nArchitecture: amd64\n")
		it.Fields["component"] = c
		it.Path = f.PublishPath(it)
		if got, want := componentOf(&it, "main"), strings.Split(it.Path, "/")[1]; got != want {
			t.Errorf("component %q: Render uses %q, PublishPath %q", c, got, it.Path)
		}
	}
}

// Real Debian packages (fetched by make-fixtures.sh with apt-get download):
// Inspect reads their control stanza verbatim, and the item describes the
// file as Debian's own Packages index does.
func TestInspectRealDebs(t *testing.T) {
	f := New(nil)
	want := map[string]string{"node-once": "1.4.0-7", "node-wrappy": "1.0.2-3"}
	ms, _ := filepath.Glob(filepath.Join(fixtures, "real-debs", "main", "n", "*", "*.deb"))
	if len(ms) != len(want) {
		t.Fatalf("found %d real debs", len(ms))
	}
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		it, err := f.Inspect(context.Background(), bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("Inspect %s: %v", m, err)
		}
		if want[it.Name] != it.Version || it.Arch != "all" || it.Path != filepath.Base(m) || it.Digest != pool.Sum(b) {
			t.Errorf("Inspect %s = %s %s %s %s", m, it.Name, it.Version, it.Arch, it.Path)
		}
		st := string(it.Fragments[FragmentStanza])
		for _, w := range []string{"Multi-Arch: foreign\n", "Maintainer: ", "Homepage: "} {
			if !strings.Contains(st, w) {
				t.Errorf("%s: stanza lacks %q:\n%s", it.Name, w, st)
			}
		}
		if it.Name == "node-once" && !strings.Contains(st, "Depends: node-wrappy\n") {
			t.Errorf("node-once: no Depends:\n%s", st)
		}
		if it.Fields["section"] == "" || it.Fields["priority"] == "" {
			t.Errorf("%s: fields %v", it.Name, it.Fields)
		}
	}
}
