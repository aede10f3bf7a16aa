package compress

import (
	"bytes"
	"fmt"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Members are independently compressed pieces that concatenate into one
// valid file: gzip members (RFC 1952 §2.2: a gzip file is a series of
// members) and zstd frames (RFC 8878 §3: a zstd stream is a series of
// frames). Every reader in use by dnf (libsolv, librepo), apt (zlib's gzread)
// and Go's own decoders reads such files as the concatenation of the pieces.
// Each function's output depends only on its input bytes.

// A MemberEncoder compresses pieces into members. It keeps its encoders
// between calls; it is not safe for concurrent use (give each goroutine its
// own). The zero value is ready to use.
type MemberEncoder struct {
	zstd *zstd.Encoder
	gz   *gzip.Writer
	buf  bytes.Buffer
}

// Encode compresses data as one member of kind Gzip, Zstd or None (a copy).
func (m *MemberEncoder) Encode(kind Kind, data []byte) ([]byte, error) {
	switch kind {
	case None:
		return bytes.Clone(data), nil
	case Gzip:
		return m.gzipMember(data)
	case Zstd:
		return m.ZstdFrame(data)
	}
	return nil, fmt.Errorf("compressing members: %q has no concatenable members here", kind)
}

// gzipMember compresses data into one gzip member with no name and a zero
// modification time, at gzip.DefaultCompression, reusing the writer (its
// tables are large).
func (m *MemberEncoder) gzipMember(data []byte) ([]byte, error) {
	m.buf.Reset()
	if m.gz == nil {
		w, err := gzip.NewWriterLevel(&m.buf, gzip.DefaultCompression)
		if err != nil {
			return nil, fmt.Errorf("creating gzip writer: %w", err)
		}
		m.gz = w
	} else {
		m.gz.Reset(&m.buf)
	}
	if _, err := m.gz.Write(data); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := m.gz.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return bytes.Clone(m.buf.Bytes()), nil
}

// ZstdFrame compresses data into one zstd frame at the default level, with
// the content size in the frame header.
func (m *MemberEncoder) ZstdFrame(data []byte) ([]byte, error) {
	if m.zstd == nil {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return nil, fmt.Errorf("creating zstd encoder: %w", err)
		}
		m.zstd = e
	}
	return m.zstd.EncodeAll(data, make([]byte, 0, len(data)/4+64)), nil
}
