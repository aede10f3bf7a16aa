package compress_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/chantal-lite/chantal/internal/compress"
)

var (
	errBig = errors.New("too large")
	errBad = errors.New("malformed")
	errs   = compress.Errors{TooLarge: errBig, Malformed: errBad}
)

func pack(t *testing.T, kind compress.Kind, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch kind {
	case compress.Gzip:
		w = gzip.NewWriter(&buf)
	case compress.Zstd:
		// No frame content size, as createrepo_c writes it.
		w, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	case compress.XZ:
		w, err = xz.NewWriter(&buf)
	default:
		return data
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestNewReader(t *testing.T) {
	data := []byte(strings.Repeat("<package>chantal</package>\n", 2000))
	for _, c := range []struct {
		kind compress.Kind
		name string
	}{{compress.Gzip, "p.xml.gz"}, {compress.Zstd, "p.xml.zst"}, {compress.XZ, "p.xml.xz"}, {compress.None, "p.xml"}, {compress.Gzip, "Packages"}} {
		t.Run(c.name, func(t *testing.T) {
			packed := pack(t, c.kind, data)
			if got := compress.Sniff(packed); got != c.kind {
				t.Fatalf("Sniff = %q, want %q", got, c.kind)
			}
			r, err := compress.NewReader(bytes.NewReader(packed), c.name, int64(len(data)), errs)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
			// One byte less than the content is a bounded failure.
			r, _ = compress.NewReader(bytes.NewReader(packed), c.name, int64(len(data))-1, errs)
			if _, err := io.ReadAll(r); !errors.Is(err, errBig) {
				t.Fatalf("over the limit: %v, want the caller's TooLarge", err)
			}
		})
	}
	// A name claiming a compression the bytes do not carry, and zchunk.
	for _, name := range []string{"p.xml.xz", "p.xml.zck"} {
		if _, err := compress.NewReader(bytes.NewReader(pack(t, compress.Gzip, data)), name, 1<<20, errs); !errors.Is(err, errBad) {
			t.Errorf("%s: %v, want the caller's Malformed", name, err)
		}
	}
	if k, ok := compress.ByExt("x.bz2"); k != compress.Bzip2 || !ok {
		t.Errorf("ByExt(x.bz2) = %q, %v", k, ok)
	}
	if _, ok := compress.ByExt("x.rar"); ok {
		t.Error("ByExt(x.rar) claims to know it")
	}
}
