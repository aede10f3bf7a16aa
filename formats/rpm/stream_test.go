package rpm

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestElemStreamRecords checks that the verbatim bytes of each package come
// out exactly, whatever sizes the source reads in (refills then cross
// elements), and that one element longer than the limit fails.
func TestElemStreamRecords(t *testing.T) {
	pkgs := []string{
		`<package pkgid="a" name="a" arch="x86_64"><version epoch="0" ver="1" rel="1"/><file>/a</file></package>`,
		`<package pkgid="b" name="b" arch="noarch"><version epoch="0" ver="2" rel="1"/>` + strings.Repeat(`<file>/usr/share/b/some/long/path</file>`, 3000) + `</package>`,
		`<package pkgid="c" name="c" arch="noarch"><version epoch="1" ver="3" rel="2"/></package>`,
	}
	doc := "<?xml version=\"1.0\"?>\n<filelists packages=\"3\">\n" + strings.Join(pkgs, "\n  ") + "\n</filelists>\n"
	for name, src := range map[string]func() io.Reader{
		"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(doc)) },
		"half":     func() io.Reader { return iotest.HalfReader(strings.NewReader(doc)) },
		"whole":    func() io.Reader { return strings.NewReader(doc) },
	} {
		t.Run(name, func(t *testing.T) {
			s := newElemStream(src(), "filelists", 1<<20)
			for i, want := range pkgs {
				var x xmlSecondary
				raw, err := s.next(&x)
				if err != nil {
					t.Fatalf("package %d: %v", i, err)
				}
				if string(raw) != want {
					t.Fatalf("package %d: got %d bytes %.60q…, want %d bytes", i, len(raw), raw, len(want))
				}
			}
			if _, err := s.next(&xmlSecondary{}); err != io.EOF {
				t.Fatalf("after the last package: %v, want EOF", err)
			}
		})
	}
	s := newElemStream(strings.NewReader(doc), "filelists", 4096)
	var err error
	for err == nil {
		_, err = s.next(&xmlSecondary{})
	}
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("with a 4 KiB limit: %v, want ErrTooLarge", err)
	}
}
