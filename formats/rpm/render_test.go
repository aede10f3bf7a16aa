package rpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/pool"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

var fixtureNow = time.Unix(1767225600, 0).UTC()

// memSink collects rendered files; a path created twice is an error, as in
// the publish staging sink.
type memSink struct {
	mu    sync.Mutex
	files map[string][]byte
}

func newMemSink() *memSink { return &memSink{files: map[string][]byte{}} }

type memFile struct {
	bytes.Buffer
	s *memSink
	p string
}

func (f *memFile) Close() error {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.s.files[f.p] = f.Bytes()
	return nil
}

func (s *memSink) Create(ctx context.Context, p string) (io.WriteCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.files[p]; ok {
		return nil, fmt.Errorf("create %s: rendered twice", p)
	}
	s.files[p] = nil
	return &memFile{s: s, p: p}, nil
}

func (s *memSink) names() []string {
	var out []string
	for p := range s.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// fakeSigner "signs" with a hash, which is enough to check what was signed.
type fakeSigner struct{}

func (fakeSigner) DetachSign(ctx context.Context, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	return []byte("SIG " + hex.EncodeToString(sum[:]) + "\n"), nil
}
func (fakeSigner) ClearSign(ctx context.Context, data []byte) ([]byte, error) {
	return nil, errors.New("not used")
}
func (fakeSigner) PublicKey() []byte { return []byte("KEY\n") }

// blobs is an Open function over byte slices keyed by digest.
type blobs map[pool.Digest][]byte

func (b blobs) open(ctx context.Context, d pool.Digest) (io.ReadCloser, error) {
	v, ok := b[d]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", d, pool.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(v)), nil
}

func (b blobs) add(p []byte) pool.Digest {
	d := pool.Digest(sha256.Sum256(p))
	b[d] = p
	return d
}

// renderInput scans the committed fixture repository the way sync does and
// returns what publish would hand to Render in mode: items at their published
// paths (sorted), the files the mode keeps, and their bytes.
func renderInput(t testing.TB, src formats.Source, mode formats.Mode) formats.RenderRequest {
	t.Helper()
	f := New(nil)
	s, err := scan(t, f, formats.ScanRequest{Source: src, Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	b := blobs{}
	req := formats.RenderRequest{Mode: mode, Open: b.open, Now: fixtureNow, Params: map[string]string{"repo": "fixture"}}
	for _, fl := range s.files {
		if fl.MirrorOnly && mode != formats.ModeMirror {
			continue
		}
		rc, err := src.Open(context.Background(), fl.Path)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		fl.Digest = b.add(data)
		req.Files = append(req.Files, fl)
	}
	for _, it := range s.items {
		if mode != formats.ModeMirror {
			it.Path = f.PublishPath(it)
		}
		req.Items = append(req.Items, it)
	}
	sort.Slice(req.Items, func(i, j int) bool { return req.Items[i].Path < req.Items[j].Path })
	sort.Slice(req.Files, func(i, j int) bool { return req.Files[i].Path < req.Files[j].Path })
	return req
}

func render(t testing.TB, f *Format, req formats.RenderRequest) *memSink {
	t.Helper()
	s := newMemSink()
	req.Sink = s
	if err := f.Render(context.Background(), req); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return s
}

// checkRepomd verifies every data entry of a rendered repomd.xml against the
// rendered bytes: checksum and size of the file, open-checksum and open-size
// of its decompressed content.
func checkRepomd(t testing.TB, files map[string][]byte) *Repomd {
	t.Helper()
	md, err := ParseRepomd(files[RepomdPath])
	if err != nil {
		t.Fatalf("rendered repomd.xml: %v", err)
	}
	for _, d := range md.Data {
		if strings.HasSuffix(d.Type, "_zck") || strings.HasSuffix(d.Type, "_db") {
			t.Errorf("rendered repomd lists %s", d.Type)
		}
		b, ok := files[d.Href]
		if !ok {
			t.Errorf("repomd lists %s, which was not rendered", d.Href)
			continue
		}
		sum := sha256.Sum256(b)
		if d.Checksums["sha256"] != hex.EncodeToString(sum[:]) || d.Size != int64(len(b)) {
			t.Errorf("%s: checksum/size in repomd do not match the file", d.Href)
		}
		if d.Timestamp != fixtureNow.Unix() {
			t.Errorf("%s: timestamp %d, want %d", d.Href, d.Timestamp, fixtureNow.Unix())
		}
		if c, _ := byExt(d.Href); c == None {
			continue
		}
		rc, err := decompress(bytes.NewReader(b), d.Href, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		open, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("%s: %v", d.Href, err)
		}
		osum := sha256.Sum256(open)
		if d.OpenChecksums["sha256"] != hex.EncodeToString(osum[:]) || d.OpenSize != int64(len(open)) {
			t.Errorf("%s: open-checksum/open-size do not match the decompressed content", d.Href)
		}
	}
	if md.Revision != fmt.Sprint(fixtureNow.Unix()) {
		t.Errorf("revision %q", md.Revision)
	}
	return md
}

func decompressed(t testing.TB, name string, b []byte) []byte {
	t.Helper()
	rc, err := decompress(bytes.NewReader(b), name, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRenderFilteredGolden(t *testing.T) {
	req := renderInput(t, dirSource(filepath.Join(fixtures, "repo")), formats.ModeFiltered)
	req.Signer = fakeSigner{}
	s := render(t, New(nil), req)
	md := checkRepomd(t, s.files)

	// The golden tree: repomd.xml, its signature, and each data file's
	// decompressed content under its type's name.
	got := map[string][]byte{"repomd.xml": s.files[RepomdPath], "repomd.xml.asc": s.files[SignaturePath]}
	for _, d := range md.Data {
		got[d.Type+".xml"] = decompressed(t, d.Href, s.files[d.Href])
	}
	got["files.txt"] = []byte(strings.Join(s.names(), "\n") + "\n")
	dir := filepath.Join("testdata", "golden", "filtered")
	if *update {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range got {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v (run with -update to create the golden files)", err)
	}
	if len(ents) != len(got) {
		t.Errorf("golden dir has %d files, rendered %d", len(ents), len(got))
	}
	for name, b := range got {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%v (run with -update)", err)
			continue
		}
		if diff := cmp.Diff(string(want), string(b)); diff != "" {
			t.Errorf("%s differs from golden (-want +got):\n%s", name, diff)
		}
	}

	// Deterministic: the same request renders the same bytes.
	again := render(t, New(nil), req)
	if diff := cmp.Diff(s.files, again.files); diff != "" {
		t.Errorf("second render differs:\n%s", diff)
	}
	sig, _ := fakeSigner{}.DetachSign(context.Background(), s.files[RepomdPath])
	if !bytes.Equal(s.files[SignaturePath], sig) {
		t.Errorf("repomd.xml.asc does not sign the rendered repomd.xml")
	}
}

// TestRenderFilteredRoundTrip scans the rendered tree back: the same packages
// at the published paths, fragments byte for byte except the location.
func TestRenderFilteredRoundTrip(t *testing.T) {
	req := renderInput(t, dirSource(filepath.Join(fixtures, "repo")), formats.ModeFiltered)
	s := render(t, New(nil), req)
	if _, ok := s.files[SignaturePath]; ok {
		t.Errorf("repomd.xml.asc written without a signer")
	}
	back, err := scan(t, New(nil), formats.ScanRequest{Source: memSource(s.files), Mode: formats.ModeFiltered})
	if err != nil {
		t.Fatal(err)
	}
	if len(back.items) != len(req.Items) {
		t.Fatalf("scanned %d items back, rendered %d", len(back.items), len(req.Items))
	}
	byPath := map[string]formats.Item{}
	for _, it := range back.items {
		byPath[it.Path] = it
	}
	for _, in := range req.Items {
		out, ok := byPath[in.Path]
		if !ok {
			t.Errorf("%s not in rendered primary", in.Path)
			continue
		}
		for _, typ := range []string{"filelists", "other"} {
			if !bytes.Equal(in.Fragments[typ], out.Fragments[typ]) {
				t.Errorf("%s: %s fragment changed:\n%s\n---\n%s", in.Path, typ, in.Fragments[typ], out.Fragments[typ])
			}
		}
		want := locRE(in.Fragments["primary"], `<location href="`+in.Path+`"/>`)
		if !bytes.Equal(want, out.Fragments["primary"]) {
			t.Errorf("%s: primary fragment differs beyond the location:\n%s\n---\n%s", in.Path, want, out.Fragments["primary"])
		}
		if in.Name == "hello" && in.Arch == "x86_64" && !bytes.Contains(out.Fragments["primary"], []byte(`<rpm:entry name="libgreet" flags="GE" epoch="0" ver="2.0"/>`)) {
			t.Errorf("%s: dependency on libgreet lost", in.Path)
		}
		if diff := cmp.Diff(in.Checksums, out.Checksums); diff != "" {
			t.Errorf("%s: checksums differ: %s", in.Path, diff)
		}
	}
	var kinds []string
	for _, fl := range back.files {
		kinds = append(kinds, fl.Kind)
	}
	sort.Strings(kinds)
	if diff := cmp.Diff([]string{"filelists", "group", "group_gz", "other", "primary", "repomd", "updateinfo"}, kinds); diff != "" {
		t.Errorf("rendered data types (-want +got):\n%s", diff)
	}
	// comps is republished byte for byte.
	for _, fl := range req.Files {
		if fl.Kind == "group" || fl.Kind == "group_gz" {
			b, _ := req.Open(context.Background(), fl.Digest)
			want, _ := io.ReadAll(b)
			if got := s.files["repodata/"+filepath.Base(fl.Path)]; !bytes.Equal(got, want) {
				t.Errorf("%s not republished verbatim", fl.Path)
			}
		}
	}
}

// locRE replaces the <location .../> of a fixture fragment (createrepo_c
// writes it self-closing on one line) with repl.
func locRE(frag []byte, repl string) []byte {
	i := bytes.Index(frag, []byte("<location "))
	j := bytes.Index(frag[i:], []byte("/>"))
	return append(append(append([]byte(nil), frag[:i]...), repl...), frag[i+j+2:]...)
}

func TestRenderCompressions(t *testing.T) {
	base := renderInput(t, dirSource(filepath.Join(fixtures, "repo")), formats.ModeFiltered)
	for _, c := range []struct{ param, ext string }{
		{"auto", ".xml.gz"}, {"", ".xml.gz"}, {"gz", ".xml.gz"}, {"xz", ".xml.xz"}, {"zst", ".xml.zst"}, {"none", ".xml"},
	} {
		t.Run(c.param, func(t *testing.T) {
			req := base
			req.Params = map[string]string{"compression": c.param}
			s := render(t, New(nil), req)
			md := checkRepomd(t, s.files)
			for _, typ := range []string{"primary", "filelists", "other", "updateinfo"} {
				d := md.Find(typ)
				if d == nil || !strings.HasSuffix(d.Href, "-"+typ+c.ext) {
					t.Errorf("%s: %+v, want a file ending in -%s%s", typ, d, typ, c.ext)
				}
			}
			back, err := scan(t, New(nil), formats.ScanRequest{Source: memSource(s.files), Mode: formats.ModeFiltered})
			if err != nil || len(back.items) != len(req.Items) {
				t.Fatalf("scan back: %d items, %v", len(back.items), err)
			}
			again := render(t, New(nil), req)
			if !cmp.Equal(s.files, again.files) {
				t.Errorf("compression %s is not deterministic", c.param)
			}
		})
	}
	for param, want := range map[string]error{"bz2": ErrNotImplemented, "lzma": ErrMalformed} {
		req := base
		req.Params = map[string]string{"compression": param}
		req.Sink = newMemSink()
		if err := New(nil).Render(context.Background(), req); !errors.Is(err, want) {
			t.Errorf("compression %s: err = %v, want %v", param, err, want)
		}
	}
}

func TestRenderGzipHeader(t *testing.T) {
	req := renderInput(t, dirSource(filepath.Join(fixtures, "repo")), formats.ModeFiltered)
	s := render(t, New(nil), req)
	md := checkRepomd(t, s.files)
	b := s.files[md.Find("primary").Href]
	// RFC 1952: FLG at 3 (no FNAME bit), MTIME at 4..7 zero.
	if len(b) < 10 || b[3]&0x08 != 0 || !bytes.Equal(b[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("gzip header % x carries a name or an mtime", b[:10])
	}
}

func TestRenderDropsZchunkSqliteAndUnknown(t *testing.T) {
	req := renderInput(t, dirSource(filepath.Join(fixtures, "repo")), formats.ModeFiltered)
	b := blobs{}
	for _, fl := range req.Files {
		rc, _ := req.Open(context.Background(), fl.Digest)
		data, _ := io.ReadAll(rc)
		b.add(data)
	}
	req.Open = b.open
	for _, kind := range []string{"primary_zck", "primary_db", "other_db", "updateinfo_zck", "prestodelta"} {
		req.Files = append(req.Files, formats.File{Path: "repodata/x-" + kind, Kind: kind, Digest: b.add([]byte(kind)), MirrorOnly: mirrorOnly(kind)})
	}
	s := render(t, New(nil), req)
	checkRepomd(t, s.files)
	for p := range s.files {
		if strings.Contains(p, "_zck") || strings.Contains(p, "_db") || strings.Contains(p, "prestodelta") {
			t.Errorf("rendered %s", p)
		}
	}
}

func TestRenderLocationRewrite(t *testing.T) {
	frag := []byte(`<package type="rpm">
  <name>a</name>
  <arch>noarch</arch>
  <version epoch="0" ver="1" rel="1"/>
  <checksum type="sha1" pkgid="YES">` + strings.Repeat("a", 40) + `</checksum>
  <description>a &lt;location href="nope"/&gt; in text</description>
  <location xml:base="https://upstream.example/os/" href="Packages/a-1-1.noarch.rpm"></location>
  <format><rpm:requires><rpm:entry name="b" flags="GE" epoch="0" ver="2"/></rpm:requires><location href="inner"/></format>
</package>`)
	got, err := relocate(frag, `Packages/a/a-1-1.noarch.rpm`)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(frag), `<location xml:base="https://upstream.example/os/" href="Packages/a-1-1.noarch.rpm"></location>`, `<location href="Packages/a/a-1-1.noarch.rpm"/>`, 1)
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("relocate (-want +got):\n%s", diff)
	}
	if got, err := relocate([]byte(`<package><name>x</name></package>`), "x"); err == nil {
		t.Errorf("relocate without location = %s, want error", got)
	}
	if got, err := relocate([]byte(`<package><location href="a"/>`), `a"&<`); err != nil || !strings.Contains(string(got), `href="a&#34;&amp;&lt;"`) {
		t.Errorf("relocate escaping = %s, %v", got, err)
	}
}

func TestRenderMirror(t *testing.T) {
	src := dirSource(filepath.Join(fixtures, "repo"))
	req := renderInput(t, src, formats.ModeMirror)
	req.Signer = fakeSigner{}
	s := render(t, New(nil), req)
	if len(s.files) != len(req.Files) {
		t.Errorf("rendered %d files, want %d", len(s.files), len(req.Files))
	}
	for _, fl := range req.Files {
		want, err := os.ReadFile(filepath.Join(fixtures, "repo", fl.Path))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s.files[fl.Path], want) {
			t.Errorf("%s not republished byte for byte", fl.Path)
		}
	}
	if _, ok := s.files[SignaturePath]; ok {
		t.Errorf("mirror mode signed upstream metadata")
	}
	// A repo-level file whose bytes do not match its digest is refused.
	bad := req
	bad.Files = append([]formats.File(nil), req.Files...)
	bad.Files[0].Digest[0] ^= 1
	b := blobs{}
	for _, fl := range req.Files {
		rc, _ := req.Open(context.Background(), fl.Digest)
		data, _ := io.ReadAll(rc)
		b[fl.Digest] = data
	}
	b[bad.Files[0].Digest] = b[req.Files[0].Digest]
	bad.Open = b.open
	bad.Sink = newMemSink()
	if err := New(nil).Render(context.Background(), bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("mismatched file: err = %v, want ErrMalformed", err)
	}
}

func TestRenderCancelled(t *testing.T) {
	req := renderInput(t, dirSource(filepath.Join(fixtures, "repo")), formats.ModeFiltered)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req.Sink = newMemSink()
	if err := New(nil).Render(ctx, req); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestRenderUpdateinfoPruned(t *testing.T) {
	base := renderInput(t, dirSource(filepath.Join(fixtures, "repo")), formats.ModeFiltered)
	var without []formats.Item
	for _, it := range base.Items {
		if !(it.Name == "hello" && it.Fields["version"] == "1.1") {
			without = append(without, it)
		}
	}
	if len(without) != len(base.Items)-1 {
		t.Fatalf("fixture has no hello-1.1")
	}
	req := base
	req.Items = without
	s := render(t, New(nil), req)
	md := checkRepomd(t, s.files)
	if d := md.Find("updateinfo"); d != nil {
		t.Errorf("updateinfo published although no advisory package is: %+v", d)
	}

	// An advisory naming a published and an unpublished package keeps only
	// the published one; one naming nothing published is dropped.
	ui := `<?xml version="1.0"?>
<updates>
 <update type="bugfix" status="final" from="x@example.invalid" version="1">
  <id>A-1</id><title>keep &amp; prune</title>
  <issued date="2026-01-02 00:00:00"/>
  <description>line one
line two</description>
  <pkglist>
   <collection short="c1"><name>one</name>
    <package name="hello" version="1.1" release="1" arch="x86_64"><filename>hello-1.1-1.x86_64.rpm</filename><reboot_suggested>1</reboot_suggested></package>
    <package name="hello" version="9" release="1" epoch="0" arch="x86_64"><filename>hello-9-1.x86_64.rpm</filename></package>
   </collection>
   <collection short="c2"><name>gone</name>
    <package name="other" version="1" release="1" epoch="0" arch="noarch"><filename>other-1-1.noarch.rpm</filename></package>
   </collection>
  </pkglist>
 </update>
 <update type="security"><id>A-2</id><pkglist><collection><package name="greet-data" epoch="0" version="0.5" release="3" arch="noarch"/></collection></pkglist></update>
 <update type="security"><id>A-3</id><pkglist><collection><package name="greet-data" epoch="01" version="0.5" release="3" arch="noarch"/></collection></pkglist></update>
</updates>
`
	req = base
	b := blobs{}
	for _, fl := range base.Files {
		rc, _ := base.Open(context.Background(), fl.Digest)
		data, _ := io.ReadAll(rc)
		b.add(data)
	}
	req.Open = b.open
	req.Files = nil
	for _, fl := range base.Files {
		if fl.Kind == "updateinfo" {
			fl = formats.File{Path: "repodata/updateinfo.xml", Kind: "updateinfo", Digest: b.add([]byte(ui))}
		}
		req.Files = append(req.Files, fl)
	}
	s = render(t, New(nil), req)
	md = checkRepomd(t, s.files)
	d := md.Find("updateinfo")
	if d == nil {
		t.Fatal("no updateinfo rendered")
	}
	got := string(decompressed(t, d.Href, s.files[d.Href]))
	want := `<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update type="bugfix" status="final" from="x@example.invalid" version="1">
    <id>A-1</id>
    <title>keep &amp; prune</title>
    <issued date="2026-01-02 00:00:00"/>
    <description>line one
line two</description>
    <pkglist>
      <collection short="c1">
        <name>one</name>
        <package name="hello" version="1.1" release="1" arch="x86_64">
          <filename>hello-1.1-1.x86_64.rpm</filename>
          <reboot_suggested>1</reboot_suggested>
        </package>
      </collection>
    </pkglist>
  </update>
  <update type="security">
    <id>A-3</id>
    <pkglist>
      <collection>
        <package name="greet-data" epoch="01" version="0.5" release="3" arch="noarch"/>
      </collection>
    </pkglist>
  </update>
</updates>
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pruned updateinfo (-want +got):\n%s", diff)
	}
}

func TestReadUpdatesRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"not xml":        `hello`,
		"wrong root":     `<metadata/>`,
		"unclosed":       `<updates><update><id>x</id>`,
		"mismatch":       `<updates><update><id>x</title></update></updates>`,
		"two roots":      `<updates/><updates/>`,
		"text after":     `<updates/>junk`,
		"entity":         `<updates><update><id>&xxe;</id></update></updates>`,
		"deep":           `<updates><update>` + strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40) + `</update></updates>`,
		"huge advisory":  `<updates><update><description>` + strings.Repeat("x", 2000) + `</description></update></updates>`,
		"empty document": ``,
	} {
		err := readUpdates(strings.NewReader(doc), "updateinfo.xml", 1000, func(*uiNode) error { return nil })
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrMalformed or ErrTooLarge", name, err)
		}
	}
}

func FuzzUpdateinfo(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join(fixtures, "updateinfo.xml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`<updates><update><pkglist><collection><package name="hello" version="1.1" release="1" arch="x86_64"/></collection></pkglist></update></updates>`))
	f.Add([]byte(`<updates xmlns:x="u"><update x:a="&lt;"><x:y>t<z/>u</x:y><pkglist><collection><package name="hello" version="1.1" release="1" epoch="" arch="x86_64">a</package></collection></pkglist></update></updates>`))
	keep := map[nevra]bool{{"hello", "0", "1.1", "1", "x86_64"}: true}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var out bytes.Buffer
		n := 0
		if err := pruneUpdateinfo(context.Background(), bytes.NewReader(doc), "u.xml", 1<<20, keep, &out, &n); err != nil {
			return
		}
		// What we render parses again, keeps every advisory and renders the same.
		var again bytes.Buffer
		m := 0
		if err := pruneUpdateinfo(context.Background(), bytes.NewReader(out.Bytes()), "u.xml", 1<<22, keep, &again, &m); err != nil {
			t.Fatalf("rendered updateinfo does not parse: %v\n%s", err, out.Bytes())
		}
		if m != n || !bytes.Equal(out.Bytes(), again.Bytes()) {
			t.Fatalf("render is not stable (%d vs %d advisories):\n%s\n---\n%s", n, m, out.Bytes(), again.Bytes())
		}
	})
}

// TestRenderUpdateinfoMerged renders a view's several updateinfo files as one:
// every advisory once (the first file's copy of an id wins), each pruned.
func TestRenderUpdateinfoMerged(t *testing.T) {
	base := renderInput(t, dirSource(filepath.Join(fixtures, "repo")), formats.ModeFiltered)
	doc := func(updates ...string) []byte {
		return []byte(`<?xml version="1.0"?>` + "\n<updates>\n" + strings.Join(updates, "\n") + "\n</updates>\n")
	}
	upd := func(id, title, name, epoch, version, release, arch string) string {
		return `<update type="security"><id>` + id + `</id><title>` + title + `</title><pkglist><collection><package name="` + name +
			`" epoch="` + epoch + `" version="` + version + `" release="` + release + `" arch="` + arch + `"/></collection></pkglist></update>`
	}
	first := doc(upd("A-1", "first copy", "hello", "0", "1.1", "1", "x86_64"), upd("A-2", "greet", "greet-data", "1", "0.5", "3", "noarch"))
	second := doc(upd("A-1", "second copy", "hello", "0", "1.1", "1", "x86_64"), upd("A-9", "more", "hello", "0", "1.1", "1", "x86_64"),
		upd("A-8", "not published", "other", "0", "1", "1", "noarch"))
	b := blobs{}
	for _, fl := range base.Files {
		rc, _ := base.Open(context.Background(), fl.Digest)
		data, _ := io.ReadAll(rc)
		b.add(data)
	}
	req := base
	req.Open = b.open
	req.Files = nil
	for _, fl := range base.Files {
		if fl.Kind != "updateinfo" {
			req.Files = append(req.Files, fl)
		}
	}
	req.Files = append(req.Files,
		formats.File{Path: "member1/repodata/updateinfo.xml", Kind: "updateinfo", Digest: b.add(first)},
		formats.File{Path: "member2/repodata/updateinfo.xml", Kind: "updateinfo", Digest: b.add(second)})
	s := render(t, New(nil), req)
	d := checkRepomd(t, s.files).Find("updateinfo")
	if d == nil {
		t.Fatal("no updateinfo rendered")
	}
	got := string(decompressed(t, d.Href, s.files[d.Href]))
	for _, want := range []string{"<id>A-1</id>", "first copy", "<id>A-2</id>", "<id>A-9</id>"} {
		if !strings.Contains(got, want) {
			t.Errorf("merged updateinfo lacks %s:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"second copy", "A-8"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("merged updateinfo has %s:\n%s", unwanted, got)
		}
	}
	if n := strings.Count(got, "<update "); n != 3 {
		t.Errorf("merged updateinfo has %d advisories, want 3", n)
	}
}
