package rpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/verify"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

var fixtures = filepath.Join("..", "..", "testdata", "rpm")

// dirSource reads a repository from a directory.
type dirSource string

func (d dirSource) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(string(d), filepath.FromSlash(p)))
}

// memSource reads a repository from memory.
type memSource map[string][]byte

func (m memSource) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	b, ok := m[p]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", p, os.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

type scanned struct {
	files []formats.File
	items []formats.Item
}

func scan(t testing.TB, f *Format, req formats.ScanRequest) (scanned, error) {
	t.Helper()
	var s scanned
	err := f.Scan(context.Background(), req, func(e formats.Entry) error {
		switch {
		case e.Item != nil && e.File == nil:
			s.items = append(s.items, *e.Item)
		case e.File != nil && e.Item == nil:
			s.files = append(s.files, *e.File)
		default:
			t.Errorf("entry with item %v and file %v", e.Item, e.File)
		}
		return nil
	})
	return s, err
}

func TestScanFixture(t *testing.T) {
	s, err := scan(t, New(nil), formats.ScanRequest{Source: dirSource(filepath.Join(fixtures, "repo")), Mode: formats.ModeFiltered})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, fl := range s.files {
		kinds = append(kinds, fl.Kind)
		if fl.Kind == "repomd" {
			if fl.Path != RepomdPath {
				t.Errorf("repomd file path %q", fl.Path)
			}
			continue
		}
		if !strings.HasPrefix(fl.Path, "repodata/") || fl.Digest.IsZero() || fl.Size == 0 || len(fl.Checksums["sha256"]) != 64 {
			t.Errorf("file %+v: want repodata/ path, digest, size and sha256", fl)
		}
		b, err := os.ReadFile(filepath.Join(fixtures, "repo", fl.Path))
		if err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(b) != fl.Digest || int64(len(b)) != fl.Size {
			t.Errorf("file %s: digest or size differs from the file on disk", fl.Path)
		}
	}
	sort.Strings(kinds)
	if diff := cmp.Diff([]string{"filelists", "group", "group_gz", "other", "primary", "repomd", "updateinfo"}, kinds); diff != "" {
		t.Errorf("file kinds (-want +got):\n%s", diff)
	}

	type row struct{ Path, Name, Version, Arch string }
	var got []row
	for _, it := range s.items {
		got = append(got, row{it.Path, it.Name, it.Version, it.Arch})
	}
	want := []row{
		{"Packages/greet-data-0.5-3.noarch.rpm", "greet-data", "1:0.5-3", "noarch"},
		{"Packages/hello-1.0-1.src.rpm", "hello", "1.0-1", "src"},
		{"Packages/hello-1.0-1.x86_64.rpm", "hello", "1.0-1", "x86_64"},
		{"Packages/hello-1.1-1.x86_64.rpm", "hello", "1.1-1", "x86_64"},
		{"Packages/libgreet-2.0-1.x86_64.rpm", "libgreet", "2.0-1", "x86_64"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("items (-want +got):\n%s", diff)
	}
	for _, it := range s.items {
		b, err := os.ReadFile(filepath.Join(fixtures, "repo", it.Path))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if it.Digest != sum || it.Checksums["sha256"] != hex.EncodeToString(sum[:]) || it.Size != int64(len(b)) {
			t.Errorf("%s: digest/checksum/size do not match the package file", it.Path)
		}
		checkFragments(t, it)
	}
	gd := s.items[0]
	wantFields := map[string]string{
		"epoch": "1", "version": "0.5", "release": "3", "summary": "Greetings in many languages",
		"group": "Applications/Text", "license": "CC0", "vendor": "chantal-lite test fixtures",
		"packager": "chantal-lite <fixtures@example.invalid>", "buildhost": "fixtures.example.invalid",
		"buildtime": "1767225600", "filetime": "1767225600", "sourcerpm": "greet-data-0.5-3.src.rpm",
		"url": "https://example.invalid/greet-data",
	}
	if diff := cmp.Diff(wantFields, gd.Fields); diff != "" {
		t.Errorf("greet-data fields (-want +got):\n%s", diff)
	}
	if !bytes.Contains(s.items[3].Fragments["primary"], []byte(`<rpm:entry name="libgreet.so.2()(64bit)"/>`)) {
		t.Errorf("hello-1.1 primary fragment lost its requires:\n%s", s.items[3].Fragments["primary"])
	}
	if !bytes.Contains(s.items[4].Fragments["filelists"], []byte("<file>/usr/lib64/libgreet.so.2</file>")) {
		t.Errorf("libgreet filelists fragment lacks its file:\n%s", s.items[4].Fragments["filelists"])
	}
}

// checkFragments checks that every fragment is one whole <package> element of
// the item's package.
func checkFragments(t testing.TB, it formats.Item) {
	t.Helper()
	for _, typ := range []string{"primary", "filelists", "other"} {
		fr := it.Fragments[typ]
		if !bytes.HasPrefix(fr, []byte("<package")) || !bytes.HasSuffix(fr, []byte("</package>")) {
			t.Errorf("%s %s fragment is not a package element: %q", it.Path, typ, fr)
			continue
		}
		var name, arch string
		if typ == "primary" {
			var p xmlPrimary
			if err := xml.Unmarshal(fr, &p); err != nil {
				t.Errorf("%s %s fragment does not re-parse: %v", it.Path, typ, err)
			}
			name, arch = p.Name, p.Arch
		} else {
			var p xmlSecondary
			if err := xml.Unmarshal(fr, &p); err != nil {
				t.Errorf("%s %s fragment does not re-parse: %v", it.Path, typ, err)
			}
			name, arch = p.Name, p.Arch
		}
		if name != it.Name || arch != it.Arch {
			t.Errorf("%s %s fragment is for %s.%s", it.Path, typ, name, arch)
		}
	}
}

func TestScanCompressions(t *testing.T) {
	base, err := scan(t, New(nil), formats.ScanRequest{Source: dirSource(filepath.Join(fixtures, "repo"))})
	if err != nil {
		t.Fatal(err)
	}
	srcs := map[string]formats.Source{
		"xz":  dirSource(filepath.Join(fixtures, "repo-xz")),
		"bz2": dirSource(filepath.Join(fixtures, "repo-bz2")),
		"zst": recompress(t, "zst", func(w io.Writer) io.WriteCloser {
			// Flushing before Close makes the encoder stream the frame
			// without a content size, as createrepo_c does.
			z, err := zstd.NewWriter(w)
			if err != nil {
				t.Fatal(err)
			}
			return flushingWriter{z}
		}),
		"plain": recompress(t, "", func(w io.Writer) io.WriteCloser { return nopWriteCloser{w} }),
	}
	zs := srcs["zst"].(memSource)
	for p, b := range zs {
		if strings.HasSuffix(p, ".zst") && (len(b) < 5 || b[4]&0xc0 != 0 || b[4]&0x20 != 0) {
			t.Fatalf("%s: frame header declares a content size (descriptor %#x)", p, b[4])
		}
	}
	for name, src := range srcs {
		t.Run(name, func(t *testing.T) {
			s, err := scan(t, New(nil), formats.ScanRequest{Source: src})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.items) != len(base.items) {
				t.Fatalf("got %d items, want %d", len(s.items), len(base.items))
			}
			for i := range s.items {
				if diff := cmp.Diff(base.items[i].Fragments, s.items[i].Fragments); diff != "" {
					t.Errorf("%s fragments differ from the gz repo (-gz +%s):\n%s", s.items[i].Path, name, diff)
				}
			}
		})
	}
}

type flushingWriter struct{ z *zstd.Encoder }

func (f flushingWriter) Write(p []byte) (int, error) {
	n, err := f.z.Write(p)
	if err == nil {
		err = f.z.Flush()
	}
	return n, err
}

func (f flushingWriter) Close() error { return f.z.Close() }

// recompress returns the fixture repo with primary, filelists and other
// recompressed by enc (ext "" = uncompressed) and repomd.xml updated.
func recompress(t testing.TB, ext string, enc func(io.Writer) io.WriteCloser) memSource {
	t.Helper()
	dir := filepath.Join(fixtures, "repo")
	top, err := os.ReadFile(filepath.Join(dir, RepomdPath))
	if err != nil {
		t.Fatal(err)
	}
	md, err := ParseRepomd(top)
	if err != nil {
		t.Fatal(err)
	}
	m := memSource{}
	doc := string(top)
	for _, typ := range []string{"primary", "filelists", "other"} {
		d := md.Find(typ)
		f, err := os.Open(filepath.Join(dir, d.Href))
		if err != nil {
			t.Fatal(err)
		}
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(z)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		w := enc(&buf)
		if _, err := w.Write(plain); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(buf.Bytes())
		href := fmt.Sprintf("repodata/%x-%s.xml", sum, typ)
		if ext != "" {
			href += "." + ext
		}
		m[href] = buf.Bytes()
		doc = replaceData(t, doc, typ,
			d.Href, href,
			">"+d.Checksums["sha256"]+"<", ">"+hex.EncodeToString(sum[:])+"<",
			fmt.Sprintf("<size>%d</size>", d.Size), fmt.Sprintf("<size>%d</size>", buf.Len()))
	}
	m[RepomdPath] = []byte(doc)
	return m
}

// replaceData applies the replacements inside the <data type="typ"> block.
func replaceData(t testing.TB, doc, typ string, repl ...string) string {
	t.Helper()
	i := strings.Index(doc, `<data type="`+typ+`">`)
	j := strings.Index(doc[i:], "</data>")
	if i < 0 || j < 0 {
		t.Fatalf("no data %s in repomd", typ)
	}
	blk := doc[i : i+j]
	for k := 0; k+1 < len(repl); k += 2 {
		old, nw := repl[k], repl[k+1]
		if !strings.Contains(blk, old) {
			t.Fatalf("data %s has no %q", typ, old)
		}
		blk = strings.ReplaceAll(blk, old, nw)
	}
	return doc[:i] + blk + doc[i+j:]
}

func TestScanChecksumMismatch(t *testing.T) {
	dir := filepath.Join(fixtures, "repo")
	top, err := os.ReadFile(filepath.Join(dir, RepomdPath))
	if err != nil {
		t.Fatal(err)
	}
	md, err := ParseRepomd(top)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"primary", "filelists", "other"} {
		t.Run(typ, func(t *testing.T) {
			bad := replaceData(t, string(top), typ,
				">"+md.Find(typ).Checksums["sha256"]+"<", ">"+strings.Repeat("0", 64)+"<")
			_, err := scan(t, New(nil), formats.ScanRequest{Source: dirSource(dir), Top: &formats.TopLevel{Path: RepomdPath, Data: []byte(bad)}})
			var ce *verify.ChecksumError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *verify.ChecksumError", err)
			}
		})
	}
}

// synthRepo builds an in-memory repository with gzip metadata.
func synthRepo(t testing.TB, primary, filelists, other string) memSource {
	t.Helper()
	gz := map[string][]byte{}
	for typ, body := range map[string]string{"primary": primary, "filelists": filelists, "other": other} {
		if body == "" {
			continue
		}
		var buf bytes.Buffer
		z := gzip.NewWriter(&buf)
		z.Write([]byte(body))
		z.Close()
		gz[typ] = buf.Bytes()
	}
	return synthRepoGz(t, gz)
}

// synthRepoGz builds an in-memory repository from gzipped metadata by type.
func synthRepoGz(t testing.TB, gz map[string][]byte) memSource {
	t.Helper()
	m := memSource{}
	var doc strings.Builder
	doc.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>1</revision>`)
	for _, typ := range []string{"primary", "filelists", "other"} {
		b, ok := gz[typ]
		if !ok {
			continue
		}
		sum := sha256.Sum256(b)
		href := fmt.Sprintf("repodata/%x-%s.xml.gz", sum, typ)
		m[href] = b
		fmt.Fprintf(&doc, `<data type="%s"><checksum type="sha256">%x</checksum><location href="%s"/><size>%d</size></data>`, typ, sum, href, len(b))
	}
	doc.WriteString("</repomd>\n")
	m[RepomdPath] = []byte(doc.String())
	return m
}

const (
	pkgidA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	pkgidB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func primaryPkg(name, ver, pkgid, href string) string {
	return fmt.Sprintf(`<package type="rpm"><name>%s</name><arch>x86_64</arch><version epoch="0" ver="%s" rel="1"/>`+
		`<checksum type="sha256" pkgid="YES">%s</checksum><size package="10"/><location href="%s"/>`+
		`<format><rpm:license>MIT</rpm:license></format></package>`, name, ver, pkgid, href)
}

func secondaryPkg(name, ver, pkgid, body string) string {
	return fmt.Sprintf(`<package pkgid="%s" name="%s" arch="x86_64"><version epoch="0" ver="%s" rel="1"/>%s</package>`, pkgid, name, ver, body)
}

func meta(root string, pkgs ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<` + root + ` xmlns="x" xmlns:rpm="y" packages="0">` + "\n" + strings.Join(pkgs, "\n") + "\n</" + root + ">\n"
}

func TestScanPkgidCollisionMatchedByNEVRA(t *testing.T) {
	// Two packages share a pkgid; filelists and other list them in another
	// order, so the walk must park one and match both by NEVRA.
	pad := strings.Repeat(" ", 200)
	src := synthRepo(t,
		meta("metadata", primaryPkg("foo", "1.0", pkgidA, "Packages/foo-1.0-1.x86_64.rpm"), primaryPkg("bar", "2.0", pkgidA, "Packages/bar-2.0-1.x86_64.rpm"), primaryPkg("baz", "3.0", pkgidB, "Packages/baz-3.0-1.x86_64.rpm")),
		meta("filelists", secondaryPkg("bar", "2.0", pkgidA, "<file>/bar</file>"), secondaryPkg("foo", "1.0", pkgidA, "<file>/foo</file>"), secondaryPkg("baz", "3.0", pkgidB, "<file>/baz</file>")),
		meta("otherdata", secondaryPkg("baz", "3.0", pkgidB, "<changelog>baz"+pad+"</changelog>"), secondaryPkg("bar", "2.0", pkgidA, "<changelog>bar"+pad+"</changelog>"), secondaryPkg("foo", "1.0", pkgidA, "<changelog>foo</changelog>")),
	)
	s, err := scan(t, New(nil), formats.ScanRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.items) != 3 {
		t.Fatalf("got %d items, want 3", len(s.items))
	}
	for _, it := range s.items {
		checkFragments(t, it)
		if !bytes.Contains(it.Fragments["filelists"], []byte("<file>/"+it.Name+"</file>")) ||
			!bytes.Contains(it.Fragments["other"], []byte("<changelog>"+it.Name)) {
			t.Errorf("%s matched the wrong fragments:\n%s\n%s", it.Name, it.Fragments["filelists"], it.Fragments["other"])
		}
	}
	// The same repository with a held-bytes limit above each element but
	// below the two parked other entries fails.
	_, err = scan(t, New(&Options{MaxHeldSize: 400}), formats.ScanRequest{Source: src})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "out-of-order") {
		t.Fatalf("with a tiny MaxHeldSize: err = %v, want ErrTooLarge", err)
	}
}

func TestScanDecompressionBomb(t *testing.T) {
	// 64 MiB of whitespace inside the root element compresses to ~64 KiB.
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	z.Write([]byte(`<metadata>`))
	sp := bytes.Repeat([]byte(" "), 1<<20)
	for range 64 {
		z.Write(sp)
	}
	z.Write([]byte(`</metadata>`))
	z.Close()
	src := synthRepoGz(t, map[string][]byte{"primary": buf.Bytes()})
	_, err := scan(t, New(&Options{MaxMetadataSize: 1 << 20}), formats.ScanRequest{Source: src})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestScanLocations(t *testing.T) {
	good := synthRepo(t, meta("metadata", primaryPkg("foo", "1.0", pkgidA, "Packages/foo.rpm")), "", "")
	for _, c := range []struct{ name, from, to string }{
		{"parent", `href="repodata/`, `href="../repodata/`},
		{"absolute", `href="repodata/`, `href="/repodata/`},
		{"url", `href="repodata/`, `href="https://evil.example/repodata/`},
		{"inner parent", `href="repodata/`, `href="repodata/../../`},
		{"xml:base", `<location href=`, `<location xml:base="https://elsewhere.example/" href=`},
	} {
		t.Run("repomd "+c.name, func(t *testing.T) {
			top := strings.Replace(string(good[RepomdPath]), c.from, c.to, 1)
			_, err := scan(t, New(nil), formats.ScanRequest{Source: good, Top: &formats.TopLevel{Data: []byte(top)}})
			var le *LocationError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want *LocationError", err)
			}
			if le.Mirror || strings.Contains(err.Error(), "use mode: filtered") {
				t.Errorf("repomd location error suggests filtered mode, which cannot help: %v", err)
			}
		})
	}
	for _, c := range []struct{ name, href string }{
		{"parent", "../../etc/passwd"},
		{"absolute", "/etc/passwd"},
		{"url", "http://evil.example/x.rpm"},
		{"xml:base", `x.rpm" xml:base="http://elsewhere.example/`},
		{"empty", ""},
		{"dir", "Packages/"},
	} {
		t.Run("package "+c.name, func(t *testing.T) {
			src := synthRepo(t, meta("metadata", primaryPkg("foo", "1.0", pkgidA, "Packages/foo.rpm"), primaryPkg("evil", "1.0", pkgidB, c.href)), "", "")
			_, err := scan(t, New(nil), formats.ScanRequest{Source: src, Mode: formats.ModeMirror})
			var le *LocationError
			if !errors.As(err, &le) {
				t.Fatalf("mirror mode: err = %v, want *LocationError", err)
			}
			if !le.Mirror || !strings.HasSuffix(err.Error(), "mirror mode cannot serve this repository verbatim; use mode: filtered") {
				t.Errorf("mirror mode error does not suggest filtered mode: %v", err)
			}
			s, err := scan(t, New(nil), formats.ScanRequest{Source: src, Mode: formats.ModeFiltered})
			if err != nil {
				t.Fatalf("filtered mode: %v", err)
			}
			if len(s.items) != 1 || s.items[0].Name != "foo" {
				t.Fatalf("filtered mode kept %d items, want only foo", len(s.items))
			}
		})
	}
}

func TestScanCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := New(nil).Scan(ctx, formats.ScanRequest{Source: dirSource(filepath.Join(fixtures, "repo"))}, func(formats.Entry) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestScanYieldErrorStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := New(nil).Scan(context.Background(), formats.ScanRequest{Source: dirSource(filepath.Join(fixtures, "repo"))}, func(e formats.Entry) error {
		n++
		if e.Item != nil {
			return stop
		}
		return nil
	})
	if err != stop || n != 8 {
		t.Fatalf("err = %v after %d entries, want stop after 8", err, n)
	}
}

func TestParseRepomd(t *testing.T) {
	md, err := ParseRepomd([]byte(`<repomd><revision> 7 </revision><tags><content>c</content><distro cpeid="cpe:/o:x">X</distro></tags>` +
		`<data type="primary"><checksum type="sha">` + strings.Repeat("ab", 20) + `</checksum><open-checksum type="SHA512">` + strings.Repeat("cd", 64) +
		`</open-checksum><location href="./repodata/p.xml.gz"/><timestamp>1700000000.25</timestamp><size>5</size><open-size>9</open-size></data>` +
		`<data type="primary_db"><checksum type="sha256">` + strings.Repeat("ef", 32) + `</checksum><location href="repodata/p.sqlite.bz2"/><database_version>10</database_version></data></repomd>`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Repomd{Revision: "7", Tags: Tags{Content: []string{"c"}, Distro: []Distro{{"cpe:/o:x", "X"}}}, Data: []Data{
		{Type: "primary", Href: "repodata/p.xml.gz", Checksums: formats.Checksums{"sha1": strings.Repeat("ab", 20)},
			OpenChecksums: formats.Checksums{"sha512": strings.Repeat("cd", 64)}, Size: 5, OpenSize: 9, Timestamp: 1700000000},
		{Type: "primary_db", Href: "repodata/p.sqlite.bz2", Checksums: formats.Checksums{"sha256": strings.Repeat("ef", 32)}, DatabaseVersion: 10},
	}}
	if diff := cmp.Diff(want, md); diff != "" {
		t.Errorf("ParseRepomd (-want +got):\n%s", diff)
	}
	for name, doc := range map[string]string{
		"unknown algo": `<repomd><data type="primary"><checksum type="crc32">00</checksum><location href="a"/></data></repomd>`,
		"no checksum":  `<repomd><data type="primary"><location href="a"/></data></repomd>`,
		"duplicate":    `<repomd><data type="primary"><checksum type="sha256">00</checksum><location href="a"/></data><data type="primary"><checksum type="sha256">00</checksum><location href="b"/></data></repomd>`,
		"bad size":     `<repomd><data type="primary"><checksum type="sha256">00</checksum><location href="a"/><size>-1</size></data></repomd>`,
		"not xml":      `<repomd><data`,
	} {
		if _, err := ParseRepomd([]byte(doc)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzRepomd(f *testing.F) {
	b, err := os.ReadFile(filepath.Join(fixtures, "repo", RepomdPath))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`<repomd><data type="x"><checksum type="sha">0</checksum><location href="../a" xml:base="b"/></data></repomd>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := ParseRepomd(b)
		if err != nil {
			return
		}
		for _, d := range md.Data {
			if _, err := confine("x", d.Href, ""); err != nil || d.Href != filepath.ToSlash(filepath.Clean(d.Href)) {
				t.Fatalf("ParseRepomd accepted unconfined href %q", d.Href)
			}
		}
	})
}

func FuzzPrimary(f *testing.F) {
	f.Add([]byte(meta("metadata", primaryPkg("foo", "1.0", pkgidA, "Packages/foo.rpm"))), []byte(meta("filelists", secondaryPkg("foo", "1.0", pkgidA, ""))))
	f.Add([]byte(`<metadata><package><name>x</name><location href="a"/><checksum type="sha256">zz</checksum></package><package>`), []byte(`<filelists><package pkgid=""/></filelists>`))
	f.Fuzz(func(t *testing.T, primary, filelists []byte) {
		src := synthRepo(t, string(primary), string(filelists), "")
		_ = New(&Options{MaxHeldSize: 1 << 16, MaxMetadataSize: 1 << 20}).Scan(context.Background(), formats.ScanRequest{Source: src},
			func(e formats.Entry) error {
				if e.Item != nil {
					if _, err := confine("x", e.Item.Path, ""); err != nil {
						t.Fatalf("yielded unconfined path %q", e.Item.Path)
					}
					if fr := e.Item.Fragments["primary"]; !bytes.HasPrefix(fr, []byte("<package")) {
						t.Fatalf("primary fragment %q", fr)
					}
				}
				return nil
			})
	})
}

func TestMirrorOnlyAndPublishPath(t *testing.T) {
	s, err := scan(t, New(nil), formats.ScanRequest{Source: dirSource(filepath.Join(fixtures, "repo"))})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, fl := range s.files {
		got[fl.Kind] = fl.MirrorOnly
	}
	want := map[string]bool{"repomd": true, "primary": true, "filelists": true, "other": true, "group": false, "group_gz": false, "updateinfo": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MirrorOnly by kind (-want +got):\n%s", diff)
	}
	f := New(nil)
	for in, want := range map[string]string{
		"Packages/hello-1.0-1.x86_64.rpm": "Packages/h/hello-1.0-1.x86_64.rpm",
		"x/y/Zsh-5.rpm":                   "Packages/z/Zsh-5.rpm",
		"_x.rpm":                          "Packages/_/_x.rpm",
	} {
		if got := f.PublishPath(formats.Item{Path: in}); got != want {
			t.Errorf("PublishPath(%q) = %q, want %q", in, got, want)
		}
	}
}
