package publish

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/pool"
)

func TestManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, versionsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	want := &manifest{
		ID:      "20261126T120000Z-0123abcd",
		Key:     "state 7\nparams \"x\" ü",
		Created: time.Date(2026, 11, 26, 12, 0, 0, 5, time.FixedZone("x", 3600)),
		Entries: []string{"meta", "top.txt"},
		Items: []manifestItem{
			{Path: "Packages/a b.rpm", Digest: pool.Sum([]byte("a"))},
			{Path: "Packages/c.rpm", Digest: pool.Sum([]byte("c"))},
		},
	}
	var ops atomic.Int64
	if err := newTree(dir, false, &ops).writeManifest(want); err != nil {
		t.Fatal(err)
	}
	got, err := readManifest(dir, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(want.Created) {
		t.Errorf("created %v, want %v", got.Created, want.Created)
	}
	got.Created = want.Created
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if _, err := readManifest(dir, "20261126T120000Z-ffffffff"); err == nil {
		t.Error("reading a missing manifest succeeded")
	}
}

func TestParseManifestRejects(t *testing.T) {
	h := pool.Sum(nil).String()
	for name, text := range map[string]string{
		"empty":        "",
		"no magic":     "id x\n",
		"escaping":     manifestMagic + "\nitem " + h + " ../x\n",
		"dot entry":    manifestMagic + "\nentry .versions\n",
		"nested entry": manifestMagic + "\nentry a/b\n",
		"short digest": manifestMagic + "\nitem abc x\n",
		"bad key":      manifestMagic + "\nkey unquoted\n",
		"unknown":      manifestMagic + "\nfrobnicate\n",
	} {
		if _, err := parseManifest([]byte(text)); err == nil {
			t.Errorf("%s: parseManifest(%q) succeeded", name, strings.TrimSpace(text))
		}
	}
}
