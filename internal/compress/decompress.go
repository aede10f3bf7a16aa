// Package compress reads the compressed metadata of package repositories
// (gzip, xz, zstd, bzip2 or none) with every decompression bounded: the
// compression is sniffed from the magic bytes, a name claiming another one is
// refused, and output beyond a limit is an error, not a memory blow-up.
package compress

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/xi2/xz"
)

// Decompression limits besides the output size.
const (
	// maxZstdWindow bounds the zstd window a frame may ask for (zstd --long=27).
	maxZstdWindow = 128 << 20
	// maxXZDict bounds the LZMA2 dictionary (xz -9 uses 64 MiB). The xi2/xz
	// decoder enforces it before allocating; ulikunitz/xz allocates whatever a
	// 30-byte hostile header declares, which is why it is not used here.
	maxXZDict = 64 << 20
)

// Kind is a metadata compression.
type Kind string

// The compressions repository metadata uses.
const (
	None  Kind = ""
	Gzip  Kind = "gz"
	XZ    Kind = "xz"
	Zstd  Kind = "zst"
	Bzip2 Kind = "bz2"
)

// ByExt returns the compression a file name claims, and whether the claim is
// one we know (".zck" is known and unsupported).
func ByExt(name string) (Kind, bool) {
	switch path.Ext(name) {
	case ".gz":
		return Gzip, true
	case ".xz":
		return XZ, true
	case ".zst", ".zstd":
		return Zstd, true
	case ".bz2":
		return Bzip2, true
	case ".xml", ".yaml", ".txt", "":
		return None, true
	}
	return None, false
}

// Sniff returns the compression whose magic starts b, or None.
func Sniff(b []byte) Kind {
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return Gzip
	case bytes.HasPrefix(b, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return XZ
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd
	case bytes.HasPrefix(b, []byte("BZh")):
		return Bzip2
	}
	return None
}

// Errors are the sentinels a caller's errors wrap: each format keeps its own.
type Errors struct {
	// TooLarge is wrapped when the output exceeds the limit.
	TooLarge error
	// Malformed is wrapped for a bad or mislabelled stream, and for zchunk.
	Malformed error
}

// NewReader returns a reader of r's decompressed content, at most max bytes
// of it (more is an error wrapping e.TooLarge). The compression is sniffed
// from the magic bytes; a name claiming a compression the bytes do not carry is
// e.Malformed, and so is zchunk. The returned closer releases decoder state,
// not r.
func NewReader(r io.Reader, name string, max int64, e Errors) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	got := Sniff(head)
	claim, known := ByExt(name)
	if strings.HasSuffix(name, ".zck") {
		return nil, fmt.Errorf("reading %s: %w: zchunk is not supported", name, e.Malformed)
	}
	if known && claim != None && got != claim {
		return nil, fmt.Errorf("reading %s: %w: name says %s, content is not", name, e.Malformed, claim)
	}
	var dr io.Reader
	closer := func() {}
	switch got {
	case Gzip:
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w: %v", name, e.Malformed, err)
		}
		dr = z
	case XZ:
		z, err := xz.NewReader(br, maxXZDict)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w: %v", name, e.Malformed, err)
		}
		dr = z
	case Zstd:
		// The streaming decoder needs no frame content size, which
		// createrepo_c leaves out.
		z, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(uint64(max)))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w: %v", name, e.Malformed, err)
		}
		dr, closer = z, z.Close
	case Bzip2:
		dr = bzip2.NewReader(br)
	default:
		dr = br
	}
	return &limited{r: dr, left: max, max: max, name: name, close: closer, tooLarge: e.TooLarge}, nil
}

// limited reads at most max bytes and then fails with tooLarge if more come.
type limited struct {
	r        io.Reader
	left     int64
	max      int64
	name     string
	close    func()
	err      error
	tooLarge error
}

func (l *limited) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if l.left <= 0 {
		// Probe for one more byte: exactly max bytes is fine.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.err = fmt.Errorf("reading %s: %w: decompresses to more than %d bytes", l.name, l.tooLarge, l.max)
			return 0, l.err
		}
		if err == nil {
			return 0, nil
		}
		l.err = err
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		err = fmt.Errorf("reading %s: %w: decompresses to more than %d bytes", l.name, l.tooLarge, l.max)
		l.err = err
		return n, err
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("decompressing %s: %w", l.name, err)
		l.err = err
	}
	return n, err
}

func (l *limited) Close() error {
	l.close()
	return nil
}
