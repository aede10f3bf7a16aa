package helm_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest"
	"github.com/chantal-lite/chantal/formats/helm"
	"github.com/chantal-lite/chantal/pool"
)

var update = flag.Bool("update", false, "rewrite golden files")

const fixtures = "../../testdata/helm"

var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// loadTree reads a fixture directory into a MemFS.
func loadTree(t testing.TB, dir string) *formattest.MemFS {
	t.Helper()
	fs := &formattest.MemFS{}
	root := filepath.Join(fixtures, dir)
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fs.Put(filepath.ToSlash(rel), b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func readFixture(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, p))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func scanAll(t testing.TB, f *helm.Format, req formats.ScanRequest) []formats.Item {
	t.Helper()
	var items []formats.Item
	err := f.Scan(context.Background(), req, func(e formats.Entry) error {
		if e.Item == nil {
			t.Fatalf("Scan yielded a non-item entry %+v", e)
		}
		items = append(items, *e.Item)
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return items
}

func TestParseIndexFixture(t *testing.T) {
	ix, err := helm.ParseIndex(readFixture(t, "repo/index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]helm.Entry{}
	for _, e := range ix.Entries {
		got[e.Name+"-"+e.Version] = e
	}
	for _, want := range []string{"alpha-0.1.0", "alpha-0.2.0", "alpha-1.0.0-rc.1", "alpha-1.0.0", "beta-1.0.0", "beta-2.1.0", "eta-0.1.0", "gamma-0.1.0", "zeta-0.1.0"} {
		if _, ok := got[want]; !ok {
			t.Errorf("entry %s missing", want)
		}
	}
	if len(ix.Entries) != 9 {
		t.Errorf("%d entries, want 9", len(ix.Entries))
	}
	if d := got["alpha-0.1.0"].Digest; len(d) != 64 || strings.HasPrefix(d, "sha256:") {
		t.Errorf("sha256:-prefixed digest parsed as %q", d)
	}
	if d := got["alpha-0.2.0"].Digest; len(d) != 64 {
		t.Errorf("bare digest parsed as %q", d)
	}
	if e := got["eta-0.1.0"]; e.Digest != "" || e.DigestNote != "digest is not a string" {
		t.Errorf("integer digest: %q (%s), want none", e.Digest, e.DigestNote)
	}
	if e := got["zeta-0.1.0"]; e.Digest != "" || e.DigestNote != "no digest" {
		t.Errorf("missing digest: %q (%s)", e.Digest, e.DigestNote)
	}
	if !got["beta-1.0.0"].Deprecated || got["beta-2.1.0"].Deprecated {
		t.Error("deprecated flag wrong")
	}
	if len(ix.Skipped) != 2 {
		t.Fatalf("skipped %v, want the two broken entries", ix.Skipped)
	}
	for _, s := range ix.Skipped {
		if s.Name != "broken" {
			t.Errorf("skipped %v", s)
		}
	}
	if !strings.Contains(ix.Skipped[0].Reason, "version is not a string") || !strings.Contains(ix.Skipped[1].Reason, "urls is not a list") {
		t.Errorf("reasons: %q, %q", ix.Skipped[0].Reason, ix.Skipped[1].Reason)
	}
}

func TestParseIndexErrors(t *testing.T) {
	for _, in := range []string{"", "- a\n- b\n", "apiVersion: v1\n", "entries: [1, 2]\n", "entries: {\n", "entries: {}\nentries: {}\n"} {
		if _, err := helm.ParseIndex([]byte(in)); !errors.Is(err, helm.ErrIndex) {
			t.Errorf("ParseIndex(%q) = %v, want ErrIndex", in, err)
		}
	}
	ix, err := helm.ParseIndex([]byte("apiVersion: v1\nentries:\n"))
	if err != nil || len(ix.Entries) != 0 {
		t.Errorf("empty entries: %v %v", ix, err)
	}
	// Entries with hostile content are skipped, not fatal.
	in := `apiVersion: v1
entries:
  ../evil:
  - {name: ../evil, version: 1.0.0, urls: [x.tgz], digest: ` + strings.Repeat("a", 64) + `}
  ok:
  - &a {name: ok, version: 1.0.0, urls: [ok.tgz]}
  - *a
  - {name: other, version: 1.0.0, urls: [ok.tgz]}
  - {name: ok, version: "1.0.0/../../x", urls: [ok.tgz]}
  - {name: ok, version: not-semver, urls: [ok.tgz]}
  - {name: ok, version: 2.0.0, urls: []}
  - {name: ok, version: 3.0.0, urls: [ok-3.tgz], digest: true}
  - {name: ok, version: 4.0.0, urls: [ok-4.tgz], digest: "sha256:XYZ"}
  - [not, a, mapping]
  "5":
  - {version: 1.0.0, urls: [five.tgz]}
`
	ix, err = helm.ParseIndex([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, e := range ix.Entries {
		kept = append(kept, e.Name+"@"+e.Version+":"+e.DigestNote)
	}
	want := "5@1.0.0:no digest ok@1.0.0:no digest ok@3.0.0:digest is not a string ok@4.0.0:digest is not a SHA-256"
	if strings.Join(kept, " ") != want {
		t.Errorf("kept %q\nwant %q", strings.Join(kept, " "), want)
	}
	if len(ix.Skipped) != 7 {
		t.Errorf("skipped %d: %v", len(ix.Skipped), ix.Skipped)
	}
}

func TestScanFixture(t *testing.T) {
	f := helm.New(nil)
	src := loadTree(t, "repo")
	items := scanAll(t, f, formats.ScanRequest{Source: src, Mode: formats.ModeMirror})
	var names []string
	for _, it := range items {
		names = append(names, it.Path)
		if err := formattest.CheckEntry(formats.Entry{Item: &it}); err != nil {
			t.Error(err)
		}
		b, ok := src.Get(it.Path)
		if !ok {
			t.Errorf("%s: not in the upstream tree", it.Path)
			continue
		}
		if pool.Sum(b) != it.Digest || it.Checksums["sha256"] != it.Digest.String() {
			t.Errorf("%s: digest %s / %v does not match the file", it.Path, it.Digest, it.Checksums)
		}
		if it.Fields[helm.FieldURL] != it.Path || it.Fields[helm.FieldRemote] != "" {
			t.Errorf("%s: fields %v", it.Path, it.Fields)
		}
		if len(it.Fragments[helm.FragmentEntry]) == 0 {
			t.Errorf("%s: no entry fragment", it.Path)
		}
	}
	want := "charts/alpha-1.0.0.tgz charts/alpha-1.0.0-rc.1.tgz charts/alpha-0.2.0.tgz charts/alpha-0.1.0.tgz charts/beta-2.1.0.tgz charts/beta-1.0.0.tgz charts/gamma-0.1.0.tgz"
	if strings.Join(names, " ") != want {
		t.Errorf("items %q\nwant  %q (digest-less eta and zeta skipped)", strings.Join(names, " "), want)
	}
	byPath := map[string]formats.Item{}
	for _, it := range items {
		byPath[it.Path] = it
	}
	if byPath["charts/beta-1.0.0.tgz"].Fields[helm.FieldDeprecated] != "true" || byPath["charts/beta-2.1.0.tgz"].Fields[helm.FieldDeprecated] != "" {
		t.Error("deprecated field wrong")
	}
	if byPath["charts/alpha-1.0.0-rc.1.tgz"].Fields[helm.FieldPrerelease] != "true" || byPath["charts/alpha-1.0.0.tgz"].Fields[helm.FieldPrerelease] != "" {
		t.Error("prerelease field wrong")
	}

	// Opting in to digest-less entries yields them without checksums.
	all := scanAll(t, f, formats.ScanRequest{Source: src, Params: map[string]string{helm.ParamAllowDigestless: "true"}})
	if len(all) != 9 {
		t.Errorf("allow_digestless: %d items, want 9", len(all))
	}
}

func TestScanUsesTop(t *testing.T) {
	f := helm.New(nil)
	top := &formats.TopLevel{Path: helm.IndexPath, Data: readFixture(t, "repo/index.yaml")}
	items := scanAll(t, f, formats.ScanRequest{Source: &formattest.MemFS{}, Top: top})
	if len(items) != 7 {
		t.Errorf("%d items from Top, want 7", len(items))
	}
	if p, sig, err := f.TopLevel(context.Background(), formats.ScanRequest{}); p != "index.yaml" || sig != "" || err != nil {
		t.Errorf("TopLevel = %q %q %v", p, sig, err)
	}
}

func remoteIndex(t testing.TB, base, other, oci string) []byte {
	s := string(readFixture(t, "remote/index.yaml.tmpl"))
	s = strings.NewReplacer("@@BASE@@", base, "@@OTHER@@", other, "@@OCI@@", oci).Replace(s)
	return []byte(s)
}

func TestScanRemoteURLs(t *testing.T) {
	f := helm.New(nil)
	top := &formats.TopLevel{Path: helm.IndexPath, Data: remoteIndex(t, "http://127.0.0.1:1/repo/", "http://127.0.0.2:2/x/", "127.0.0.1:3")}
	items := scanAll(t, f, formats.ScanRequest{Source: &formattest.MemFS{}, Top: top})
	got := map[string]formats.Item{}
	for _, it := range items {
		got[it.Path] = it
		if it.Fields[helm.FieldRemote] != "true" {
			t.Errorf("%s: not marked remote", it.Path)
		}
	}
	for p, u := range map[string]string{
		"charts/alpha-0.2.0.tgz":   "http://127.0.0.1:1/repo/charts/alpha-0.2.0.tgz",
		"charts/delta-3.0.0.tgz":   "oci://127.0.0.1:3/charts/delta:3.0.0",
		"charts/epsilon-1.0.0.tgz": "http://127.0.0.2:2/x/epsilon-1.0.0.tgz",
	} {
		if got[p].Fields[helm.FieldURL] != u {
			t.Errorf("%s: url %q, want %q", p, got[p].Fields[helm.FieldURL], u)
		}
	}
}

func TestURLConfinement(t *testing.T) {
	f := helm.New(nil)
	d := strings.Repeat("b", 64)
	for url, want := range map[string]string{
		"charts/a-1.0.0.tgz":          "charts/a-1.0.0.tgz",
		"./x/../charts/a-1.0.0.tgz":   "charts/a-1.0.0.tgz", // ".." segment: fetched as foreign
		"../a-1.0.0.tgz":              "charts/a-1.0.0.tgz",
		"/abs/a-1.0.0.tgz":            "charts/a-1.0.0.tgz",
		"a-1.0.0.tgz?token=1":         "charts/a-1.0.0.tgz",
		"a%20b.tgz":                   "a b.tgz",
		"index.yaml":                  "charts/a-1.0.0.tgz",
		"https://h/a.tgz":             "charts/a-1.0.0.tgz",
		"file:///etc/passwd":          "",
		"ftp://h/a.tgz":               "",
		"a\\b.tgz":                    "charts/a-1.0.0.tgz",
		"charts/a-1.0.0.tgz\x00x.tgz": "",
	} {
		in := "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    digest: " + d + "\n    urls: [" + quote(url) + "]\n"
		items := scanAll(t, f, formats.ScanRequest{Top: &formats.TopLevel{Data: []byte(in)}})
		switch {
		case want == "" && len(items) != 0:
			t.Errorf("url %q: yielded %s, want skipped", url, items[0].Path)
		case want != "" && (len(items) != 1 || items[0].Path != want):
			t.Errorf("url %q: %v, want path %q", url, items, want)
		}
		for _, it := range items {
			if err := formattest.CheckPath(it.Path); err != nil {
				t.Errorf("url %q: %v", url, err)
			}
		}
	}
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\x00", `\0`)
	return `"` + r.Replace(s) + `"`
}

func TestScanDuplicatePath(t *testing.T) {
	d1, d2 := strings.Repeat("1a", 32), strings.Repeat("2b", 32)
	in := "apiVersion: v1\nentries:\n  a:\n  - {name: a, version: 1.0.0, digest: " + d1 + ", urls: [https://x/a-1.0.0.tgz]}\n  - {name: a, version: 1.0.0, digest: " + d2 + ", urls: [https://y/a-1.0.0.tgz]}\n"
	items := scanAll(t, helm.New(nil), formats.ScanRequest{Top: &formats.TopLevel{Data: []byte(in)}})
	if len(items) != 1 || items[0].Digest.String() != d1 {
		t.Errorf("same name+version twice: %v, want the first only", items)
	}
}

func TestConformance(t *testing.T) {
	f := helm.New(nil)
	for _, mode := range []formats.Mode{formats.ModeFiltered, formats.ModeMirror} {
		t.Run(string(mode), func(t *testing.T) {
			fx := formattest.Fixture{Upstream: loadTree(t, "repo"), Mode: mode, MinItems: 7, Now: now}
			if mode != formats.ModeMirror {
				fx.Layout = f.PublishPath
			}
			formattest.Run(t, f, fx)
		})
	}
}

func TestPublishPath(t *testing.T) {
	if p := helm.New(nil).PublishPath(formats.Item{Name: "a", Version: "1.2.3+b"}); p != "charts/a-1.2.3+b.tgz" {
		t.Errorf("PublishPath = %q", p)
	}
	if p := helm.ProvenancePath("charts/a-1.tgz"); p != "charts/a-1.tgz.prov" {
		t.Errorf("ProvenancePath = %q", p)
	}
}

func TestCheckProvenance(t *testing.T) {
	prov := readFixture(t, "repo/charts/gamma-0.1.0.tgz.prov")
	sum := pool.Sum(readFixture(t, "repo/charts/gamma-0.1.0.tgz")).String()
	if err := helm.CheckProvenance(prov, "gamma-0.1.0.tgz", sum); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		prov       []byte
		file, hash string
	}{
		{prov, "gamma-0.1.0.tgz", strings.Repeat("0", 64)},
		{prov, "alpha-0.1.0.tgz", sum},
		{[]byte("not signed"), "gamma-0.1.0.tgz", sum},
		{bytes.Repeat([]byte("x"), 2<<20), "gamma-0.1.0.tgz", sum},
	} {
		if err := helm.CheckProvenance(c.prov, c.file, c.hash); !errors.Is(err, helm.ErrProvenance) {
			t.Errorf("CheckProvenance(%s, %s) = %v, want ErrProvenance", c.file, c.hash[:8], err)
		}
	}
}

// memOpen serves Render's Open from a map of file contents.
func memOpen(files map[pool.Digest][]byte) func(context.Context, pool.Digest) (io.ReadCloser, error) {
	return func(_ context.Context, d pool.Digest) (io.ReadCloser, error) {
		b, ok := files[d]
		if !ok {
			return nil, errors.New("no such file")
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
}

// countingSource records every path opened through it.
type countingSource struct {
	formats.Source
	opened []string
}

func (c *countingSource) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	c.opened = append(c.opened, p)
	return c.Source.Open(ctx, p)
}

// The facade fetches index.yaml once and passes it as Top; Scan must not fetch
// it again (the original's second GET was a TOCTOU window), nor anything else.
func TestScanWithTopMakesNoRequest(t *testing.T) {
	f := helm.New(nil)
	src := &countingSource{Source: loadTree(t, "repo")}
	top := &formats.TopLevel{Path: helm.IndexPath, Data: readFixture(t, "repo/index.yaml")}
	for _, mode := range []formats.Mode{formats.ModeMirror, formats.ModeFiltered} {
		items := scanAll(t, f, formats.ScanRequest{Source: src, Top: top, Mode: mode})
		if len(items) != 7 {
			t.Errorf("%s: %d items", mode, len(items))
		}
	}
	if len(src.opened) != 0 {
		t.Errorf("Scan with Top opened %v", src.opened)
	}
	// Without Top it reads index.yaml exactly once.
	scanAll(t, f, formats.ScanRequest{Source: src})
	if strings.Join(src.opened, " ") != helm.IndexPath {
		t.Errorf("Scan without Top opened %v, want index.yaml once", src.opened)
	}
}

// OCI pulls go through oras-go in process: no helm binary, and so no registry
// credentials on any command line (the original passed them on helm's argv).
func TestNoExec(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := filepath.Glob("helmtest/*.go")
	for _, p := range append(files, sub...) {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range []string{`"os/exec"`, `"syscall"`, `"golang.org/x/sys/`} {
			if bytes.Contains(b, []byte(imp)) {
				t.Errorf("%s imports %s: the helm format must not run programs", p, imp)
			}
		}
	}
}
