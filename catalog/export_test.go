package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/catalog"
)

// fillCatalog puts a bit of everything into db: repos (one without a
// state, one with Meta), items with checksums, fields and binary
// fragments, shared and empty states, snapshots, a view snapshot, sync
// runs (one failed) and a publication.
func fillCatalog(tb testing.TB, db *catalog.DB, nItems int) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	zone := time.FixedZone("CET", 3600)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, zone)
	st := &catalog.State{Files: []catalog.File{
		{Path: "repodata/comps.xml", Digest: digest("comps"), Size: 5, Kind: "comps", Checksums: map[string]string{"sha1": "ab"}},
		{Path: "repodata/modules.yaml", Digest: digest("modules"), Size: 7},
	}}
	update(tb, db, func(tx *catalog.Tx) error {
		for _, r := range []catalog.Repo{
			{ID: "el9", Format: "rpm", Mode: "filtered", Feed: "https://example.invalid/el9/", Meta: map[string]string{"etag": `"x<y>&z"`}, Created: t0, Updated: t0.Add(time.Hour)},
			{ID: "empty", Format: "apt"},
			{ID: "epel", Format: "rpm", Mode: "mirror"},
		} {
			if err := tx.PutRepo(r); err != nil {
				return err
			}
		}
		for i := range nItems {
			ref := randRef(rng)
			it := catalog.Item{Digest: ref.Digest, Size: int64(1000 + i), Format: "rpm", Name: fmt.Sprintf("pkg%d", i), Version: "1.0-1", Arch: "x86_64",
				Checksums: map[string]string{"sha1": fmt.Sprintf("%040x", i)},
				Fields:    map[string]string{"group": "System"},
				Fragments: map[string][]byte{"primary": []byte(fmt.Sprintf("<package>\x00\xff%d</package>", i))}}
			if i%7 == 0 {
				it.Checksums, it.Fields = nil, nil
			}
			if err := tx.PutItem(it); err != nil {
				return err
			}
			st.Refs = append(st.Refs, ref)
		}
		return nil
	})
	update(tb, db, func(tx *catalog.Tx) error {
		recs := []catalog.AdvisoryRecord{
			{ID: "RHSA-2026:0001", Source: "updateinfo:el9", Type: "security", Severity: "Important", Issued: t0, Updated: t0,
				CVEs: []string{"CVE-2026-0001", "cve-2026-0002"}, Data: []byte("{\"opaque\":true}\x00")},
			{ID: "FEDORA-EPEL-2026-1", Source: "updateinfo:epel", Type: "bugfix"},
		}
		if err := tx.PutAdvisories(recs); err != nil {
			return err
		}
		set, err := tx.PutAdvisorySet([]catalog.AdvisoryKey{recs[0].Key(), recs[1].Key()})
		if err != nil {
			return err
		}
		st.Files = append(st.Files, catalog.File{Path: "advisories", Digest: set.Digest(), Size: 64, Kind: catalog.FileKindAdvisories})
		return nil
	})
	st.Sort()
	idA := setState(tb, db, "el9", st)
	half := &catalog.State{Refs: st.Refs[:len(st.Refs)/2]}
	setState(tb, db, "epel", half)
	update(tb, db, func(tx *catalog.Tx) error {
		if err := tx.PutSnapshot(catalog.Snapshot{Repo: "el9", Name: "2026-03", State: idA, Created: t0, Description: "first"}); err != nil {
			return err
		}
		if err := tx.PutSnapshot(catalog.Snapshot{Repo: "empty", Name: "nothing"}); err != nil {
			return err
		}
		if err := tx.PutViewSnapshot(catalog.ViewSnapshot{View: "stack", Name: "s1", Format: "rpm", Created: t0,
			Members: []catalog.ViewMember{{Repo: "el9", State: idA}}}); err != nil {
			return err
		}
		for _, r := range []*catalog.SyncRun{
			{Repo: "el9", Started: t0, Finished: t0.Add(time.Minute), Status: "ok", Added: 3, Bytes: 1 << 40},
			{Repo: "el9", Started: t0.Add(time.Hour), Finished: t0.Add(time.Hour), Status: "failed", Errors: []string{"fetch repomd.xml: 503"}},
		} {
			if err := tx.PutSyncRun(r); err != nil {
				return err
			}
		}
		return tx.PutPublication(catalog.Publication{Target: "/srv/repos/el9", Kind: "repo", Name: "el9", Format: "rpm",
			Versions: []catalog.PublishedVersion{{Version: "v1", State: idA, Published: t0}}})
	})
	// A state that changes again leaves a released state behind.
	setState(tb, db, "epel", &catalog.State{Refs: st.Refs[:len(st.Refs)/3]})
}

func exportBytes(tb testing.TB, db *catalog.DB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	view(tb, db, func(tx *catalog.Tx) error {
		_, err := tx.Export(context.Background(), &buf)
		return err
	})
	return buf.Bytes()
}

func TestExportImportRoundTrip(t *testing.T) {
	src := openTest(t)
	fillCatalog(t, src, 700)
	first := exportBytes(t, src)
	if !bytes.HasPrefix(first, []byte(`{"format":"chantal-lite-catalog","version":1}`+"\n")) {
		t.Fatalf("export does not start with the header: %.80q", first)
	}
	for _, typ := range []string{"repo", "item", "advisory", "advisory_set", "state", "ref", "snapshot", "view_snapshot", "sync_run", "publication", "end"} {
		if !bytes.Contains(first, []byte(`{"type":"`+typ+`"`)) {
			t.Errorf("export has no %s record", typ)
		}
	}

	path := filepath.Join(t.TempDir(), "catalog.db")
	res, err := catalog.Import(context.Background(), path, bytes.NewReader(first), &catalog.ImportOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged || res.Counts.Items != 700 || res.Counts.Repos != 3 || res.Counts.ViewSnapshots != 1 {
		t.Errorf("import result %+v", res)
	}
	dst, err := catalog.Open(path, &catalog.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	second := exportBytes(t, dst)
	if !bytes.Equal(first, second) {
		t.Errorf("export → import → export differs:\n%s", firstDiff(first, second))
	}
	var rep *catalog.VerifyReport
	view(t, dst, func(tx *catalog.Tx) error {
		rep, err = tx.Verify(context.Background())
		return err
	})
	if !rep.OK() {
		t.Errorf("imported catalog fails verification: %v", rep.Problems)
	}
	// Lookups work on the imported catalog.
	view(t, dst, func(tx *catalog.Tx) error {
		r, err := tx.Repo("el9")
		if err != nil || r.Meta["etag"] != `"x<y>&z"` {
			t.Errorf("repo el9 = %+v, %v", r, err)
		}
		if _, err := tx.ItemByChecksum("sha1", fmt.Sprintf("%040x", 1)); err != nil {
			t.Errorf("checksum index: %v", err)
		}
		if got, err := tx.AdvisoriesByCVE("CVE-2026-0002"); err != nil || len(got) != 1 {
			t.Errorf("CVE index after import: %v, %v", got, err)
		}
		runs, err := tx.SyncRuns("el9", 0)
		if err != nil || len(runs) != 2 || runs[0].Status != "failed" {
			t.Errorf("runs = %+v, %v", runs, err)
		}
		return nil
	})
	dst.Close()

	// Importing the same file again into the result is a no-op success.
	res, err = catalog.Import(context.Background(), path, bytes.NewReader(first), &catalog.ImportOptions{NoSync: true})
	if err != nil || !res.Unchanged {
		t.Fatalf("second import: %+v, %v", res, err)
	}
	// A different file into a non-empty catalog is refused.
	other := openTest(t)
	putRepos(t, other, "x")
	_, err = catalog.Import(context.Background(), path, bytes.NewReader(exportBytes(t, other)), &catalog.ImportOptions{NoSync: true})
	if !errors.Is(err, catalog.ErrExists) {
		t.Errorf("import into a non-empty catalog: %v, want ErrExists", err)
	}
	if _, err := os.Stat(path + ".import"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d:\n  %.300s\n  %.300s", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("%d lines vs %d lines", len(la), len(lb))
}

func TestExportEmpty(t *testing.T) {
	db := openTest(t)
	got := string(exportBytes(t, db))
	want := `{"format":"chantal-lite-catalog","version":1}` + "\n" +
		`{"type":"end","Repos":0,"Items":0,"Advisories":0,"AdvisorySets":0,"States":0,"Refs":0,"Snapshots":0,"ViewSnapshots":0,"SyncRuns":0,"Publications":0}` + "\n"
	if got != want {
		t.Errorf("empty export:\n%s\nwant:\n%s", got, want)
	}
	path := filepath.Join(t.TempDir(), "c.db")
	if _, err := catalog.Import(context.Background(), path, strings.NewReader(got), &catalog.ImportOptions{NoSync: true}); err != nil {
		t.Fatal(err)
	}
}

// TestImportRejects feeds broken variants of a valid export; each must
// fail with ErrInvalid and leave the target catalog empty.
func TestImportRejects(t *testing.T) {
	src := openTest(t)
	fillCatalog(t, src, 40)
	good := string(exportBytes(t, src))
	lines := strings.SplitAfter(good, "\n")
	lines = lines[:len(lines)-1] // the empty string after the last newline
	find := func(prefix string) int {
		for i, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return i
			}
		}
		t.Fatalf("no line starts with %s", prefix)
		return -1
	}
	join := func(ls []string) string { return strings.Join(ls, "") }
	without := func(i int) string { return join(append(append([]string{}, lines[:i]...), lines[i+1:]...)) }
	swap := func(i, j int) string {
		ls := append([]string{}, lines...)
		ls[i], ls[j] = ls[j], ls[i]
		return join(ls)
	}
	replace := func(i int, old, new string) string {
		ls := append([]string{}, lines...)
		if !strings.Contains(ls[i], old) {
			t.Fatalf("line %d has no %q", i, old)
		}
		ls[i] = strings.Replace(ls[i], old, new, 1)
		return join(ls)
	}
	item := find(`{"type":"item"`)
	ref := find(`{"type":"ref"`)
	state := find(`{"type":"state"`)
	snap := find(`{"type":"snapshot"`)
	cases := map[string]string{
		"empty file":        "",
		"no header":         join(lines[1:]),
		"other format":      strings.Replace(good, "chantal-lite-catalog", "aptly", 1),
		"newer version":     strings.Replace(good, `"version":1`, `"version":2`, 1),
		"truncated":         join(lines[:len(lines)-1]),
		"no final newline":  strings.TrimSuffix(good, "\n"),
		"unsorted items":    swap(item, item+1),
		"duplicate item":    join(append(append(append([]string{}, lines[:item+1]...), lines[item]), lines[item+1:]...)),
		"missing item":      without(item),
		"ref out of order":  swap(ref, ref+1),
		"missing ref":       without(ref),
		"state id mismatch": replace(ref, `"Path":"`, `"Path":"x`),
		"unknown field":     replace(item, `{"type":"item",`, `{"type":"item","Color":"red",`),
		"unknown type":      replace(snap, `"type":"snapshot"`, `"type":"snapshop"`),
		"section order":     swap(state, snap),
		"bad counts":        strings.Replace(good, `"Publications":1}`, `"Publications":2}`, 1),
		"trailing data":     good + "{}\n",
		"not json":          join(lines[:2]) + "{\"type\":\"item\",garbage\n" + join(lines[2:]),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.db")
			_, err := catalog.Import(context.Background(), path, strings.NewReader(in), &catalog.ImportOptions{NoSync: true})
			if !errors.Is(err, catalog.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			t.Log(err)
			db, err := catalog.Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if st := stats(t, db); st.Repos+st.Items+st.States != 0 {
				t.Errorf("failed import left records: %+v", st)
			}
		})
	}
}

func TestExportCancelled(t *testing.T) {
	db := openTest(t)
	fillCatalog(t, db, 10000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := db.View(context.Background(), func(tx *catalog.Tx) error {
		_, err := tx.Export(ctx, &bytes.Buffer{})
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("export with a cancelled context: %v", err)
	}
}
