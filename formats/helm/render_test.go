package helm_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest"
	"github.com/chantal-lite/chantal/formats/helm"
	"github.com/chantal-lite/chantal/pool"
)

func render(t testing.TB, f *helm.Format, req formats.RenderRequest) *formattest.MemFS {
	t.Helper()
	out := &formattest.MemFS{}
	req.Sink = out
	if req.Now.IsZero() {
		req.Now = now
	}
	if err := f.Render(context.Background(), req); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return out
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\n%s", name, got)
	}
}

// upstreamFiles keeps the fixture index as the facade does (Kind "top").
func upstreamFiles(data []byte) ([]formats.File, func(context.Context, pool.Digest) (io.ReadCloser, error)) {
	d := pool.Sum(data)
	return []formats.File{{Path: helm.IndexPath, Digest: d, Size: int64(len(data)), Kind: "top"}}, memOpen(map[pool.Digest][]byte{d: data})
}

func TestRenderMirrorGolden(t *testing.T) {
	f := helm.New(nil)
	data := readFixture(t, "repo/index.yaml")
	items := scanAll(t, f, formats.ScanRequest{Top: &formats.TopLevel{Data: data}})
	// Drop one chart as a failed download would: its entry must go.
	var kept []formats.Item
	for _, it := range items {
		if it.Name+"-"+it.Version != "alpha-0.2.0" {
			kept = append(kept, it)
		}
	}
	files, open := upstreamFiles(data)
	out := render(t, f, formats.RenderRequest{Mode: formats.ModeMirror, Items: kept, Files: files, Open: open})
	b, _ := out.Get(helm.IndexPath)
	golden(t, "mirror.yaml", b)
	s := string(b)
	for _, gone := range []string{"alpha-0.2.0", "name: broken", "name: eta\n", "name: zeta"} {
		if strings.Contains(s, gone) {
			t.Errorf("mirror index still names %s", gone)
		}
	}
	for _, kept := range []string{"serverInfo:", "contextPath: /", "sha256:", "generated: \"2026-01-02T03:04:05Z\""} {
		if !strings.Contains(s, kept) {
			t.Errorf("mirror index lost upstream %q", kept)
		}
	}
}

func TestRenderMirrorRewritesRemoteURLs(t *testing.T) {
	f := helm.New(nil)
	data := remoteIndex(t, "https://127.0.0.1:1/", "https://127.0.0.2/x/", "127.0.0.1:5000")
	items := scanAll(t, f, formats.ScanRequest{Top: &formats.TopLevel{Data: data}})
	files, open := upstreamFiles(data)
	out := render(t, f, formats.RenderRequest{Mode: formats.ModeMirror, Items: items, Files: files, Open: open})
	b, _ := out.Get(helm.IndexPath)
	if bytes.Contains(b, []byte("://")) {
		t.Errorf("mirror index still has absolute URLs:\n%s", b)
	}
	ix, err := helm.ParseIndex(b)
	if err != nil || len(ix.Entries) != 3 {
		t.Fatalf("rendered index: %v %v", ix, err)
	}
	for _, e := range ix.Entries {
		if want := "charts/" + e.Name + "-" + e.Version + ".tgz"; e.URLs[0] != want || len(e.URLs) != 1 {
			t.Errorf("%s: urls %v, want [%s]", e.Name, e.URLs, want)
		}
	}
}

func TestRenderFilteredGolden(t *testing.T) {
	f := helm.New(nil)
	items := scanAll(t, f, formats.ScanRequest{Top: &formats.TopLevel{Data: readFixture(t, "repo/index.yaml")}})
	for i := range items {
		items[i].Path = f.PublishPath(items[i])
	}
	// Reverse the order: output must not depend on it.
	for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
		items[i], items[j] = items[j], items[i]
	}
	prov := readFixture(t, "repo/charts/gamma-0.1.0.tgz.prov")
	pd := pool.Sum(prov)
	files := []formats.File{{Path: "charts/gamma-0.1.0.tgz.prov", Digest: pd, Kind: helm.KindProvenance}}
	out := render(t, f, formats.RenderRequest{Mode: formats.ModeFiltered, Items: items, Files: files, Open: memOpen(map[pool.Digest][]byte{pd: prov})})
	b, _ := out.Get(helm.IndexPath)
	golden(t, "filtered.yaml", b)
	if got, _ := out.Get("charts/gamma-0.1.0.tgz.prov"); !bytes.Equal(got, prov) {
		t.Error("provenance file not written next to its chart")
	}
	if bytes.Contains(b, []byte("sha256:")) {
		t.Error("regenerated index has sha256:-prefixed digests")
	}
	var doc struct {
		APIVersion string `yaml:"apiVersion"`
		Generated  string `yaml:"generated"`
		Entries    map[string][]struct {
			Version string   `yaml:"version"`
			URLs    []string `yaml:"urls"`
		} `yaml:"entries"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.APIVersion != "v1" || doc.Generated != "2026-03-04T05:06:07Z" {
		t.Errorf("apiVersion %q generated %q", doc.APIVersion, doc.Generated)
	}
	var order []string
	for _, e := range doc.Entries["alpha"] {
		order = append(order, e.Version)
	}
	if strings.Join(order, " ") != "1.0.0 1.0.0-rc.1 0.2.0 0.1.0" {
		t.Errorf("alpha versions in order %v, want newest SemVer first", order)
	}
}

// Same name and version, new bytes upstream: exactly one entry, the bytes held.
func TestRenderRepackaged(t *testing.T) {
	f := helm.New(nil)
	old, repacked := strings.Repeat("a1", 32), strings.Repeat("b2", 32)
	mk := func(d string) formats.Item {
		dg, _ := pool.Parse(d)
		in := "apiVersion: v1\nentries:\n  a:\n  - {name: a, version: 1.0.0, digest: " + d + ", urls: [a-1.0.0.tgz]}\n"
		items := scanAll(t, f, formats.ScanRequest{Top: &formats.TopLevel{Data: []byte(in)}})
		if len(items) != 1 || items[0].Digest != dg {
			t.Fatalf("scan: %v", items)
		}
		return items[0]
	}
	a, b := mk(old), mk(repacked)
	// The state holds one file per path: the repackaged bytes.
	b.Path = f.PublishPath(b)
	a.Path = f.PublishPath(a)
	for _, items := range [][]formats.Item{{b}, {a, b}} {
		if len(items) == 2 {
			items[0].Path = "charts/a-1.0.0-old.tgz" // two files held: two entries, each with its own digest
		}
		out := render(t, f, formats.RenderRequest{Mode: formats.ModeFiltered, Items: items})
		data, _ := out.Get(helm.IndexPath)
		ix, err := helm.ParseIndex(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(ix.Entries) != len(items) {
			t.Fatalf("%d entries for %d files:\n%s", len(ix.Entries), len(items), data)
		}
		for _, e := range ix.Entries {
			var it *formats.Item
			for i := range items {
				if items[i].Path == e.URLs[0] {
					it = &items[i]
				}
			}
			if it == nil || it.Digest.String() != e.Digest {
				t.Errorf("entry %v does not describe the file at its url", e.URLs)
			}
		}
	}
	// Mirror: upstream now lists the new digest; the held old file is not listed twice.
	in := []byte("apiVersion: v1\nentries:\n  a:\n  - {name: a, version: 1.0.0, digest: " + repacked + ", urls: [a-1.0.0.tgz]}\n")
	files, open := upstreamFiles(in)
	a.Path = "a-1.0.0.tgz"
	out := render(t, f, formats.RenderRequest{Mode: formats.ModeMirror, Items: []formats.Item{a}, Files: files, Open: open})
	data, _ := out.Get(helm.IndexPath)
	if ix, _ := helm.ParseIndex(data); len(ix.Entries) != 1 || ix.Entries[0].Digest != old {
		t.Errorf("mirror of a repackaged chart whose new bytes are not held:\n%s", data)
	}
}

func TestRenderRejectsBadNames(t *testing.T) {
	f := helm.New(nil)
	err := f.Render(context.Background(), formats.RenderRequest{Sink: &formattest.MemFS{}, Mode: formats.ModeHosted,
		Items: []formats.Item{{Path: "charts/x.tgz", Name: "../x", Version: "1.0.0"}}})
	if err == nil {
		t.Error("Render accepted a chart name with a path in it")
	}
}
