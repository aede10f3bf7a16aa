package chantal_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/config"
)

// TestErrataSourceZipURL syncs an OSV zip export (the all.zip shape) served
// over http as an errata source: every advisory of the export is stored.
func TestErrataSourceZipURL(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	des, err := os.ReadDir(filepath.Join("testdata", "errata", "osv"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, de := range des {
		if !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata", "errata", "osv", de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(de.Name())
		w.Write(b)
		n++
	}
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/osv/all.zip" {
			http.NotFound(w, r)
			return
		}
		w.Write(buf.Bytes())
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
storage: {base_path: %s}
errata_sources:
  - {id: osv-all, type: osv, url: "%s/osv/all.zip"}
`, filepath.Join(dir, "data"), srv.URL)), filepath.Join(dir, "c.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := chantal.Open("", chantal.WithConfig(cfg), chantal.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.SyncErrata(context.Background(), chantal.ErrataSyncRequest{All: true})
	if err != nil {
		t.Fatal(err)
	}
	sr := res.Sources[0]
	if sr.Err != nil || sr.Advisories < n || sr.Added != sr.Advisories {
		t.Fatalf("errata sync from a zip URL: %+v (fixtures: %d files)", sr, n)
	}
	adv, err := m.ShowErratum(context.Background(), "DSA-5871-1")
	if err != nil || len(adv) == 0 {
		t.Fatalf("ShowErratum(DSA-5871-1) = %v, %v", adv, err)
	}
}
