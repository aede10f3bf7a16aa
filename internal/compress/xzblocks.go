package compress

// One .xz stream built from independently compressed blocks, so that an index
// file assembled from cached segments needs only its changed segments
// recompressed. Concatenated xz streams are not read by every client, so the
// blocks go into one stream, the way `xz -T` writes them: each block's LZMA2
// data starts with a dictionary and state reset, and the stream index records
// each block's unpadded and uncompressed size. The container follows the .xz
// file format specification 1.1.0 (check type CRC64, one LZMA2 filter).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"

	"github.com/ulikunitz/xz/lzma"
)

// Errors of the xz block writer.
var (
	// ErrInvalidXZBlock is returned by XZStreamWriter.WriteBlock for a block
	// that EncodeXZBlock did not produce: a bad block header, or sizes that
	// disagree with the data.
	ErrInvalidXZBlock = errors.New("compress: invalid xz block")
	// ErrXZStreamClosed is returned by XZStreamWriter.WriteBlock and Close
	// after Close.
	ErrXZStreamClosed = errors.New("compress: xz stream writer is closed")
)

// xz container constants.
const (
	xzCheckCRC64    = 0x04 // stream flags: check type CRC64
	xzCheckSize     = 8
	xzFilterLZMA2   = 0x21
	xzMaxDictCap    = 8 << 20 // the dictionary of xz -6
	xzBlockFlagComp = 0x40    // block header carries the compressed size
	xzBlockFlagUnc  = 0x80    // block header carries the uncompressed size
	xzMaxVarint     = 1<<63 - 1
)

var (
	xzHeaderMagic = []byte{0xFD, '7', 'z', 'X', 'Z', 0x00}
	xzFooterMagic = []byte{'Y', 'Z'}
	xzStreamFlags = []byte{0x00, xzCheckCRC64}
)

// XZBlock is one independently compressed block of an xz stream (see EncodeXZBlock).
type XZBlock struct {
	// Data is the complete block as it appears in the stream: block header,
	// compressed LZMA2 data, block padding and the check (CRC64 of the uncompressed data).
	Data []byte
	// Unpadded and Uncompressed are the sizes the stream index records.
	Unpadded, Uncompressed int64
}

// EncodeXZBlock compresses data into one xz block for XZStreamWriter.
//
// The LZMA2 encoder uses lc=3, lp=0, pb=2 (the xz default) and a hash-chain
// match finder; it has no optimal parsing, so it compresses about like xz -1
// (on APT Packages text about 25% larger than xz -6, at several times its
// speed). ulikunitz/xz's binary-tree match finder is not used: it is about
// 80 times slower and compresses worse. The dictionary is sized to the
// input: the smallest size the block header can express (2^n or 3·2^(n-1)
// bytes, at least 4 KiB) that holds all of data, capped at 8 MiB as in
// xz -6. A call allocates about 10 bytes per input byte up to that cap (the
// dictionary, the match finder's tables and the output), at most about
// 55 MiB, all of it garbage when the call returns. The output depends only
// on data: the same input always gives the same bytes.
//
// Empty data gives a valid block holding no data (its LZMA2 data is the end
// marker alone; xz and liblzma accept it), so a caller need not special-case
// empty segments, though skipping them saves 24 bytes each.
func EncodeXZBlock(data []byte) (XZBlock, error) {
	dictByte := lzma.EncodeDictCap(max(int64(len(data)), lzma.MinDictCap))
	if dictByte > lzma.EncodeDictCap(xzMaxDictCap) {
		dictByte = lzma.EncodeDictCap(xzMaxDictCap)
	}
	dictCap, err := lzma.DecodeDictCap(dictByte)
	if err != nil {
		return XZBlock{}, fmt.Errorf("compressing xz block: %w", err)
	}

	var packed bytes.Buffer
	packed.Grow(len(data)/3 + 64)
	cfg := lzma.Writer2Config{DictCap: int(dictCap)}
	lw, err := cfg.NewWriter2(&packed)
	if err != nil {
		return XZBlock{}, fmt.Errorf("compressing xz block: %w", err)
	}
	if _, err := lw.Write(data); err != nil {
		return XZBlock{}, fmt.Errorf("compressing xz block: %w", err)
	}
	// Writer2.Close drops a Flush error, so flush first.
	if err := lw.Flush(); err != nil {
		return XZBlock{}, fmt.Errorf("compressing xz block: %w", err)
	}
	if err := lw.Close(); err != nil {
		return XZBlock{}, fmt.Errorf("compressing xz block: %w", err)
	}

	// Block header: size byte, flags, compressed and uncompressed size, the
	// LZMA2 filter flags (id, size of properties, dictionary byte), zero
	// padding to a multiple of four, CRC32.
	compressed := int64(packed.Len())
	hdr := make([]byte, 2, 32)
	hdr[1] = xzBlockFlagComp | xzBlockFlagUnc // one filter: low bits 0
	hdr = appendXZVarint(hdr, uint64(compressed))
	hdr = appendXZVarint(hdr, uint64(len(data)))
	hdr = append(hdr, xzFilterLZMA2, 1, dictByte)
	for len(hdr)%4 != 0 {
		hdr = append(hdr, 0)
	}
	hdr[0] = byte((len(hdr)+4)/4 - 1)
	hdr = binary.LittleEndian.AppendUint32(hdr, crc32.ChecksumIEEE(hdr))

	unpadded := int64(len(hdr)) + compressed + xzCheckSize
	out := make([]byte, 0, xzPad4(unpadded))
	out = append(out, hdr...)
	out = append(out, packed.Bytes()...)
	out = append(out, make([]byte, xzPad4(int64(len(out)))-int64(len(out)))...)
	out = binary.LittleEndian.AppendUint64(out, crc64.Checksum(data, crc64.MakeTable(crc64.ECMA)))
	return XZBlock{Data: out, Unpadded: unpadded, Uncompressed: int64(len(data))}, nil
}

// XZStreamWriter writes one xz stream: stream header, the blocks given to WriteBlock in order,
// the index and the stream footer (check type CRC64). It is not safe for
// concurrent use; the blocks themselves may be encoded concurrently.
type XZStreamWriter struct {
	w       io.Writer
	records []xzRecord
	err     error // sticky: the first write error, or ErrXZStreamClosed
}

// xzRecord is one index record.
type xzRecord struct{ unpadded, uncompressed int64 }

// NewXZStreamWriter writes the stream header to w and returns a writer for
// the rest of the stream.
func NewXZStreamWriter(w io.Writer) (*XZStreamWriter, error) {
	hdr := make([]byte, 0, 12)
	hdr = append(hdr, xzHeaderMagic...)
	hdr = append(hdr, xzStreamFlags...)
	hdr = binary.LittleEndian.AppendUint32(hdr, crc32.ChecksumIEEE(xzStreamFlags))
	if _, err := w.Write(hdr); err != nil {
		return nil, fmt.Errorf("writing xz stream header: %w", err)
	}
	return &XZStreamWriter{w: w}, nil
}

// WriteBlock appends b to the stream. A block that is not as EncodeXZBlock
// makes it is refused with ErrInvalidXZBlock and the stream stays usable; a
// write error on the underlying writer is returned again by every later call.
func (x *XZStreamWriter) WriteBlock(b XZBlock) error {
	if x.err != nil {
		return x.err
	}
	if err := checkXZBlock(b); err != nil {
		return err
	}
	if _, err := x.w.Write(b.Data); err != nil {
		x.err = fmt.Errorf("writing xz block: %w", err)
		return x.err
	}
	x.records = append(x.records, xzRecord{b.Unpadded, b.Uncompressed})
	return nil
}

// Close writes the index and the stream footer. It does not close the
// underlying writer. Calls after the first return ErrXZStreamClosed.
func (x *XZStreamWriter) Close() error {
	if x.err != nil {
		return x.err
	}
	x.err = ErrXZStreamClosed

	// Index: indicator, number of records, records, zero padding to a
	// multiple of four, CRC32.
	idx := make([]byte, 0, 16+len(x.records)*8)
	idx = append(idx, 0x00)
	idx = appendXZVarint(idx, uint64(len(x.records)))
	for _, r := range x.records {
		idx = appendXZVarint(idx, uint64(r.unpadded))
		idx = appendXZVarint(idx, uint64(r.uncompressed))
	}
	for len(idx)%4 != 0 {
		idx = append(idx, 0)
	}
	idx = binary.LittleEndian.AppendUint32(idx, crc32.ChecksumIEEE(idx))

	// Footer: CRC32 of backward size and flags, backward size (index size
	// / 4 - 1), stream flags, magic.
	var foot [12]byte
	binary.LittleEndian.PutUint32(foot[4:], uint32(len(idx)/4-1))
	copy(foot[8:], xzStreamFlags)
	copy(foot[10:], xzFooterMagic)
	binary.LittleEndian.PutUint32(foot[0:], crc32.ChecksumIEEE(foot[4:10]))

	if _, err := x.w.Write(append(idx, foot[:]...)); err != nil {
		x.err = fmt.Errorf("writing xz index: %w", err)
		return x.err
	}
	return nil
}

// checkXZBlock checks what the stream's validity depends on: a block header
// with a correct CRC32, one LZMA2 filter, and sizes that match the data.
func checkXZBlock(b XZBlock) error {
	if len(b.Data) < 12 || b.Data[0] == 0 {
		return fmt.Errorf("%w: no block header", ErrInvalidXZBlock)
	}
	hs := (int64(b.Data[0]) + 1) * 4
	if b.Unpadded < hs+1+xzCheckSize || b.Unpadded > xzMaxVarint-3 || b.Uncompressed < 0 {
		return fmt.Errorf("%w: unpadded size %d, uncompressed size %d", ErrInvalidXZBlock, b.Unpadded, b.Uncompressed)
	}
	if int64(len(b.Data)) != xzPad4(b.Unpadded) {
		return fmt.Errorf("%w: %d bytes for an unpadded size of %d", ErrInvalidXZBlock, len(b.Data), b.Unpadded)
	}
	if crc32.ChecksumIEEE(b.Data[:hs-4]) != binary.LittleEndian.Uint32(b.Data[hs-4:hs]) {
		return fmt.Errorf("%w: block header CRC32 mismatch", ErrInvalidXZBlock)
	}
	return nil
}

// appendXZVarint appends v in the xz multibyte integer encoding: seven bits
// a byte, least significant first, the high bit set on all but the last.
func appendXZVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// xzPad4 rounds n up to a multiple of four.
func xzPad4(n int64) int64 { return (n + 3) &^ 3 }
