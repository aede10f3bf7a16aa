package errata_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chantal-lite/chantal/errata"
)

func readFixture(t *testing.T) []errata.Advisory {
	t.Helper()
	f, err := os.Open("../testdata/errata/updateinfo.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var skipped []*errata.SkipError
	advs, err := errata.ReadUpdateinfo(context.Background(), f, &errata.Options{
		Source: "updateinfo:fixture",
		OnSkip: func(e *errata.SkipError) { skipped = append(skipped, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) > 0 {
		t.Fatalf("skipped: %v", skipped)
	}
	return advs
}

func TestReadUpdateinfoFixture(t *testing.T) {
	advs := readFixture(t)
	if len(advs) != 4 {
		t.Fatalf("got %d advisories, want 4", len(advs))
	}
	sec, bug, enh, kern := &advs[0], &advs[1], &advs[2], &advs[3]
	for _, tc := range []struct {
		a        *errata.Advisory
		id       string
		typ      errata.Type
		sev      errata.Severity
		issued   string
		packages int
	}{
		{sec, "ALSA-2026:1042", errata.TypeSecurity, errata.SeverityImportant, "2026-01-21T00:00:00Z", 2},
		{bug, "ALBA-2026:0977", errata.TypeBugfix, errata.SeverityNone, "2026-01-14T00:00:00Z", 1},
		{enh, "ALEA-2026:0301", errata.TypeEnhancement, errata.SeverityNone, "2026-01-07T12:00:00Z", 2},
		{kern, "ALSA-2026:0554", errata.TypeSecurity, errata.SeverityImportant, "2026-01-12T00:00:00Z", 1},
	} {
		a := tc.a
		if a.ID != tc.id || a.Type != tc.typ || a.Severity != tc.sev || a.Issued.Format(time.RFC3339) != tc.issued || len(a.Packages) != tc.packages {
			t.Errorf("%s: got id %s type %s severity %s issued %s packages %d", tc.id, a.ID, a.Type, a.Severity, a.Issued.Format(time.RFC3339), len(a.Packages))
		}
		if a.Source != "updateinfo:fixture" {
			t.Errorf("%s: source %q", a.ID, a.Source)
		}
	}
	if got, want := sec.CVEs(), []string{"CVE-2025-9230", "CVE-2025-9231"}; !slicesEqual(got, want) {
		t.Errorf("CVEs %v, want %v", got, want)
	}
	if !strings.Contains(sec.Description, "unwrap (CVE-2025-9231)") || !strings.Contains(sec.Description, "read & write") {
		t.Errorf("description lost text: %q", sec.Description)
	}
	p := sec.Packages[1]
	if p.Name != "openssl-libs" || p.Epoch != "1" || p.Version != "3.2.2" || p.Release != "6.el9_5.1" || p.Arch != "x86_64" ||
		p.Ecosystem != "rpm" || p.Collection != "almalinux-9-for-x86_64-baseos-rpms" || len(p.Sums) != 1 || !p.RestartSuggested {
		t.Errorf("package: %+v", p)
	}
	if p.EVR() != "1:3.2.2-6.el9_5.1" {
		t.Errorf("EVR %q", p.EVR())
	}
	if got := bug.Updated.UTC().Format(time.RFC3339); got != "2026-01-14T11:00:02Z" {
		t.Errorf("unix updated date: %s", got)
	}
	m := enh.Packages[0].Module
	if m == nil || m.String() != "nodejs:24:9070020260105101010:9:x86_64" || enh.Packages[1].Module != m {
		t.Errorf("module: %+v", m)
	}
	if !kern.RebootSuggested || !kern.NeedsReboot() || sec.NeedsReboot() || !sec.NeedsRestart() {
		t.Errorf("hints: kernel %v %v, openssl %v %v", kern.RebootSuggested, kern.NeedsReboot(), sec.NeedsReboot(), sec.NeedsRestart())
	}
	var refTypes []string
	for _, r := range sec.References {
		refTypes = append(refTypes, r.Type)
	}
	if !slicesEqual(refTypes, []string{"self", "cve", "cve", "bugzilla"}) {
		t.Errorf("reference types %v", refTypes)
	}
}

func slicesEqual(a, b []string) bool { return cmp.Equal(a, b) }

func render(t testing.TB, advs []errata.Advisory) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := errata.WriteUpdateinfo(&buf, advs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUpdateinfoRoundTrip(t *testing.T) {
	advs := readFixture(t)
	out := render(t, advs)
	again, err := errata.ReadUpdateinfo(context.Background(), bytes.NewReader(out), &errata.Options{Source: "updateinfo:fixture"})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if d := cmp.Diff(advs, again); d != "" {
		t.Errorf("round trip differs (-parsed +reparsed):\n%s", d)
	}
	if out2 := render(t, again); !bytes.Equal(out, out2) {
		t.Errorf("rendering is not deterministic:\n%s\n---\n%s", out, out2)
	}
}

func TestWriteUpdateinfoFromOSV(t *testing.T) {
	// An OSV advisory has no exact builds: its packages are left out, its
	// CVE references and the canonical severity word are written.
	a := errata.Advisory{ID: "USN-1-1", Type: errata.TypeSecurity, Severity: errata.SeverityModerate,
		RawSeverity: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", Title: "ctl\x01 <chars> & \"q\"",
		References: []errata.Reference{{Type: "cve", ID: "CVE-2026-0001"}},
		Packages:   []errata.Package{{Ecosystem: "deb", Name: "x", Ranges: []errata.Range{{Type: "ECOSYSTEM"}}}}}
	out := render(t, []errata.Advisory{a})
	for _, want := range []string{"<severity>Moderate</severity>", `<reference id="CVE-2026-0001" type="cve"/>`, "<pkglist/>", "<title>ctl &lt;chars&gt; &amp; \"q\"</title>"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	back, err := errata.ReadUpdateinfo(context.Background(), bytes.NewReader(out), nil)
	if err != nil || len(back) != 1 || back[0].Title != "ctl <chars> & \"q\"" {
		t.Fatalf("reparse: %v %+v", err, back)
	}
}

const uiHead = `<?xml version="1.0" encoding="UTF-8"?>` + "\n<updates>\n"

func TestUpdateinfoLenient(t *testing.T) {
	deep := strings.Repeat("<x>", 40) + strings.Repeat("</x>", 40)
	doc := uiHead +
		`<update type="security"><id>GOOD-1</id><issued date="2026-01-01"/></update>` +
		`<update type="security"><title>no id</title></update>` +
		`<update type="bugfix"><id>BADDATE-1</id><issued date="yesterday"/></update>` +
		`<update type="bugfix"><id>DEEP-1</id>` + deep + `</update>` +
		`<update type="bugfix"><id>BIG-1</id><description>` + strings.Repeat("x", 5000) + `</description></update>` +
		`<other><update><id>NOT-AN-UPDATE</id></update></other>` +
		`<update type="enhancement"><id>GOOD-2</id></update>` +
		"</updates>\n"
	var skipped []*errata.SkipError
	advs, err := errata.ReadUpdateinfo(context.Background(), strings.NewReader(doc), &errata.Options{
		MaxAdvisoryBytes: 2000,
		OnSkip:           func(e *errata.SkipError) { skipped = append(skipped, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range advs {
		ids = append(ids, a.ID)
	}
	if !slicesEqual(ids, []string{"GOOD-1", "GOOD-2"}) {
		t.Errorf("kept %v", ids)
	}
	want := []struct {
		id  string
		err error
	}{{"", errata.ErrMalformed}, {"BADDATE-1", errata.ErrMalformed}, {"DEEP-1", errata.ErrMalformed}, {"BIG-1", errata.ErrTooLarge}}
	if len(skipped) != len(want) {
		t.Fatalf("skipped %v", skipped)
	}
	for i, w := range want {
		if skipped[i].ID != w.id || !errors.Is(skipped[i], w.err) || skipped[i].Index != i+1 {
			t.Errorf("skip %d: %v (id %q index %d), want %s %v", i, skipped[i], skipped[i].ID, skipped[i].Index, w.id, w.err)
		}
	}
}

func TestUpdateinfoMalformed(t *testing.T) {
	for name, doc := range map[string]string{
		"not xml":     "hello",
		"empty":       "",
		"wrong root":  `<?xml version="1.0"?><repomd></repomd>`,
		"truncated":   uiHead + `<update><id>A</id>`,
		"mismatched":  uiHead + `<update><id>A</title></update></updates>`,
		"two roots":   uiHead + "</updates><updates/>",
		"bad entity":  uiHead + `<update><id>&foo;</id></update></updates>`,
		"control chr": uiHead + "<update><id>\x01</id></update></updates>",
	} {
		_, err := errata.ReadUpdateinfo(context.Background(), strings.NewReader(doc), nil)
		if !errors.Is(err, errata.ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
}

// endless yields an <update> whose description never ends.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestUpdateinfoBounded(t *testing.T) {
	// One advisory longer than the bound is skipped without being held,
	// so an endless one reads on (and the test stops it by size).
	src := &endless{}
	r := io.MultiReader(strings.NewReader(uiHead+`<update><id>HUGE</id><description>`), io.LimitReader(src, 64<<20),
		strings.NewReader(`</description></update><update><id>AFTER</id></update></updates>`))
	var skipped []*errata.SkipError
	advs, err := errata.ReadUpdateinfo(context.Background(), r, &errata.Options{
		MaxAdvisoryBytes: 1 << 20,
		OnSkip:           func(e *errata.SkipError) { skipped = append(skipped, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(advs) != 1 || advs[0].ID != "AFTER" || len(skipped) != 1 || skipped[0].ID != "HUGE" || !errors.Is(skipped[0], errata.ErrTooLarge) {
		t.Fatalf("advs %v skipped %v", advs, skipped)
	}

	// The advisory count is bounded too.
	many := uiHead + strings.Repeat(`<update><id>A</id></update>`, 11) + "</updates>"
	_, err = errata.ReadUpdateinfo(context.Background(), strings.NewReader(many), &errata.Options{MaxAdvisories: 10})
	if !errors.Is(err, errata.ErrTooLarge) {
		t.Errorf("count bound: %v", err)
	}
}

func TestUpdateinfoEachAndCancel(t *testing.T) {
	f, err := os.ReadFile("../testdata/errata/updateinfo.xml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	stop := errors.New("stop")
	advs, err := errata.ReadUpdateinfo(context.Background(), bytes.NewReader(f), &errata.Options{Each: func(errata.Advisory) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) || advs != nil || n != 2 {
		t.Errorf("Each: err %v advs %v n %d", err, advs, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := errata.ReadUpdateinfo(ctx, bytes.NewReader(f), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: %v", err)
	}
}

// FuzzUpdateinfo checks that the parser never panics and that what it
// accepts renders to a document that parses back to the same advisories
// and renders to the same bytes.
func FuzzUpdateinfo(f *testing.F) {
	if b, err := os.ReadFile("../testdata/errata/updateinfo.xml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(uiHead + `<update type="x"><id>A</id><issued date="1"/><pkglist><collection><module name="m" stream="s"/><package name="p" version="1"/></collection></pkglist></update></updates>`))
	f.Add([]byte(uiHead + "<update><id>\u00e9&#xD;</id><title>a\r\nb</title></update></updates>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := &errata.Options{MaxAdvisoryBytes: 1 << 16}
		advs, err := errata.ReadUpdateinfo(context.Background(), bytes.NewReader(data), opts)
		if err != nil {
			return
		}
		out := render(t, advs)
		again, err := errata.ReadUpdateinfo(context.Background(), bytes.NewReader(out), nil)
		if err != nil {
			t.Fatalf("rendered output does not parse: %v\n%s", err, out)
		}
		out2 := render(t, again)
		third, err := errata.ReadUpdateinfo(context.Background(), bytes.NewReader(out2), nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(again, third); d != "" {
			t.Fatalf("render/parse not stable:\n%s", d)
		}
		if !bytes.Equal(out2, render(t, third)) {
			t.Fatalf("rendering not stable")
		}
	})
}

func TestWriteUpdateinfoNoID(t *testing.T) {
	var buf bytes.Buffer
	err := errata.WriteUpdateinfo(&buf, []errata.Advisory{{ID: "A"}, {ID: "\x01 "}})
	if !errors.Is(err, errata.ErrMalformed) || buf.Len() != 0 {
		t.Errorf("err %v, %d bytes written", err, buf.Len())
	}
}
