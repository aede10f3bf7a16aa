package rpm

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// parseCompression maps the "compression" parameter (auto, gz, xz, zst, bz2,
// none) to the compression of regenerated metadata. "auto" and "" mean gzip,
// which every dnf and yum reads.
func parseCompression(s string) (Compression, error) {
	switch s {
	case "", "auto", "gz", "gzip":
		return Gzip, nil
	case "xz":
		return XZ, nil
	case "zst", "zstd":
		return Zstd, nil
	case "bz2", "bzip2":
		return Bzip2, nil
	case "none":
		return None, nil
	}
	return None, fmt.Errorf("compression %q: %w: want auto, gz, xz, zst, bz2 or none", clip(s), ErrMalformed)
}

// ext is the file name suffix of a compression, with its dot ("" for none).
func extOf(c Compression) string {
	if c == None {
		return ""
	}
	return "." + string(c)
}

// compressor returns a writer that compresses into w. Its output depends only
// on the bytes written: gzip carries no name and a zero mtime, zstd encodes on
// one goroutine. bzip2 is refused: there is no maintained Go bzip2 writer.
func compressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case None:
		return nopWriteCloser{w}, nil
	case Gzip:
		z, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
		if err != nil {
			return nil, fmt.Errorf("creating gzip writer: %w", err)
		}
		return z, nil
	case Zstd:
		z, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return nil, fmt.Errorf("creating zstd writer: %w", err)
		}
		return z, nil
	case XZ:
		z, err := xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(w)
		if err != nil {
			return nil, fmt.Errorf("creating xz writer: %w", err)
		}
		return z, nil
	case Bzip2:
		return nil, fmt.Errorf("writing bzip2: %w: no bzip2 writer; use compression gz, xz or zst", ErrNotImplemented)
	}
	return nil, fmt.Errorf("compression %q: %w", c, ErrMalformed)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
