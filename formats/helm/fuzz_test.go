package helm_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest"
	"github.com/chantal-lite/chantal/formats/helm"
	"github.com/chantal-lite/chantal/pool"
)

// FuzzParseIndex: no input panics, and whatever Scan yields renders into an
// index that parses back to the same charts with confined paths.
func FuzzParseIndex(f *testing.F) {
	f.Add(readFixture(f, "repo/index.yaml"))
	f.Add(remoteIndex(f, "http://h/", "http://o/", "r:1"))
	f.Add([]byte("entries:\n  a:\n  - {name: a, version: 1.0.0, urls: [a.tgz], digest: sha256:" + strings.Repeat("ab", 32) + "}\n"))
	f.Add([]byte("entries: &x {a: *x}\n"))
	f.Add([]byte("entries:\n  a: [{<<: {name: a}, version: 1.0.0, urls: [x]}]\n"))
	fm := helm.New(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := helm.ParseIndex(data); err != nil {
			return
		}
		var items []formats.Item
		err := fm.Scan(context.Background(), formats.ScanRequest{Top: &formats.TopLevel{Data: data}, Params: map[string]string{helm.ParamAllowDigestless: "true"}},
			func(e formats.Entry) error { items = append(items, *e.Item); return nil })
		if err != nil {
			t.Fatalf("Scan after a successful parse: %v", err)
		}
		for i := range items {
			if err := formattest.CheckPath(items[i].Path); err != nil {
				t.Fatalf("unconfined path: %v", err)
			}
			items[i].Path = fm.PublishPath(items[i])
		}
		out := &formattest.MemFS{}
		if err := fm.Render(context.Background(), formats.RenderRequest{Sink: out, Mode: formats.ModeFiltered, Items: items, Now: now}); err != nil {
			t.Fatalf("Render: %v", err)
		}
		b, _ := out.Get(helm.IndexPath)
		ix, err := helm.ParseIndex(b)
		if err != nil {
			t.Fatalf("rendered index does not parse: %v\n%s", err, b)
		}
		if len(ix.Entries) != len(items) {
			t.Fatalf("rendered %d entries for %d items:\n%s", len(ix.Entries), len(items), b)
		}
	})
}

// bigIndex is an index of n chart versions (n/20 charts × 20 versions), with
// entries the size of real ones (~600 bytes).
func bigIndex(n int) []byte {
	var b bytes.Buffer
	b.Grow(n * 660)
	b.WriteString("apiVersion: v1\nentries:\n")
	for c := 0; c < n/20; c++ {
		fmt.Fprintf(&b, "  chart-%05d:\n", c)
		for v := 0; v < 20; v++ {
			d := pool.Sum([]byte(fmt.Sprint(c, v))).String()
			fmt.Fprintf(&b, `  - apiVersion: v2
    appVersion: "%d.%d.0"
    created: "2026-01-02T03:04:05.123456789Z"
    description: A Helm chart for Kubernetes that deploys chart number %d with a long enough description line
    digest: %s
    home: https://example.invalid/charts/chart-%05d
    keywords:
    - one
    - two
    maintainers:
    - email: someone@example.invalid
      name: Someone
    name: chart-%05d
    sources:
    - https://example.invalid/src/chart-%05d
    type: application
    urls:
    - charts/chart-%05d-1.%d.0.tgz
    version: 1.%d.0
`, c, v, c, d, c, c, c, c, v, v)
		}
	}
	return b.Bytes()
}

// BenchmarkIndex20k parses an index of 20,000 chart versions (Scan) and
// regenerates it (Render): the budget is 2 s and 200 MB peak RSS.
func BenchmarkIndex20k(b *testing.B) {
	data := bigIndex(20000)
	fm := helm.New(nil)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		var items []formats.Item
		err := fm.Scan(context.Background(), formats.ScanRequest{Top: &formats.TopLevel{Data: data}},
			func(e formats.Entry) error { items = append(items, *e.Item); return nil })
		if err != nil || len(items) != 20000 {
			b.Fatalf("scan: %d items, %v", len(items), err)
		}
		for i := range items {
			items[i].Path = fm.PublishPath(items[i])
		}
		out := &formattest.MemFS{}
		if err := fm.Render(context.Background(), formats.RenderRequest{Sink: out, Mode: formats.ModeFiltered, Items: items, Now: now}); err != nil {
			b.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapSys)
	}
	b.ReportMetric(float64(peak)/(1<<20), "heapsys-MB")
}

// TestIndex20kOnce runs one Scan and one Render of the 20,000-version index,
// for measuring peak RSS of a whole process (docs/helm.md):
//
//	go test -c -o helm.test ./formats/helm
//	CHANTAL_HELM_20K=1 /usr/bin/time -v ./helm.test -test.run TestIndex20kOnce
func TestIndex20kOnce(t *testing.T) {
	if os.Getenv("CHANTAL_HELM_20K") == "" {
		t.Skip("set CHANTAL_HELM_20K=1 to run (a measurement, not a check)")
	}
	data := bigIndex(20000)
	fm := helm.New(nil)
	var items []formats.Item
	err := fm.Scan(context.Background(), formats.ScanRequest{Top: &formats.TopLevel{Data: data}},
		func(e formats.Entry) error { items = append(items, *e.Item); return nil })
	if err != nil || len(items) != 20000 {
		t.Fatalf("scan: %d items, %v", len(items), err)
	}
	for i := range items {
		items[i].Path = fm.PublishPath(items[i])
	}
	dir := t.TempDir()
	if err := fm.Render(context.Background(), formats.RenderRequest{Sink: dirSink(dir), Mode: formats.ModeFiltered, Items: items, Now: now}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, helm.IndexPath))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("index %d bytes in, %d bytes out", len(data), fi.Size())
}

// dirSink writes rendered files under a directory, as publishing does.
type dirSink string

func (d dirSink) Create(_ context.Context, p string) (io.WriteCloser, error) {
	return os.Create(filepath.Join(string(d), filepath.FromSlash(p)))
}
