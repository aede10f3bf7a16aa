package rpm

import (
	"io"

	"github.com/chantal-lite/chantal/internal/compress"
)

// Compression is a metadata compression.
type Compression = compress.Kind

// Compressions found in repository metadata.
const (
	None  = compress.None
	Gzip  = compress.Gzip
	XZ    = compress.XZ
	Zstd  = compress.Zstd
	Bzip2 = compress.Bzip2
)

func byExt(name string) (Compression, bool) { return compress.ByExt(name) }

// decompress returns a bounded reader of r's decompressed content; see
// compress.NewReader. Errors wrap ErrTooLarge and ErrMalformed.
func decompress(r io.Reader, name string, max int64) (io.ReadCloser, error) {
	return compress.NewReader(r, name, max, compress.Errors{TooLarge: ErrTooLarge, Malformed: ErrMalformed})
}
