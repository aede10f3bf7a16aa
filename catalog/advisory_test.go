package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/errata"
	"github.com/chantal-lite/chantal/pool"
)

// recordOf is what the facade does: index a few fields, keep the rest as
// the errata encoding.
func recordOf(tb testing.TB, a *errata.Advisory) catalog.AdvisoryRecord {
	tb.Helper()
	data, err := errata.Marshal(a)
	if err != nil {
		tb.Fatal(err)
	}
	return catalog.AdvisoryRecord{ID: a.ID, Source: a.Source, Type: string(a.Type), Severity: a.Severity.String(),
		Issued: a.Issued, Updated: a.Updated, CVEs: a.CVEs(), Data: data}
}

func fixtureRecords(t *testing.T) []catalog.AdvisoryRecord {
	t.Helper()
	f, err := os.Open("../testdata/errata/updateinfo.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ui, err := errata.ReadUpdateinfo(context.Background(), f, &errata.Options{Source: "updateinfo:alma9"})
	if err != nil {
		t.Fatal(err)
	}
	osv, err := errata.ReadOSVDir(context.Background(), os.DirFS("../testdata/errata/osv"), &errata.Options{Source: "osv"})
	if err != nil {
		t.Fatal(err)
	}
	var out []catalog.AdvisoryRecord
	for _, a := range append(ui, osv...) {
		out = append(out, recordOf(t, &a))
	}
	return out
}

func TestAdvisoryRoundTrip(t *testing.T) {
	db := openTest(t)
	recs := fixtureRecords(t)
	update(t, db, func(tx *catalog.Tx) error { return tx.PutAdvisories(recs) })
	view(t, db, func(tx *catalog.Tx) error {
		for _, want := range recs {
			got, err := tx.Advisory(want.Source, want.ID)
			if err != nil {
				return err
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("%s:\n%s", want.ID, d)
			}
			a, err := errata.Unmarshal(got.Data)
			if err != nil || a.ID != want.ID {
				t.Errorf("%s: data %v %v", want.ID, a.ID, err)
			}
		}
		var keys []string
		if err := tx.WalkAdvisories(func(r catalog.AdvisoryRecord) error {
			keys = append(keys, r.Source+" "+r.ID)
			return nil
		}); err != nil {
			return err
		}
		if len(keys) != len(recs) || keys[0] != "osv ALBA-2026:0977" || keys[len(keys)-1] != "updateinfo:alma9 ALSA-2026:1042" {
			t.Errorf("walk order %v", keys)
		}
		// The same id from two sources is two records.
		if _, err := tx.Advisory("osv", "ALSA-2026:1042"); err != nil {
			t.Error(err)
		}
		if _, err := tx.Advisory("nope", "ALSA-2026:1042"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("missing: %v", err)
		}
		return nil
	})
}

func cveIDs(t *testing.T, tx *catalog.Tx, cve string) string {
	t.Helper()
	rs, err := tx.AdvisoriesByCVE(cve)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.Source+"/"+r.ID)
	}
	return strings.Join(ids, " ")
}

func TestAdvisoryCVEIndex(t *testing.T) {
	db := openTest(t)
	update(t, db, func(tx *catalog.Tx) error { return tx.PutAdvisories(fixtureRecords(t)) })
	view(t, db, func(tx *catalog.Tx) error {
		for cve, want := range map[string]string{
			"CVE-2025-9230":  "osv/ALSA-2026:1042 updateinfo:alma9/ALSA-2026:1042",
			"cve-2025-9231":  "osv/ALSA-2026:1042 updateinfo:alma9/ALSA-2026:1042",
			"CVE-2024-56171": "osv/USN-7205-1",
			"CVE-2025-22872": "osv/GO-2026-3420",
			"CVE-2025-9":     "",
			"":               "",
		} {
			if got := cveIDs(t, tx, cve); got != want {
				t.Errorf("%s: %q, want %q", cve, got, want)
			}
		}
		return nil
	})

	// Replacing a record moves its index entries; a batch's last record
	// with a key wins; an unchanged record is accepted.
	r := catalog.AdvisoryRecord{ID: "X-1", Source: "s", Type: "security", CVEs: []string{"CVE-2026-0001", "cve-2026-0001", "CVE-2026-0002"}}
	update(t, db, func(tx *catalog.Tx) error { return tx.PutAdvisories([]catalog.AdvisoryRecord{r}) })
	r2 := r
	r2.CVEs = []string{"CVE-2026-0003", "CVE-2026-0002"}
	r3 := r2
	r3.Severity = "low"
	update(t, db, func(tx *catalog.Tx) error { return tx.PutAdvisories([]catalog.AdvisoryRecord{r2, r3}) })
	update(t, db, func(tx *catalog.Tx) error { return tx.PutAdvisories([]catalog.AdvisoryRecord{r3}) })
	view(t, db, func(tx *catalog.Tx) error {
		if cveIDs(t, tx, "CVE-2026-0001") != "" || cveIDs(t, tx, "CVE-2026-0002") != "s/X-1" || cveIDs(t, tx, "CVE-2026-0003") != "s/X-1" {
			t.Error("index after replace")
		}
		got, err := tx.Advisory("s", "X-1")
		if err != nil || got.Severity != "low" || !cmp.Equal(got.CVEs, []string{"CVE-2026-0002", "CVE-2026-0003"}) {
			t.Errorf("last wins: %+v %v", got, err)
		}
		return nil
	})
	update(t, db, func(tx *catalog.Tx) error { return tx.DeleteAdvisory("s", "X-1") })
	view(t, db, func(tx *catalog.Tx) error {
		if cveIDs(t, tx, "CVE-2026-0002") != "" {
			t.Error("index after delete")
		}
		if err := tx.DeleteAdvisory("s", "X-1"); !errors.Is(err, catalog.ErrReadOnly) && !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("delete in view: %v", err)
		}
		return nil
	})
}

func TestAdvisoryInvalidAndEmpty(t *testing.T) {
	db := openTest(t)
	// A fresh catalog has no advisory buckets: reads see nothing.
	view(t, db, func(tx *catalog.Tx) error {
		if _, err := tx.Advisory("s", "x"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("advisory: %v", err)
		}
		if rs, err := tx.AdvisoriesByCVE("CVE-2026-0001"); err != nil || rs != nil {
			t.Errorf("by cve: %v %v", rs, err)
		}
		if _, err := tx.AdvisorySet(catalog.AdvisorySetID{}); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("set: %v", err)
		}
		if err := tx.PutAdvisories([]catalog.AdvisoryRecord{{ID: "x"}}); !errors.Is(err, catalog.ErrReadOnly) {
			t.Errorf("put in view: %v", err)
		}
		return tx.WalkAdvisories(func(catalog.AdvisoryRecord) error { return errors.New("walked") })
	})
	for _, r := range []catalog.AdvisoryRecord{{}, {ID: "a\x00b"}, {ID: "a", Source: "s\tt"}, {ID: "a\nb"}} {
		err := db.Update(context.Background(), func(tx *catalog.Tx) error {
			return tx.PutAdvisories([]catalog.AdvisoryRecord{{ID: "fine"}, r})
		})
		if !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("%q: %v", r.ID, err)
		}
	}
	view(t, db, func(tx *catalog.Tx) error {
		if _, err := tx.Advisory("", "fine"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("invalid batch wrote: %v", err)
		}
		return nil
	})
}

func TestAdvisorySets(t *testing.T) {
	db := openTest(t)
	keys := []catalog.AdvisoryKey{{Source: "u", ID: "B"}, {Source: "u", ID: "A"}, {Source: "o", ID: "Z"}, {Source: "u", ID: "A"}}
	id, data, err := catalog.EncodeAdvisorySet(keys)
	if err != nil {
		t.Fatal(err)
	}
	if id.Digest() != pool.Sum(data) {
		t.Error("set id is not the pool digest of its encoding")
	}
	want := []catalog.AdvisoryKey{{Source: "o", ID: "Z"}, {Source: "u", ID: "A"}, {Source: "u", ID: "B"}}
	if back, err := catalog.DecodeAdvisorySet(data); err != nil || !cmp.Equal(back, want) {
		t.Errorf("decode %v %v", back, err)
	}
	if _, _, err := catalog.EncodeAdvisorySet([]catalog.AdvisoryKey{{Source: "x"}}); !errors.Is(err, catalog.ErrInvalid) {
		t.Errorf("empty id: %v", err)
	}
	for _, bad := range []string{"", "nope\n", "chantal-lite advisory set v1\nno-tab\n", "chantal-lite advisory set v1\na\tb"} {
		if _, err := catalog.DecodeAdvisorySet([]byte(bad)); !errors.Is(err, catalog.ErrCorrupt) {
			t.Errorf("decode %q: %v", bad, err)
		}
	}

	var kept, dropped catalog.AdvisorySetID
	update(t, db, func(tx *catalog.Tx) error {
		var err error
		if kept, err = tx.PutAdvisorySet(keys); err != nil {
			return err
		}
		if again, err := tx.PutAdvisorySet(want); err != nil || again != kept || kept != id {
			t.Errorf("set id depends on order: %s %s %v", again, kept, err)
		}
		if dropped, err = tx.PutAdvisorySet(want[:1]); err != nil {
			return err
		}
		if err := tx.PutRepo(catalog.Repo{ID: "alma9", Format: "rpm"}); err != nil {
			return err
		}
		st := &catalog.State{Files: []catalog.File{{Path: "repodata/updateinfo.xml", Digest: kept.Digest(), Kind: catalog.FileKindAdvisories}}}
		if _, err := tx.SetRepoState("alma9", st); err != nil {
			return err
		}
		r, _ := tx.Repo("alma9")
		return tx.PutSnapshot(catalog.Snapshot{Repo: "alma9", Name: "s1", State: r.State, Created: time.Unix(1, 0)})
	})
	update(t, db, func(tx *catalog.Tx) error {
		n, err := tx.PruneAdvisorySets()
		if err != nil || n != 1 {
			t.Errorf("prune: %d %v", n, err)
		}
		// The repository moves on; the snapshot still freezes the set.
		if _, err := tx.SetRepoState("alma9", &catalog.State{}); err != nil {
			return err
		}
		if n, err := tx.PruneAdvisorySets(); err != nil || n != 0 {
			t.Errorf("prune with snapshot: %d %v", n, err)
		}
		got, err := tx.AdvisorySet(kept)
		if err != nil || !cmp.Equal(got, want) {
			t.Errorf("kept set: %v %v", got, err)
		}
		if _, err := tx.AdvisorySet(dropped); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("dropped set: %v", err)
		}
		if err := tx.DeleteSnapshot("alma9", "s1"); err != nil {
			return err
		}
		if n, err := tx.PruneAdvisorySets(); err != nil || n != 1 {
			t.Errorf("prune after snapshot delete: %d %v", n, err)
		}
		return nil
	})
}

// genOSV writes n generated OSV documents (AlmaLinux-like, two packages,
// two CVEs each, about 1.2 KB) as one JSON array.
func genOSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"id":"ALSA-2026:%05d","summary":"Important: pkg%d security update","details":"%s",`+
			`"published":"2026-01-%02dT00:00:00Z","modified":"2026-02-01T00:00:00Z","related":["CVE-2025-%05d","CVE-2026-%05d"],`+
			`"affected":[{"package":{"ecosystem":"AlmaLinux:9","name":"pkg%d"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:2.%d-1.el9"}]}]},`+
			`{"package":{"ecosystem":"AlmaLinux:9","name":"pkg%d-libs"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:2.%d-1.el9"}]}]}],`+
			`"references":[{"type":"ADVISORY","url":"https://errata.example/ALSA-2026-%05d.html"}]}`,
			i, i, strings.Repeat("Security Fix(es): a flaw was found. ", 16), i%28+1, i, i, i, i, i, i, i)
	}
	b.WriteString("]")
	return b.Bytes()
}

// BenchmarkImportAdvisories parses 20,000 OSV documents and stores them in
// batches of 1,000 (budget: 5 s and 200 MB peak RSS per import).
func BenchmarkImportAdvisories(b *testing.B) {
	const n, batch = 20_000, 1_000
	doc := genOSV(n)
	b.SetBytes(int64(len(doc)))
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		db, err := catalog.Open(filepath.Join(b.TempDir(), "catalog.db"), &catalog.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		var recs []catalog.AdvisoryRecord
		flush := func() error {
			err := db.Update(context.Background(), func(tx *catalog.Tx) error { return tx.PutAdvisories(recs) })
			recs = recs[:0]
			return err
		}
		_, err = errata.ReadOSV(context.Background(), bytes.NewReader(doc), &errata.Options{Source: "osv", Each: func(a errata.Advisory) error {
			recs = append(recs, recordOf(b, &a))
			if len(recs) == batch {
				return flush()
			}
			return nil
		}})
		if err == nil {
			err = flush()
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		var count int
		view(b, db, func(tx *catalog.Tx) error {
			return tx.WalkAdvisories(func(catalog.AdvisoryRecord) error { count++; return nil })
		})
		if count != n {
			b.Fatalf("stored %d advisories, want %d", count, n)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS-MB")
	}
}
