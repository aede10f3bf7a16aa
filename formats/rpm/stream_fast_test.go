package rpm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/gzip"
)

// streamStep is what one call of elemStream.next gave.
type streamStep struct {
	raw []byte
	val any
	err error
}

// readers are the ways the differential tests feed a document: the fast
// path looks ahead into the recorder's buffer, so how the source splits its
// bytes must not matter. The last returns its final bytes together with
// io.EOF (see compareStreams).
var streamReaders = []func([]byte) io.Reader{
	func(b []byte) io.Reader { return bytes.NewReader(b) },
	func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
	func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
	func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
}

// readStream reads every <package> of doc, into xmlPrimary values when
// primary is set and xmlSecondary otherwise, with or without the fast path.
func readStream(doc []byte, primary, slow bool, src io.Reader, maxHeld int64) ([]streamStep, *elemStream) {
	s := newElemStream(src, "doc.xml", maxHeld)
	s.slow = slow
	var steps []streamStep
	for len(steps) <= len(doc) {
		var v any = &xmlSecondary{}
		if primary {
			v = &xmlPrimary{}
		}
		raw, err := s.next(v)
		if err != nil {
			steps = append(steps, streamStep{err: err})
			break
		}
		steps = append(steps, streamStep{raw: raw, val: v})
	}
	return steps, s
}

// compareStreams reads doc with the fast path and with encoding/xml alone
// and fails unless both give the same packages, the same fragment bytes, the
// same field values and the same error, and reports how many bytes the fast
// path parsed. With a source that returns its last bytes together with
// io.EOF, an error found in those bytes is reported by the fast path's
// stream as what it is and by the other as the source's io.EOF (the recorder
// holds the source's error back until the decoder reaches it only for the
// bytes the fast path read ahead), so then only error-or-not is compared.
func compareStreams(t *testing.T, doc []byte, primary bool, reader int, maxHeld int64) int64 {
	t.Helper()
	mk := streamReaders[reader%len(streamReaders)]
	want, _ := readStream(doc, primary, true, mk(doc), maxHeld)
	got, s := readStream(doc, primary, false, mk(doc), maxHeld)
	if len(got) != len(want) {
		t.Fatalf("fast path gave %d steps, encoding/xml %d\nfast: %s\nxml:  %s", len(got), len(want), describe(got), describe(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if (g.err == nil) != (w.err == nil) {
			t.Fatalf("step %d: fast path err %v, encoding/xml err %v", i, g.err, w.err)
		}
		if g.err != nil {
			exact := reader%len(streamReaders) != 3
			if exact && g.err.Error() != w.err.Error() {
				t.Fatalf("step %d: fast path err\n\t%v\nencoding/xml err\n\t%v", i, g.err, w.err)
			}
			if exact && (errors.Is(g.err, ErrMalformed) != errors.Is(w.err, ErrMalformed) || errors.Is(g.err, ErrTooLarge) != errors.Is(w.err, ErrTooLarge)) {
				t.Fatalf("step %d: fast path err %v, encoding/xml err %v: not the same kind", i, g.err, w.err)
			}
			continue
		}
		if !bytes.Equal(g.raw, w.raw) {
			t.Fatalf("step %d: fast path fragment\n\t%q\nencoding/xml fragment\n\t%q", i, g.raw, w.raw)
		}
		if !reflect.DeepEqual(g.val, w.val) {
			t.Fatalf("step %d: fast path value\n\t%+v\nencoding/xml value\n\t%+v\nfragment %q", i, g.val, w.val, g.raw)
		}
	}
	return s.skip
}

func describe(steps []streamStep) string {
	var b strings.Builder
	for _, s := range steps {
		if s.err != nil {
			fmt.Fprintf(&b, "[err %v] ", s.err)
		} else {
			fmt.Fprintf(&b, "[%d bytes] ", len(s.raw))
		}
	}
	return b.String()
}

// fastDoc puts packages after a first one (which the decoder reads: the fast
// path starts after a whole child of the root) in a document.
func fastDoc(root, first string, pkgs ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n<" + root + ` xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="9">` + "\n" +
		first + "\n" + strings.Join(pkgs, "\n") + "\n</" + root + ">\n"
}

const (
	fastFirstPrimary   = `<package type="rpm"><name>first</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/></package>`
	fastFirstSecondary = `<package pkgid="00" name="first" arch="noarch"><version epoch="0" ver="1" rel="1"/></package>`
	fastPrimary        = `<package type="rpm">
  <name>greet</name>
  <arch>x86_64</arch>
  <version epoch="1" ver="0.5" rel="3.el9"/>
  <checksum type="sha256" pkgid="YES">56b32584c1dc7928185e2e345665d793c2631c6428097ae0bd0252e50db0d020</checksum>
  <summary>Greetings &amp; salutations</summary>
  <description>Data files for hello.</description>
  <packager>chantal-lite &lt;fixtures@example.invalid&gt;</packager>
  <url>https://example.invalid/greet</url>
  <time file="1767225600" build="1767225601"/>
  <size package="6457" installed="20" archive="288"/>
  <location href="Packages/greet-0.5-3.el9.x86_64.rpm"/>
  <format>
    <rpm:license>CC0</rpm:license>
    <rpm:vendor>Vendor</rpm:vendor>
    <rpm:group>Applications/Text</rpm:group>
    <rpm:buildhost>build.example.invalid</rpm:buildhost>
    <rpm:sourcerpm>greet-0.5-3.el9.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="6333"/>
    <rpm:provides>
      <rpm:entry name="greet" flags="EQ" epoch="1" ver="0.5" rel="3"/>
    </rpm:provides>
    <file>/usr/bin/greet</file>
  </format>
</package>`
)

// fastCases are primary packages of shapes the fast path takes or leaves to
// encoding/xml, valid or not; each is compared in a document of its own.
var fastCases = map[string]string{
	"common":             fastPrimary,
	"entities":           `<package type="a&quot;b"><name>a&amp;b&lt;c&gt;d&apos;e&quot;</name><summary>x&amp;</summary></package>`,
	"char ref":           `<package><name>&#65;&#x42;</name></package>`,
	"bad char ref":       `<package><name>&#xD800;</name></package>`,
	"unknown entity":     `<package><name>&nbsp;</name></package>`,
	"entity no semi":     `<package><name>&amp</name></package>`,
	"cdata":              `<package><name><![CDATA[a<b]]></name></package>`,
	"comment":            `<package><!-- c --><name>a</name></package>`,
	"pi":                 `<package><?pi x?><name>a</name></package>`,
	"directive":          `<package><!DOCTYPE x><name>a</name></package>`,
	"cr text":            "<package><name>a\r\nb\rc</name></package>",
	"cr attr":            "<package type=\"a\r\nb\"><name>a</name></package>",
	"cr markup":          "<package\r\ntype=\"a\"><name>a</name></package>",
	"nested text":        `<package><name>a<b>x</b>c<d/>e</name></package>`,
	"name twice":         `<package><name>a</name><name/></package>`,
	"version twice":      `<package><version epoch="1" ver="2" rel="3"/><version ver="4">t<x/></version></package>`,
	"checksum twice":     `<package><checksum type="sha1" pkgid="YES">aa</checksum><checksum type="sha256"/></package>`,
	"location attrs":     `<package><location href="a.rpm" xml:base="http://x/" other="o" xml:lang="en"/><location xml:base="b" href="c"/></package>`,
	"location xml:href":  `<package><location xml:href="a.rpm" base="b"/></package>`,
	"location foo:base":  `<package><location href="a.rpm" rpm:base="b"/></package>`,
	"prefixed elements":  `<package><rpm:name>a</rpm:name><x:arch>b</x:arch><format><license>L</license><rpm:group>G</rpm:group></format></package>`,
	"prefixed attr":      `<package rpm:type="x"><name>a</name></package>`,
	"xmlns attr":         `<package xmlns:foo="http://www.w3.org/XML/1998/namespace"><location href="a" foo:base="b"/></package>`,
	"default xmlns":      `<package xmlns="x"><name>a</name></package>`,
	"non-ascii":          "<package><name>h\u00e9llo \U0001D11E</name><summary a=\"\u00e9\">\u00ff</summary></package>",
	"non-ascii name":     "<package><n\u00e9>x</n\u00e9></package>",
	"invalid utf-8":      "<package><name>a\xffb</name></package>",
	"invalid utf-8 attr": "<package type=\"\xc3\"><name>a</name></package>",
	"fffe":               "<package><name>\uFFFE</name></package>",
	"fffd":               "<package><name>\uFFFD</name></package>",
	"control char":       "<package><name>a\x01</name></package>",
	"del":                "<package><name>a\x7f</name></package>",
	"tab newline":        "<package\ttype=\"a\tb\nc\"\n><name\n>a\tb\nc</name\n></package\t>",
	"]]> text":           `<package><name>a]]>b</name></package>`,
	"]] entity >":        `<package><name>a]]&gt;b]&amp;]>c</name></package>`,
	"]]> attr":           `<package type="a]]>b"><name>a</name></package>`,
	"> text":             `<package><name>a>b]>c</name></package>`,
	"< attr":             `<package type="a<b"><name>a</name></package>`,
	"mismatched end":     `<package><name>a</nam></package>`,
	"mismatched prefix":  `<package><rpm:name>a</name></package>`,
	"end longer":         `<package><name>a</names></package>`,
	"end space":          `<package><name>a</name   ></package >`,
	"self-closing":       `<package type="rpm"/>`,
	"self-closing space": `<package type="rpm" />`,
	"bad self-closing":   `<package type="rpm"/ >`,
	"no space attrs":     `<package><version epoch="0"ver="1"rel='2'/></package>`,
	"single quotes":      `<package type='r"p'><name>a</name></package>`,
	"unquoted attr":      `<package type=rpm><name>a</name></package>`,
	"attr no value":      `<package type><name>a</name></package>`,
	"spaced equals":      "<package type \n=\t'rpm'><name>a</name></package>",
	"duplicate attrs":    `<package type="a" type="b"><name>a</name></package>`,
	"digit name":         `<package><1a>x</1a></package>`,
	"dots and dashes":    `<package><a.b-c_d1>x</a.b-c_d1><rpm:header-range start="1"/></package>`,
	"colon end":          `<package><a:>x</a:></package>`,
	"two colons":         `<package><a:b:c>x</a:b:c></package>`,
	"colon start":        `<package><:a>x</:a></package>`,
	"deep":               "<package><name>a</name>" + strings.Repeat("<d>", 40) + "x" + strings.Repeat("</d>", 40) + "</package>",
	"text in package":    `<package>hello<name>a</name>world</package>`,
	"prefixed package":   `<rpm:package><name>a</name></rpm:package>`,
	"packages":           `<packages><name>a</name></packages>`,
	"text between":       "x" + fastPrimary,
	"child between":      `<foo><package><name>no</name></package></foo>` + fastPrimary,
	"comment between":    "<!-- c -->" + fastPrimary,
	"no space between":   fastPrimary + fastPrimary + fastPrimary,
	"tab between":        "\t" + fastPrimary + "\t\t" + fastPrimary,
	"truncated":          `<package><name>a</name><arch>x`,
	"unclosed":           `<package><name>a</name>`,
	"lt in text":         `<package><name>a < b</name></package>`,
	"empty name":         `<package><name></name><arch/></package>`,
	"format nested":      `<package><format><format><license>no</license></format><license>L1</license><license>L2</license></format></package>`,
	"many lines":         strings.Repeat(fastPrimary+"\n", 5) + "<package><name>a</name><bad</package>",
}

// TestElemStreamFastDifferential compares the fast path with encoding/xml
// on each case, through every reader, and checks that the fast path parses
// the common shapes at all.
func TestElemStreamFastDifferential(t *testing.T) {
	for name, pkg := range fastCases {
		t.Run(name, func(t *testing.T) {
			doc := []byte(fastDoc("metadata", fastFirstPrimary, pkg, fastPrimary))
			var skipped int64
			for r := range streamReaders {
				skipped = compareStreams(t, doc, true, r, 1<<20)
				compareStreams(t, doc, false, r, 1<<20)
			}
			switch name {
			case "common", "entities", "nested text", "location attrs", "non-ascii", "tab newline", "self-closing", "deep":
				if skipped == 0 {
					t.Errorf("the fast path parsed nothing")
				}
			}
		})
	}
}

// TestElemStreamFastSecondary compares filelists and other packages.
func TestElemStreamFastSecondary(t *testing.T) {
	for name, pkg := range map[string]string{
		"common": `<package pkgid="ab" name="n" arch="x86_64"><version epoch="0" ver="1" rel="2"/><file>/a</file><file type="dir">/b</file></package>`,
		"changelog": `<package pkgid="ab" name="n" arch="x"><version epoch="0" ver="1" rel="2"/><changelog author="A &lt;a@b&gt;" date="1">- fix
- more</changelog></package>`,
		"attrs twice": `<package pkgid="a" pkgid="b" name="n" xml:arch="x"><version ver="1"/><version rel="2"/></package>`,
		"prefixed":    `<package pkgid="a" foo:name="n"><version ver="1"/></package>`,
	} {
		t.Run(name, func(t *testing.T) {
			doc := []byte(fastDoc("filelists", fastFirstSecondary, pkg, pkg))
			for r := range streamReaders {
				compareStreams(t, doc, false, r, 1<<20)
			}
		})
	}
}

// TestElemStreamFastLimit checks that the bound on one element holds at the
// same byte with the fast path's look-ahead as without it.
func TestElemStreamFastLimit(t *testing.T) {
	doc := []byte(fastDoc("metadata", fastFirstPrimary, fastPrimary, strings.Replace(fastPrimary, "<file>", strings.Repeat("<file>/x</file>", 200)+"<file>", 1), fastPrimary))
	for max := int64(len(fastPrimary) - 10); max < int64(len(doc)); max += 97 {
		for r := range streamReaders {
			compareStreams(t, doc, true, r, max)
		}
	}
}

// fixtureMeta returns the uncompressed primary, filelists and other of the
// fixture repository.
func fixtureMeta(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	paths, err := filepath.Glob(filepath.Join(fixtures, "repo", "repodata", "*.xml.gz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		for _, typ := range []string{"primary", "filelists", "other"} {
			if !strings.HasSuffix(p, "-"+typ+".xml.gz") {
				continue
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			z, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(z)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[typ] = b
		}
	}
	if len(out) != 3 {
		t.Fatalf("fixture metadata: found %d of primary, filelists and other", len(out))
	}
	return out
}

// TestElemStreamFastFixtures compares both paths on the fixture repository's
// metadata, where the fast path must parse every package but the first.
func TestElemStreamFastFixtures(t *testing.T) {
	for typ, doc := range fixtureMeta(t) {
		for r := range streamReaders {
			if compareStreams(t, doc, typ == "primary", r, 1<<20) == 0 {
				t.Errorf("%s: the fast path parsed nothing", typ)
			}
		}
	}
}

// FuzzElemStreamFast is the differential fuzz target: any document, read
// as primary or as filelists/other, through any of the readers and with any
// bound, gives the same packages, fragments, values and errors with the fast
// path as with encoding/xml alone.
func FuzzElemStreamFast(f *testing.F) {
	for typ, doc := range fixtureMeta(f) {
		f.Add(doc, typ == "primary", uint8(0), uint16(0))
	}
	for _, pkg := range fastCases {
		f.Add([]byte(fastDoc("metadata", fastFirstPrimary, pkg, fastPrimary)), true, uint8(0), uint16(0))
	}
	f.Add([]byte(fastDoc("filelists", fastFirstSecondary, `<package pkgid="a" name="n" arch="x"><version ver="1"/><file>/a</file></package>`)), false, uint8(1), uint16(0))
	f.Add([]byte(fastDoc("metadata", fastFirstPrimary, fastPrimary, fastPrimary)), true, uint8(2), uint16(900))
	f.Fuzz(func(t *testing.T, doc []byte, primary bool, reader uint8, max uint16) {
		maxHeld := int64(1 << 20)
		if max != 0 {
			maxHeld = int64(max)
		}
		compareStreams(t, doc, primary, int(reader), maxHeld)
	})
}
