package errata_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chantal-lite/chantal/errata"
)

const osvDir = "../testdata/errata/osv"

func readOSVFixtures(t *testing.T) map[string]errata.Advisory {
	t.Helper()
	var skipped []*errata.SkipError
	advs, err := errata.ReadOSVDir(context.Background(), os.DirFS(osvDir), &errata.Options{
		Source: "osv:fixture",
		OnSkip: func(e *errata.SkipError) { skipped = append(skipped, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) > 0 {
		t.Fatalf("skipped: %v", skipped)
	}
	m := make(map[string]errata.Advisory)
	for _, a := range advs {
		m[a.ID] = a
	}
	if len(m) != 8 || len(advs) != 8 {
		t.Fatalf("read %d advisories (%d ids), want 8", len(advs), len(m))
	}
	return m
}

func TestOSVDistroShapes(t *testing.T) {
	advs := readOSVFixtures(t)
	for _, tc := range []struct {
		id, eco, distro, release, name, fixed string
		typ                                   errata.Type
		sev                                   errata.Severity
		raw                                   string
		cves                                  []string
	}{
		{"ALSA-2026:1042", "rpm", "AlmaLinux", "9", "openssl", "1:3.2.2-6.el9_5.1", errata.TypeSecurity, errata.SeverityImportant, "Important", []string{"CVE-2025-9230", "CVE-2025-9231"}},
		{"ALBA-2026:0977", "rpm", "AlmaLinux", "8", "tzdata", "2025c-1.el8", errata.TypeBugfix, errata.SeverityNone, "", nil},
		{"RLSA-2026:0815", "rpm", "Rocky Linux", "8", "curl", "7.61.1-34.el8_10.8", errata.TypeSecurity, errata.SeverityModerate, "Moderate", []string{"CVE-2025-10148"}},
		{"DSA-5871-1", "deb", "Debian", "12", "xorg-server", "2:21.1.7-3+deb12u9", errata.TypeSecurity, errata.SeverityImportant, "high", []string{"CVE-2025-26594", "CVE-2025-26595"}},
		{"DLA-3990-1", "deb", "Debian", "11", "expat", "2.2.10-2+deb11u7", errata.TypeSecurity, errata.SeverityNone, "", []string{"CVE-2024-8176"}},
		{"USN-7205-1", "deb", "Ubuntu", "22.04", "libxml2", "2.9.13+dfsg-1ubuntu0.6", errata.TypeSecurity, errata.SeverityModerate, "medium", []string{"CVE-2024-56171", "CVE-2025-24928"}},
		{"GHSA-9wx4-h78v-vm56", "PyPI", "", "", "requests", "2.32.0", errata.TypeSecurity, errata.SeverityModerate, "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N", []string{"CVE-2024-35195"}},
		{"GO-2026-3420", "Go", "", "", "golang.org/x/net", "0.38.0", errata.TypeSecurity, errata.SeverityCritical, "CRITICAL", []string{"CVE-2025-22872"}},
	} {
		a, ok := advs[tc.id]
		if !ok {
			t.Errorf("%s missing", tc.id)
			continue
		}
		p := a.Packages[0]
		if p.Ecosystem != tc.eco || p.Distro != tc.distro || p.DistroRelease != tc.release || p.Name != tc.name {
			t.Errorf("%s: package %s/%s/%s %s", tc.id, p.Ecosystem, p.Distro, p.DistroRelease, p.Name)
		}
		if fv := p.FixedVersions(); len(fv) != 1 || fv[0] != tc.fixed {
			t.Errorf("%s: fixed %v, want %s", tc.id, fv, tc.fixed)
		}
		if a.Type != tc.typ || a.Severity != tc.sev || a.RawSeverity != tc.raw {
			t.Errorf("%s: type %s severity %s (%q), want %s %s (%q)", tc.id, a.Type, a.Severity, a.RawSeverity, tc.typ, tc.sev, tc.raw)
		}
		if got := a.CVEs(); !cmp.Equal(got, tc.cves) {
			t.Errorf("%s: CVEs %v, want %v", tc.id, got, tc.cves)
		}
		if a.Source != "osv:fixture" || a.Issued.IsZero() || a.Updated.IsZero() || a.Title == "" {
			t.Errorf("%s: source %q issued %v updated %v title %q", tc.id, a.Source, a.Issued, a.Updated, a.Title)
		}
	}
	usn := advs["USN-7205-1"]
	if p := usn.Packages[1]; p.DistroRelease != "18.04" || p.RawEcosystem != "Ubuntu:Pro:18.04:LTS" {
		t.Errorf("Ubuntu Pro: %+v", p)
	}
	if b := usn.Packages[0].Binaries; len(b) != 2 || b[1].Name != "libxml2-utils" {
		t.Errorf("binaries %+v", b)
	}
	if got := usn.Issued.Format(time.RFC3339Nano); got != "2026-01-27T16:03:21.5Z" {
		t.Errorf("issued %s", got)
	}
}

func TestOSVFixesAndAffected(t *testing.T) {
	advs := readOSVFixtures(t)
	alsa, dsa, usn, gov := advs["ALSA-2026:1042"], advs["DSA-5871-1"], advs["USN-7205-1"], advs["GO-2026-3420"]
	for _, tc := range []struct {
		a                   errata.Advisory
		name, version, arch string
		cmp                 func(a, b string) int
		fixes, affected     bool
	}{
		{alsa, "openssl", "1:3.2.2-6.el9_5", "x86_64", dpkgCompare, false, true},
		{alsa, "openssl", "1:3.2.2-6.el9_5.1", "x86_64", dpkgCompare, true, false},
		{alsa, "openssl", "1:3.2.2-7.el9", "", dpkgCompare, true, false},
		{alsa, "openssl", "3.5.0-1.el9", "x86_64", dpkgCompare, false, true}, // epoch 0 < 1
		{alsa, "curl", "9.9-1", "x86_64", dpkgCompare, false, false},
		{dsa, "xorg-server", "2:21.1.7-3+deb12u8", "", dpkgCompare, false, true},
		{dsa, "xorg-server", "2:21.1.7-3+deb12u9", "", dpkgCompare, true, false},
		{dsa, "xorg-server", "2:21.1.7-3+deb12u9~bpo1", "", dpkgCompare, false, true}, // ~ sorts before
		{usn, "libxml2", "2.9.13+dfsg-1ubuntu0.5", "", dpkgCompare, false, true},
		{usn, "libxml2-utils", "2.9.13+dfsg-1ubuntu0.6", "", dpkgCompare, true, false},
		{gov, "golang.org/x/net", "0.37.9", "", dottedCompare, false, true},
		{gov, "golang.org/x/net", "0.38.0", "", dottedCompare, true, false},
		{gov, "golang.org/x/net", "0.39.5", "", dottedCompare, true, false},
		{gov, "golang.org/x/net", "0.40.0", "", dottedCompare, false, true},
		{gov, "golang.org/x/net", "0.41.0", "", dottedCompare, false, true},
		{gov, "golang.org/x/net", "0.41.1", "", dottedCompare, true, false},
	} {
		if got := tc.a.Fixes(tc.name, tc.version, tc.arch, tc.cmp); got != tc.fixes {
			t.Errorf("%s Fixes(%s %s) = %v", tc.a.ID, tc.name, tc.version, got)
		}
		if got := tc.a.Affected(tc.name, tc.version, tc.cmp); got != tc.affected {
			t.Errorf("%s Affected(%s %s) = %v", tc.a.ID, tc.name, tc.version, got)
		}
	}
}

func TestRangeIncludes(t *testing.T) {
	ev := func(kv ...string) []errata.Event {
		var out []errata.Event
		for i := 0; i < len(kv); i += 2 {
			switch kv[i] {
			case "i":
				out = append(out, errata.Event{Introduced: kv[i+1]})
			case "f":
				out = append(out, errata.Event{Fixed: kv[i+1]})
			case "l":
				out = append(out, errata.Event{LastAffected: kv[i+1]})
			case "x":
				out = append(out, errata.Event{Limit: kv[i+1]})
			}
		}
		return out
	}
	for _, tc := range []struct {
		typ    string
		events []errata.Event
		v      string
		want   bool
	}{
		{"SEMVER", ev("i", "0", "f", "1.2"), "1.1.9", true},
		{"SEMVER", ev("i", "0", "f", "1.2"), "1.2", false},
		{"SEMVER", ev("i", "1.0", "f", "1.2"), "0.9", false},
		{"SEMVER", ev("f", "2.3", "i", "2.0", "f", "1.5", "i", "1.0"), "1.7", false}, // unsorted input
		{"SEMVER", ev("f", "2.3", "i", "2.0", "f", "1.5", "i", "1.0"), "2.1", true},
		{"SEMVER", ev("i", "1.0", "l", "1.4"), "1.4", true},
		{"SEMVER", ev("i", "1.0", "l", "1.4"), "1.4.1", false},
		{"SEMVER", ev("i", "0"), "99", true},
		{"ECOSYSTEM", ev("i", "0", "x", "3.0"), "2.9", true},
		{"ECOSYSTEM", ev("i", "0", "x", "3.0"), "3.0", false},
		{"ECOSYSTEM", ev("i", "0", "x", "*"), "7", true},
		{"GIT", ev("i", "0", "f", "abc"), "1", false},
		{"SEMVER", nil, "1", false},
	} {
		r := errata.Range{Type: tc.typ, Events: tc.events}
		if got := r.Includes(tc.v, dottedCompare); got != tc.want {
			t.Errorf("%s %+v includes %s = %v, want %v", tc.typ, tc.events, tc.v, got, tc.want)
		}
	}
	deb := errata.Range{Type: "ECOSYSTEM", Events: ev("i", "1:1.0-1", "f", "1:1.0-1+deb12u1")}
	for v, want := range map[string]bool{"1.9-1": false, "1:1.0-1": true, "1:1.0-1+deb12u1~rc1": true, "1:1.0-1+deb12u1": false, "1:1.0-2": false} {
		if got := deb.Includes(v, dpkgCompare); got != want {
			t.Errorf("dpkg range includes %s = %v, want %v", v, got, want)
		}
	}
}

func TestNormalizeEcosystem(t *testing.T) {
	for raw, want := range map[string][3]string{
		"AlmaLinux:9":                           {"rpm", "AlmaLinux", "9"},
		"Rocky Linux:8":                         {"rpm", "Rocky Linux", "8"},
		"Debian:12":                             {"deb", "Debian", "12"},
		"Debian":                                {"deb", "Debian", ""},
		"Ubuntu:22.04:LTS":                      {"deb", "Ubuntu", "22.04"},
		"Ubuntu:Pro:FIPS:20.04:LTS":             {"deb", "Ubuntu", "20.04"},
		"Red Hat:enterprise_linux:9::appstream": {"rpm", "Red Hat", "9"},
		"SUSE:Linux Enterprise Server 15 SP6":   {"rpm", "SUSE", "Linux Enterprise Server 15 SP6"},
		"Alpine:v3.20":                          {"apk", "Alpine", "3.20"},
		"npm":                                   {"npm", "", ""},
		"PyPI":                                  {"PyPI", "", ""},
		"Go":                                    {"Go", "", ""},
	} {
		e, d, r := errata.NormalizeEcosystem(raw)
		if [3]string{e, d, r} != want {
			t.Errorf("%q → %q %q %q, want %q", raw, e, d, r, want)
		}
	}
}

func TestOSVReaderShapes(t *testing.T) {
	one := `{"id":"X-1","published":"2026-01-01T00:00:00Z"}`
	for name, in := range map[string]string{
		"document": one,
		"array":    "[" + one + "," + strings.Replace(one, "X-1", "X-2", 1) + "]",
		"lines":    one + "\n" + strings.Replace(one, "X-1", "X-2", 1) + "\n",
		"empty":    "  \n",
		"empty []": "[]",
	} {
		advs, err := errata.ReadOSV(context.Background(), strings.NewReader(in), nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want := strings.Count(in, `"id"`)
		if len(advs) != want {
			t.Errorf("%s: %d advisories, want %d", name, len(advs), want)
		}
	}
	// A record of the wrong shape is skipped; broken JSON is fatal.
	var skipped []*errata.SkipError
	in := "[" + one + `,{"id":"BAD-1","affected":"nope"},{"id":"BAD-2","published":"never"},{"summary":"no id"},` + strings.Replace(one, "X-1", "X-3", 1) + "]"
	advs, err := errata.ReadOSV(context.Background(), strings.NewReader(in), &errata.Options{OnSkip: func(e *errata.SkipError) { skipped = append(skipped, e) }})
	if err != nil || len(advs) != 2 || len(skipped) != 3 || skipped[1].ID != "BAD-2" || skipped[2].Index != 3 {
		t.Errorf("lenient: err %v advs %d skipped %v", err, len(advs), skipped)
	}
	for name, in := range map[string]string{"broken": `{"id":`, "trailing": "[" + one + "] x", "not json": "<xml/>"} {
		if _, err := errata.ReadOSV(context.Background(), strings.NewReader(in), nil); !errors.Is(err, errata.ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
	big := `{"id":"BIG","details":"` + strings.Repeat("x", 300<<10) + `"}`
	if _, err := errata.ReadOSV(context.Background(), strings.NewReader(big), &errata.Options{MaxAdvisoryBytes: 100 << 10}); !errors.Is(err, errata.ErrTooLarge) {
		t.Errorf("big document: %v", err)
	}
}

func TestOSVSeverityAndType(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		typ  errata.Type
		sev  errata.Severity
		note string
	}{
		{`{"id":"RLBA-2026:1","summary":"Moderate: glibc bug fix update"}`, errata.TypeBugfix, errata.SeverityModerate, "id prefix and summary prefix"},
		{`{"id":"RLEA-2026:1"}`, errata.TypeEnhancement, errata.SeverityNone, "enhancement id"},
		{`{"id":"X-1","summary":"foo bug fix update"}`, errata.TypeBugfix, errata.SeverityNone, "summary hint"},
		{`{"id":"X-2","summary":"foo enhancement update"}`, errata.TypeEnhancement, errata.SeverityNone, "summary hint"},
		{`{"id":"X-3","database_specific":{"type":"newpackage","severity":"low"}}`, errata.TypeNewPackage, errata.SeverityLow, "database_specific"},
		{`{"id":"X-4","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}`, errata.TypeSecurity, errata.SeverityCritical, "cvss 9.8"},
		{`{"id":"X-5","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"},{"type":"CVSS_V2","score":"AV:N/AC:L/Au:N/C:P/I:N/A:N"}]}`, errata.TypeSecurity, errata.SeverityImportant, "max of cvss 7.8 and 5.0"},
		{`{"id":"X-6","affected":[{"package":{"ecosystem":"npm","name":"a"},"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"}]}]}`, errata.TypeSecurity, errata.SeverityLow, "per-affected cvss 3.1"},
		{`{"id":"X-7","severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]}`, errata.TypeSecurity, errata.SeverityNone, "cvss v4 not scored"},
		{`{"id":"X-8","database_specific":{"severity":42}}`, errata.TypeSecurity, errata.SeverityNone, "wrong member type ignored"},
	} {
		advs, err := errata.ReadOSV(context.Background(), strings.NewReader(tc.doc), nil)
		if err != nil || len(advs) != 1 {
			t.Errorf("%s: %v %v", tc.note, err, advs)
			continue
		}
		if a := advs[0]; a.Type != tc.typ || a.Severity != tc.sev {
			t.Errorf("%s: type %s severity %s, want %s %s", tc.note, a.Type, a.Severity, tc.typ, tc.sev)
		}
	}
}

func TestCVSSBaseScore(t *testing.T) {
	for v, want := range map[string]float64{
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": 9.8,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H": 10.0,
		"CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N": 6.5,
		"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H": 7.8,
		"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N": 3.1,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N": 6.1,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N": 0,
		"CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N": 5.6,
		"AV:N/AC:L/Au:N/C:C/I:C/A:C":                   10.0,
		"AV:N/AC:M/Au:N/C:P/I:P/A:P":                   6.8,
		"(AV:N/AC:L/Au:N/C:P/I:N/A:N)":                 5.0,
		"7.5":                                          7.5,
	} {
		got, ok := errata.CVSSBaseScore(v)
		if !ok || got != want {
			t.Errorf("%s = %v %v, want %v", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "CVSS:3.1/AV:N", "CVSS:4.0/AV:N/AC:L", "11", "NaN", "AV:X/AC:L/Au:N/C:C/I:C/A:C"} {
		if _, ok := errata.CVSSBaseScore(v); ok {
			t.Errorf("%q scored", v)
		}
	}
}

// zipOf builds an all.zip-like archive from the files of fsys, plus extra
// entries.
func zipOf(t testing.TB, fsys fs.FS, extra map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		w, err := zw.Create(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range extra {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadOSVZip(t *testing.T) {
	dir, err := errata.ReadOSVDir(context.Background(), os.DirFS(osvDir), nil)
	if err != nil {
		t.Fatal(err)
	}
	z := zipOf(t, os.DirFS(osvDir), map[string][]byte{
		"README.txt":     []byte("not json"),
		"zz-broken.json": []byte(`{"id":`),
		"zz-big.json":    bytes.Repeat([]byte(" "), 200<<10),
	})
	var skipped []*errata.SkipError
	advs, err := errata.ReadOSVZip(context.Background(), bytes.NewReader(z), int64(len(z)), &errata.Options{
		MaxAdvisoryBytes: 100 << 10,
		OnSkip:           func(e *errata.SkipError) { skipped = append(skipped, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(dir, advs); d != "" {
		t.Errorf("zip differs from directory:\n%s", d)
	}
	if len(skipped) != 2 || skipped[0].Name != "zz-big.json" || !errors.Is(skipped[0], errata.ErrTooLarge) ||
		skipped[1].Name != "zz-broken.json" || !errors.Is(skipped[1], errata.ErrMalformed) {
		t.Errorf("skipped %v", skipped)
	}

	// Bounds: entry count and total decompressed bytes.
	if _, err := errata.ReadOSVZip(context.Background(), bytes.NewReader(z), int64(len(z)), &errata.Options{MaxAdvisories: 3}); !errors.Is(err, errata.ErrTooLarge) {
		t.Errorf("entry bound: %v", err)
	}
	if _, err := errata.ReadOSVZip(context.Background(), bytes.NewReader(z), int64(len(z)), &errata.Options{MaxTotalBytes: 2000}); !errors.Is(err, errata.ErrTooLarge) {
		t.Errorf("total bound: %v", err)
	}
	if _, err := errata.ReadOSVZip(context.Background(), bytes.NewReader([]byte("PK junk")), 7, nil); !errors.Is(err, errata.ErrMalformed) {
		t.Errorf("not a zip: %v", err)
	}
}

func TestReadOSVDirBounds(t *testing.T) {
	fsys := fstest.MapFS{
		"a.json":       {Data: []byte(`{"id":"A-1"}`)},
		"sub/b.json":   {Data: []byte(`[{"id":"B-1"},{"id":"B-2"}]`)},
		"c.txt":        {Data: []byte(`{"id":"C-1"}`)},
		"d.json":       {Data: []byte(`not json`)},
		"e.json":       {Data: bytes.Repeat([]byte("x"), 5000)},
		"sub/f/g.json": {Data: []byte(`{"id":"G-1"}`)},
	}
	var skipped []string
	advs, err := errata.ReadOSVDir(context.Background(), fsys, &errata.Options{
		MaxAdvisoryBytes: 1000,
		OnSkip:           func(e *errata.SkipError) { skipped = append(skipped, e.Name) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range advs {
		ids = append(ids, a.ID)
	}
	if !cmp.Equal(ids, []string{"A-1", "B-1", "B-2", "G-1"}) || !cmp.Equal(skipped, []string{"d.json", "e.json"}) {
		t.Errorf("ids %v skipped %v", ids, skipped)
	}
	if _, err := errata.ReadOSVDir(context.Background(), fsys, &errata.Options{MaxAdvisories: 2}); !errors.Is(err, errata.ErrTooLarge) {
		t.Errorf("file count bound: %v", err)
	}
}

func TestFilter(t *testing.T) {
	advs := readFixture(t)
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	for _, tc := range []struct {
		c    errata.Criteria
		want string
	}{
		{errata.Criteria{}, "ALSA-2026:1042 ALBA-2026:0977 ALEA-2026:0301 ALSA-2026:0554"},
		{errata.Criteria{Types: []errata.Type{errata.TypeSecurity}}, "ALSA-2026:1042 ALSA-2026:0554"},
		{errata.Criteria{Types: []errata.Type{errata.TypeBugfix, errata.TypeEnhancement}}, "ALBA-2026:0977 ALEA-2026:0301"},
		{errata.Criteria{MinSeverity: errata.SeverityImportant}, "ALSA-2026:1042 ALSA-2026:0554"},
		{errata.Criteria{MinSeverity: errata.SeverityCritical}, ""},
		{errata.Criteria{CVEs: []string{"cve-2025-9231"}}, "ALSA-2026:1042"},
		{errata.Criteria{CVEs: []string{"CVE-2025-38352", "CVE-2025-9230"}}, "ALSA-2026:1042 ALSA-2026:0554"},
		{errata.Criteria{IDs: []string{"ALEA-2026:0301", "NOPE"}}, "ALEA-2026:0301"},
		{errata.Criteria{IssuedSince: day("2026-01-12")}, "ALSA-2026:1042 ALBA-2026:0977 ALSA-2026:0554"},
		{errata.Criteria{IssuedBefore: day("2026-01-12")}, "ALEA-2026:0301"},
		{errata.Criteria{IssuedSince: day("2026-01-12"), IssuedBefore: day("2026-01-14"), Types: []errata.Type{errata.TypeSecurity}}, "ALSA-2026:0554"},
	} {
		var ids []string
		for _, a := range errata.Filter(advs, tc.c) {
			ids = append(ids, a.ID)
		}
		if got := strings.Join(ids, " "); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.c, got, tc.want)
		}
	}
	w := advs[0]
	w.Withdrawn = day("2026-02-01")
	if len(errata.Filter([]errata.Advisory{w}, errata.Criteria{})) != 0 || len(errata.Filter([]errata.Advisory{w}, errata.Criteria{IncludeWithdrawn: true})) != 1 {
		t.Error("withdrawn advisories")
	}
}

func TestUpdateinfoFixes(t *testing.T) {
	advs := readFixture(t)
	sec, bug := advs[0], advs[1]
	for _, tc := range []struct {
		a                   errata.Advisory
		name, version, arch string
		want                bool
	}{
		{sec, "openssl-libs", "1:3.2.2-6.el9_5.1", "x86_64", true},
		{sec, "openssl-libs", "1:3.2.2-6.el9_5", "x86_64", false},
		{sec, "openssl-libs", "1:3.2.2-6.el9_5.1", "aarch64", false},
		{sec, "openssl-libs", "1:3.2.2-6.el9_5.1", "src", false},
		{sec, "openssl-libs", "1:3.2.2-6.el9_5.1", "", true},
		{bug, "tzdata", "2025c-1.el8", "x86_64", true}, // noarch applies to every arch
		{bug, "tzdata", "2025b-1.el8", "noarch", false},
	} {
		if got := tc.a.Fixes(tc.name, tc.version, tc.arch, dpkgCompare); got != tc.want {
			t.Errorf("%s Fixes(%s %s %s) = %v", tc.a.ID, tc.name, tc.version, tc.arch, got)
		}
	}
}

func TestParseSeverityAndType(t *testing.T) {
	for in, want := range map[string]errata.Severity{"Critical": errata.SeverityCritical, "HIGH": errata.SeverityImportant, "important": errata.SeverityImportant,
		"Medium": errata.SeverityModerate, "moderate": errata.SeverityModerate, "negligible": errata.SeverityLow, "unimportant": errata.SeverityLow, "None": errata.SeverityNone} {
		if got, ok := errata.ParseSeverity(in); !ok || got != want {
			t.Errorf("ParseSeverity(%q) = %v %v", in, got, ok)
		}
	}
	if _, ok := errata.ParseSeverity("spicy"); ok {
		t.Error("unknown severity accepted")
	}
	for in, want := range map[string]errata.Type{"security": errata.TypeSecurity, "recommended": errata.TypeBugfix, "feature": errata.TypeEnhancement, "newpackage": errata.TypeNewPackage, "Other": "other"} {
		if got := errata.ParseType(in); got != want {
			t.Errorf("ParseType(%q) = %q", in, got)
		}
	}
	var s errata.Severity
	if err := s.UnmarshalText([]byte("important")); err != nil || s != errata.SeverityImportant || s.String() != "important" {
		t.Errorf("text round trip: %v %v", s, err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	all := readFixture(t)
	for _, a := range readOSVFixtures(t) {
		all = append(all, a)
	}
	for i := range all {
		b, err := errata.Marshal(&all[i])
		if err != nil {
			t.Fatal(err)
		}
		back, err := errata.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(all[i], back); d != "" {
			t.Errorf("%s:\n%s", all[i].ID, d)
		}
	}
	if _, err := errata.Unmarshal([]byte(`{"Severity":"spicy"}`)); !errors.Is(err, errata.ErrMalformed) {
		t.Errorf("bad severity: %v", err)
	}
}

// FuzzOSV checks that ReadOSV never panics and that whatever it returns
// survives Marshal/Unmarshal and renders as updateinfo that parses back.
func FuzzOSV(f *testing.F) {
	entries, _ := os.ReadDir(osvDir)
	for _, e := range entries {
		if b, err := os.ReadFile(osvDir + "/" + e.Name()); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"id":"\u0001"}`))
	f.Add([]byte(`[{"id":"A","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/S:C"}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		advs, err := errata.ReadOSV(context.Background(), bytes.NewReader(data), &errata.Options{MaxAdvisoryBytes: 1 << 16})
		if err != nil {
			return
		}
		for i := range advs {
			b, err := errata.Marshal(&advs[i])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := errata.Unmarshal(b); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if err := errata.WriteUpdateinfo(&buf, advs); err != nil {
			t.Fatal(err)
		}
		back, err := errata.ReadUpdateinfo(context.Background(), &buf, nil)
		if err != nil {
			t.Fatalf("rendered OSV does not parse: %v", err)
		}
		if len(back) != len(advs) {
			t.Fatalf("%d advisories rendered, %d read back: %s", len(advs), len(back), fmt.Sprint(back))
		}
	})
}

func TestForEcosystem(t *testing.T) {
	usn := readOSVFixtures(t)["USN-7205-1"]
	jammy := usn.ForEcosystem("deb", "22.04")
	bionic := usn.ForEcosystem("deb", "18.04")
	if len(jammy.Packages) != 1 || len(bionic.Packages) != 1 || len(usn.ForEcosystem("rpm", "").Packages) != 0 || len(usn.Packages) != 2 {
		t.Fatalf("jammy %d bionic %d", len(jammy.Packages), len(bionic.Packages))
	}
	// Across releases 2.9.13 is still affected (jammy); on bionic it is past the fix.
	if usn.Fixes("libxml2", "2.9.13+dfsg-1ubuntu0.5", "", dpkgCompare) || jammy.Fixes("libxml2", "2.9.13+dfsg-1ubuntu0.5", "", dpkgCompare) ||
		!bionic.Fixes("libxml2", "2.9.13+dfsg-1ubuntu0.5", "", dpkgCompare) {
		t.Error("per-release Fixes")
	}
}
