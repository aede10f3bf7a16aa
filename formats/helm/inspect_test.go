package helm_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/formats/helm"
	"github.com/chantal-lite/chantal/pool"
)

func tgz(t testing.TB, files map[string]string, order ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, n := range order {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestInspectFixture(t *testing.T) {
	f := helm.New(nil)
	b := readFixture(t, "repo/charts/beta-1.0.0.tgz")
	it, err := f.Inspect(context.Background(), bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if it.Name != "beta" || it.Version != "1.0.0" || it.Path != "charts/beta-1.0.0.tgz" || it.Size != int64(len(b)) || it.Digest != pool.Sum(b) {
		t.Errorf("item %+v", it)
	}
	if it.Fields[helm.FieldDeprecated] != "true" || it.Checksums["sha256"] != it.Digest.String() {
		t.Errorf("fields %v checksums %v", it.Fields, it.Checksums)
	}
	if e := string(it.Fragments[helm.FragmentEntry]); !strings.Contains(e, "description: beta fixture chart") || !strings.Contains(e, "apiVersion: v2") {
		t.Errorf("entry fragment lost Chart.yaml fields:\n%s", e)
	}
}

func TestInspectShallowestChartYAML(t *testing.T) {
	b := tgz(t, map[string]string{
		"top/charts/sub/Chart.yaml": "name: sub\nversion: 9.9.9\n",
		"top/Chart.yaml":            "apiVersion: v2\nname: top\nversion: 1.0.0-beta.1\n",
	}, "top/charts/sub/Chart.yaml", "top/Chart.yaml")
	it, err := helm.New(nil).Inspect(context.Background(), bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if it.Name != "top" || it.Fields[helm.FieldPrerelease] != "true" {
		t.Errorf("picked %s %s %v", it.Name, it.Version, it.Fields)
	}
}

func TestInspectRejects(t *testing.T) {
	f := helm.New(&helm.Options{MaxChartSize: 1 << 20})
	big := strings.Repeat("x", 2<<20)
	for name, b := range map[string][]byte{
		"not gzip":       []byte("plain"),
		"no Chart.yaml":  tgz(t, map[string]string{"a/values.yaml": "x: 1\n"}, "a/values.yaml"),
		"int version":    tgz(t, map[string]string{"a/Chart.yaml": "name: a\nversion: 1.0\n"}, "a/Chart.yaml"),
		"no name":        tgz(t, map[string]string{"a/Chart.yaml": "version: 1.0.0\n"}, "a/Chart.yaml"),
		"path in name":   tgz(t, map[string]string{"a/Chart.yaml": "name: ../../etc\nversion: 1.0.0\n"}, "a/Chart.yaml"),
		"not semver":     tgz(t, map[string]string{"a/Chart.yaml": "name: a\nversion: latest\n"}, "a/Chart.yaml"),
		"alias":          tgz(t, map[string]string{"a/Chart.yaml": "name: &n a\nversion: 1.0.0\nx: *n\n"}, "a/Chart.yaml"),
		"list":           tgz(t, map[string]string{"a/Chart.yaml": "- a\n"}, "a/Chart.yaml"),
		"huge Chart":     tgz(t, map[string]string{"a/Chart.yaml": big}, "a/Chart.yaml"),
		"decompress cap": tgz(t, map[string]string{"a/blob": big, "a/Chart.yaml": "name: a\nversion: 1.0.0\n"}, "a/blob", "a/Chart.yaml"),
	} {
		_, err := f.Inspect(context.Background(), bytes.NewReader(b), int64(len(b)))
		if !errors.Is(err, helm.ErrChart) {
			t.Errorf("%s: %v, want ErrChart", name, err)
		}
	}
}
