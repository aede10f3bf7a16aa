package apt

import (
	"io"

	cz "github.com/chantal-lite/chantal/internal/compress"
)

// Compression is a metadata compression.
type Compression = cz.Kind

// Compressions found in repository metadata.
const (
	None  = cz.None
	Gzip  = cz.Gzip
	XZ    = cz.XZ
	Zstd  = cz.Zstd
	Bzip2 = cz.Bzip2
)

// decompress returns a bounded reader of r's decompressed content; see
// cz.NewReader. Errors wrap ErrTooLarge and ErrMalformed.
func decompress(r io.Reader, name string, max int64) (io.ReadCloser, error) {
	return cz.NewReader(r, name, max, cz.Errors{TooLarge: ErrTooLarge, Malformed: ErrMalformed})
}
