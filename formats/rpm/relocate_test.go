package rpm

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"
)

var relocateSeeds = []string{
	`<package type="rpm"><name>a</name><location href="Packages/a.rpm"/><format/></package>`,
	`<package type="rpm">
  <name>a&gt;b</name>
  <description>x > y</description>
  <location xml:base="http://elsewhere.invalid/" href='Pack"ages/a.rpm' />
  <format><rpm:entry name="x" ver="1>2"/></format>
</package>`,
	`<package><format><location href="deep"/></format><location href="real"/></package>`,
	`<package><!-- <location href="comment"/> --><location href="real"/></package>`,
	`<package><description><![CDATA[<location href="cdata"/>]]></description><location href="real"/></package>`,
	`<package><rpm:location href="prefixed"/><location href="real"/></package>`,
	`<package><location href="x">text</location></package>`,
	`<package><name>no location</name></package>`,
	`<location href="root"/>`,
	`<package><location href="a" x="<"/></package>`,
}

// The fast path finds what encoding/xml finds, or declines.
func TestLocationSpanMatchesXML(t *testing.T) {
	fast := 0
	for _, s := range relocateSeeds {
		if checkRelocate(t, []byte(s)) {
			fast++
		}
	}
	if fast < 3 {
		t.Errorf("fast path taken for %d seeds, want the plain ones", fast)
	}
}

// wellFormed reports whether frag is one well-formed element, as every
// fragment Scan or Inspect stores is.
func wellFormed(frag []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(frag))
	d.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return depth == 0 && roots == 1
		}
		if err != nil {
			return false
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

func checkRelocate(t *testing.T, frag []byte) bool {
	t.Helper()
	off, end, ok := locationSpan(frag)
	if !ok || !wellFormed(frag) {
		return false
	}
	want, err := relocateXML(frag, "P/x.rpm")
	if err != nil {
		t.Fatalf("fast path accepted %q, encoding/xml: %v", frag, err)
	}
	got, _ := relocate(frag, "P/x.rpm")
	if !bytes.Equal(got, want) {
		t.Fatalf("fast path %q (span %d-%d) != encoding/xml %q for %q", got, off, end, want, frag)
	}
	return true
}

func FuzzRelocate(f *testing.F) {
	for _, s := range relocateSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frag []byte) {
		checkRelocate(t, frag)
	})
}
