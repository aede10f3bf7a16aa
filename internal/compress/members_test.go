package compress_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/internal/compress"
)

// TestMembers: members of each kind, made by one reused encoder and by
// fresh ones, concatenate into a file that decodes to the concatenation of
// their inputs; the same input always gives the same bytes.
func TestMembers(t *testing.T) {
	var parts [][]byte
	for i := range 50 {
		parts = append(parts, []byte(strings.Repeat(fmt.Sprintf("Package: p%d\nVersion: 1.%d\n\n", i, i), i%7)))
	}
	want := bytes.Join(parts, nil)
	for _, kind := range []compress.Kind{compress.Gzip, compress.Zstd, compress.None} {
		var enc compress.MemberEncoder
		var file bytes.Buffer
		for i, p := range parts {
			m, err := enc.Encode(kind, p)
			if err != nil {
				t.Fatal(err)
			}
			again, err := (&compress.MemberEncoder{}).Encode(kind, p)
			if err != nil || !bytes.Equal(m, again) {
				t.Fatalf("%s part %d: a fresh encoder gives other bytes (%v)", kind, i, err)
			}
			file.Write(m)
		}
		name := "x"
		if kind != compress.None {
			name += "." + string(kind)
		}
		r, err := compress.NewReader(&file, name, 1<<20, compress.Errors{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: decoded %d bytes (%v), want %d", kind, len(got), err, len(want))
		}
	}
	if _, err := (&compress.MemberEncoder{}).Encode(compress.Bzip2, []byte("x")); err == nil {
		t.Fatal("bzip2 members accepted")
	}
}
