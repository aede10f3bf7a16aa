package chantal_test

import (
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/errata"
)

// errataFixtures are built by testdata/errata/rpm/make-fixtures.sh: repo-old
// (hello-1.0, libgreet, greet-data; advisory FIX-2025:0100) and repo (the
// same plus hello-1.1; security advisories FIX-2026:0001 Important,
// FIX-2026:0002 Low, FIX-2026:0004 Critical issued 2026-12-01, bug fix
// FIX-2026:0003).
var errataFixtures = filepath.Join("testdata", "errata", "rpm")

// errataRPMMirror syncs both fixture repositories, snapshots repo-old as
// el-old/base and repo as el/s1, with an errata-filtered view el-sec
// (important security advisories issued before 2026-11-01 over el-old/base)
// and a filtered repository el-nogreet without greet-data.
func errataRPMMirror(t *testing.T) *chantal.Mirror {
	t.Helper()
	old, cur := serveDir(t, filepath.Join(errataFixtures, "repo-old")), serveDir(t, filepath.Join(errataFixtures, "repo"))
	m := viewMirror(t, `repositories:
  - {id: el-old, type: rpm, feed: "`+old+`"}
  - {id: el, type: rpm, feed: "`+cur+`"}
  - {id: el-nogreet, type: rpm, feed: "`+cur+`", filters: {patterns: {exclude: ["^greet-data"]}}}
views:
  - name: el-sec
    repos: [el]
    errata_filter: {base: el-old/base, types: [security], severity: important, issued_before: 2026-11-01}
`)
	syncAll(t, m, "el-old", "el", "el-nogreet")
	ctx := context.Background()
	for _, s := range [][2]string{{"el-old", "base"}, {"el", "s1"}} {
		if _, err := m.Snapshot(ctx, chantal.SnapshotRequest{Repo: s[0], Name: s[1]}); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func ids(infos []chantal.AdvisoryInfo) []string {
	var out []string
	for _, a := range infos {
		out = append(out, a.ID)
	}
	slices.Sort(out)
	return out
}

// publishedUpdateinfo reads the updateinfo a published rpm tree lists in
// repomd.xml (nil when there is none).
func publishedUpdateinfo(t *testing.T, root string) []errata.Advisory {
	t.Helper()
	md, err := os.ReadFile(filepath.Join(root, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<location href="(repodata/[^"]*updateinfo[^"]*)"`).FindSubmatch(md)
	if m == nil {
		return nil
	}
	f, err := os.Open(filepath.Join(root, string(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	advs, err := errata.ReadUpdateinfo(context.Background(), zr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return advs
}

func advIDs(advs []errata.Advisory) []string {
	var out []string
	for _, a := range advs {
		out = append(out, a.ID)
	}
	slices.Sort(out)
	return out
}

func TestErrataRPMSyncQueriesAndDiff(t *testing.T) {
	m := errataRPMMirror(t)
	ctx := context.Background()

	all, err := m.Errata(ctx, chantal.ErrataQuery{Repo: "el"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(all); !slices.Equal(got, []string{"FIX-2026:0001", "FIX-2026:0002", "FIX-2026:0003", "FIX-2026:0004"}) {
		t.Fatalf("errata of el = %v", got)
	}
	for _, a := range all {
		if a.Status != chantal.StatusFixed || a.Source != "updateinfo:el" {
			t.Errorf("%s: status %q source %q, want fixed in updateinfo:el", a.ID, a.Status, a.Source)
		}
	}
	sec, err := m.Errata(ctx, chantal.ErrataQuery{Snapshot: "el/s1", Types: []string{"security"}, Severity: "important"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(sec); !slices.Equal(got, []string{"FIX-2026:0001", "FIX-2026:0004"}) {
		t.Errorf("important security errata of el/s1 = %v", got)
	}
	byCVE, err := m.Errata(ctx, chantal.ErrataQuery{CVE: "cve-2026-0002"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(byCVE); !slices.Equal(got, []string{"FIX-2026:0002", "FIX-2026:0002"}) { // el and el-nogreet
		t.Errorf("errata naming CVE-2026-0002 = %v", got)
	}

	// The old snapshot froze its own advisory set.
	oldAdvs, err := m.Errata(ctx, chantal.ErrataQuery{Snapshot: "el-old/base"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(oldAdvs); !slices.Equal(got, []string{"FIX-2025:0100"}) {
		t.Errorf("errata of el-old/base = %v", got)
	}

	d, err := m.ErrataDiff(ctx, "el-old/base", "el/s1")
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(d.Fixed); !slices.Equal(got, []string{"FIX-2026:0001", "FIX-2026:0004"}) {
		t.Errorf("errata diff el-old/base el/s1 = %v", got)
	}
	if d, err := m.ErrataDiff(ctx, "el/s1", "el-old/base"); err != nil || len(d.Fixed) != 0 {
		t.Errorf("reverse errata diff = %+v, %v; want nothing", d, err)
	}

	// snapshot diff names the advisories hello's upgrade applies.
	sd, err := m.Diff(ctx, "el-old/base", "el/s1")
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.Errata) != 1 || sd.Errata[0].Name != "hello" || sd.Errata[0].Old != "1.0-1" || sd.Errata[0].New != "1.1-1" ||
		!slices.Equal(ids(sd.Errata[0].Advisories), []string{"FIX-2026:0001", "FIX-2026:0004"}) {
		t.Errorf("snapshot diff errata = %+v", sd.Errata)
	}

	rep, err := m.ErrataCVE(ctx, "CVE-2026-0001")
	if err != nil {
		t.Fatal(err)
	}
	names := func(ss []chantal.CVEState) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Kind+":"+s.Name)
		}
		return out
	}
	if got, want := names(rep.Fixed), []string{"repo:el", "repo:el-nogreet", "snapshot:el/s1", "view:el-sec"}; !slices.Equal(got, want) {
		t.Errorf("CVE-2026-0001 fixed in %v, want %v", got, want)
	}
	if got, want := names(rep.Affected), []string{"repo:el-old", "snapshot:el-old/base"}; !slices.Equal(got, want) {
		t.Errorf("CVE-2026-0001 affected in %v, want %v", got, want)
	}

	show, err := m.ShowErratum(ctx, "FIX-2026:0001")
	if err != nil || len(show) != 2 || show[0].Title != "Important: hello security update" {
		t.Errorf("ShowErratum = %+v, %v", show, err)
	}

	// A second sync of an unchanged upstream keeps the state (and its set).
	before, _ := m.Repo(ctx, "el")
	syncAll(t, m, "el")
	if after, _ := m.Repo(ctx, "el"); after.State != before.State {
		t.Errorf("state changed on an unchanged resync: %s → %s", before.State, after.State)
	}
}

// Published updateinfo names only published packages: the repository
// without greet-data publishes no FIX-2026:0002.
func TestErrataPublishedUpdateinfoPruned(t *testing.T) {
	m := errataRPMMirror(t)
	pub, err := m.Publish(context.Background(), chantal.PublishRequest{Repo: "el-nogreet"})
	if err != nil {
		t.Fatal(err)
	}
	if got := advIDs(publishedUpdateinfo(t, pub.Target)); !slices.Equal(got, []string{"FIX-2026:0001", "FIX-2026:0003", "FIX-2026:0004"}) {
		t.Errorf("published updateinfo of el-nogreet lists %v", got)
	}
	if _, err := os.Stat(filepath.Join(pub.Target, ".chantal")); !os.IsNotExist(err) {
		t.Errorf("the advisory set was published: %v", err)
	}
}

func TestE2EErrataFilteredView(t *testing.T) {
	m := errataRPMMirror(t)
	pub, err := m.Publish(context.Background(), chantal.PublishRequest{View: "el-sec"})
	if err != nil {
		t.Fatal(err)
	}
	if got := advIDs(publishedUpdateinfo(t, pub.Target)); !slices.Equal(got, []string{"FIX-2026:0001"}) {
		t.Errorf("errata-filtered view publishes advisories %v, want only FIX-2026:0001", got)
	}
	var pkgs []string
	filepath.WalkDir(filepath.Join(pub.Target, "Packages"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			pkgs = append(pkgs, d.Name())
		}
		return nil
	})
	slices.Sort(pkgs)
	if want := []string{"greet-data-0.5-3.noarch.rpm", "hello-1.0-1.x86_64.rpm", "hello-1.1-1.x86_64.rpm", "libgreet-2.0-1.x86_64.rpm"}; !slices.Equal(pkgs, want) {
		t.Errorf("view publishes %v, want %v (base plus hello-1.1)", pkgs, want)
	}

	bin := needDNF(t)
	env := newDNF(t, bin, serveDir(t, pub.Target), "")
	env.must("install", "--setopt=tsflags=nodocs", "hello-1.0-1", "greet-data")
	out := env.must("updateinfo", "list", "--security", "--all")
	if !strings.Contains(out, "FIX-2026:0001") {
		t.Errorf("dnf updateinfo list --security does not show FIX-2026:0001:\n%s", out)
	}
	for _, id := range []string{"FIX-2026:0002", "FIX-2026:0003", "FIX-2026:0004", "FIX-2025:0100"} {
		if strings.Contains(out, id) {
			t.Errorf("dnf updateinfo list --security shows %s, which the filter excludes:\n%s", id, out)
		}
	}
	out = env.must("updateinfo", "list", "--all")
	if strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "FIX-2026:0001") {
		t.Errorf("dnf updateinfo list --all shows more than FIX-2026:0001:\n%s", out)
	}
}
