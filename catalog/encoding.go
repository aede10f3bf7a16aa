package catalog

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/chantal-lite/chantal/pool"
)

// Chunking parameters. They are part of the on-disk format and of every
// StateID: changing them needs a schema version bump.
const (
	chunkMask    = 1<<8 - 1 // a boundary after ~1 in 256 refs
	chunkMaxRefs = 8192     // forced boundary for pathological inputs
	stateIDSalt  = "chantal-lite/state/v1\x00"
)

type chunkID [sha256.Size]byte

// encoder appends a compact binary encoding to buf.
type encoder struct{ buf []byte }

func (e *encoder) uvarint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) varint(v int64)   { e.buf = binary.AppendVarint(e.buf, v) }
func (e *encoder) raw(b []byte)     { e.buf = append(e.buf, b...) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) bytes(b []byte) {
	e.uvarint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

// strMap writes m with sorted keys, so equal maps encode equally.
func (e *encoder) strMap(m map[string]string) {
	e.uvarint(uint64(len(m)))
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e.str(k)
		e.str(m[k])
	}
}

func (e *encoder) bytesMap(m map[string][]byte) {
	e.uvarint(uint64(len(m)))
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e.str(k)
		e.bytes(m[k])
	}
}

// decoder reads what encoder wrote. The first error sticks; later reads
// return zero values. Everything returned is copied out of b.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = ErrCorrupt
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// length reads a count or length that must fit in the remaining input
// (each counted element takes at least min bytes).
func (d *decoder) length(min int) int {
	v := d.uvarint()
	if d.err != nil || v > uint64(len(d.b)/min) {
		d.fail()
		return 0
	}
	return int(v)
}

func (d *decoder) next(n int) []byte {
	if n > len(d.b) {
		d.fail()
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) str() string { return string(d.next(d.length(1))) }

func (d *decoder) digest() (out [sha256.Size]byte) {
	copy(out[:], d.next(len(out)))
	return out
}

func (d *decoder) strMap() map[string]string {
	n := d.length(2)
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

func (d *decoder) bytesMap() map[string][]byte {
	n := d.length(2)
	if n == 0 {
		return nil
	}
	m := make(map[string][]byte, n)
	for range n {
		k := d.str()
		m[k] = slices.Clone(d.next(d.length(1)))
	}
	return m
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = ErrCorrupt
	}
	return d.err
}

// boundary reports whether a chunk ends after r: a mixed FNV-1a hash of
// (Path, Digest) has its low bits zero.
func boundary(r *Ref) bool {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(r.Path); i++ {
		h = (h ^ uint64(r.Path[i])) * prime
	}
	h = (h ^ 0xff) * prime
	for _, c := range r.Digest {
		h = (h ^ uint64(c)) * prime
	}
	// splitmix64 finalizer, so the low bits depend on every input byte.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h&chunkMask == 0
}

// encodeChunk encodes sorted refs with their paths prefix-compressed
// against the previous ref's path.
func encodeChunk(buf []byte, refs []Ref) []byte {
	e := encoder{buf: buf}
	e.uvarint(uint64(len(refs)))
	prev := ""
	for i := range refs {
		r := &refs[i]
		shared := 0
		for shared < len(prev) && shared < len(r.Path) && prev[shared] == r.Path[shared] {
			shared++
		}
		e.uvarint(uint64(shared))
		e.str(r.Path[shared:])
		e.raw(r.Digest[:])
		e.strMap(r.Attrs)
		prev = r.Path
	}
	return e.buf
}

func decodeChunk(b []byte) ([]Ref, error) {
	d := decoder{b: b}
	n := d.length(1 + 1 + 32 + 1)
	refs := make([]Ref, n)
	var path []byte
	for i := range refs {
		shared := d.uvarint()
		if shared > uint64(len(path)) {
			d.fail()
			break
		}
		suffix := d.next(d.length(1))
		path = append(path[:shared], suffix...)
		refs[i] = Ref{Path: string(path), Digest: pool.Digest(d.digest()), Attrs: d.strMap()}
		if d.err != nil {
			break
		}
	}
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("decode chunk: %w", err)
	}
	return refs, nil
}

// encodedState is a state ready to store: its record and its chunks.
type encodedState struct {
	record   []byte
	chunkIDs []chunkID
	chunks   [][]byte // parallel to chunkIDs
}

// encodeState cuts the sorted refs of s into chunks and builds the state
// record: uvarint nrefs, uvarint nchunks, chunk ids, uvarint nfiles, files.
// The StateID is the salted SHA-256 of the record.
func encodeState(s *State) (StateID, *encodedState) {
	es := &encodedState{}
	start := 0
	for i := range s.Refs {
		if i+1-start >= chunkMaxRefs || boundary(&s.Refs[i]) || i == len(s.Refs)-1 {
			data := encodeChunk(nil, s.Refs[start:i+1])
			es.chunks = append(es.chunks, data)
			es.chunkIDs = append(es.chunkIDs, sha256.Sum256(data))
			start = i + 1
		}
	}
	e := encoder{buf: make([]byte, 0, 16+len(es.chunkIDs)*sha256.Size+len(s.Files)*96)}
	e.uvarint(uint64(len(s.Refs)))
	e.uvarint(uint64(len(es.chunkIDs)))
	for _, id := range es.chunkIDs {
		e.raw(id[:])
	}
	e.uvarint(uint64(len(s.Files)))
	for i := range s.Files {
		f := &s.Files[i]
		e.str(f.Path)
		e.raw(f.Digest[:])
		e.varint(f.Size)
		e.str(f.Kind)
		e.strMap(f.Checksums)
	}
	es.record = e.buf
	h := sha256.New()
	h.Write([]byte(stateIDSalt))
	h.Write(es.record)
	var id StateID
	h.Sum(id[:0])
	return id, es
}

// stateRecord is a decoded state record.
type stateRecord struct {
	nrefs  int
	chunks []chunkID
	files  []File
}

func decodeStateRecord(b []byte) (*stateRecord, error) {
	d := decoder{b: b}
	rec := &stateRecord{nrefs: int(d.uvarint())}
	rec.chunks = make([]chunkID, d.length(sha256.Size))
	for i := range rec.chunks {
		rec.chunks[i] = d.digest()
	}
	if n := d.length(1 + 32 + 1 + 1 + 1); n > 0 {
		rec.files = make([]File, n)
		for i := range rec.files {
			rec.files[i] = File{Path: d.str(), Digest: pool.Digest(d.digest()), Size: d.varint(), Kind: d.str(), Checksums: d.strMap()}
		}
	}
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("decode state record: %w", err)
	}
	return rec, nil
}

const itemEncodingV1 = 1

// encodeItem encodes everything but the digest, which is the key.
func encodeItem(it *Item) []byte {
	n := 64 + len(it.Format) + len(it.Name) + len(it.Version) + len(it.Arch)
	for _, v := range it.Fragments {
		n += len(v) + 16
	}
	return appendItem(make([]byte, 0, n), it)
}

// appendItem appends the encoding of it (encodeItem) to dst.
func appendItem(dst []byte, it *Item) []byte {
	e := encoder{buf: dst}
	e.uvarint(itemEncodingV1)
	e.varint(it.Size)
	e.str(it.Format)
	e.str(it.Name)
	e.str(it.Version)
	e.str(it.Arch)
	e.strMap(it.Checksums)
	e.strMap(it.Fields)
	e.bytesMap(it.Fragments)
	return e.buf
}

func decodeItem(d pool.Digest, b []byte) (Item, error) {
	dec := decoder{b: b}
	if v := dec.uvarint(); v != itemEncodingV1 {
		dec.fail()
	}
	it := Item{Digest: d, Size: dec.varint(), Format: dec.str(), Name: dec.str(), Version: dec.str(), Arch: dec.str()}
	it.Checksums = dec.strMap()
	it.Fields = dec.strMap()
	it.Fragments = dec.bytesMap()
	if err := dec.done(); err != nil {
		return Item{}, fmt.Errorf("decode item %s: %w", d, err)
	}
	return it, nil
}

// decodeItemHead decodes an item's leading fields: size, format, name,
// version and architecture, not its maps.
func decodeItemHead(d pool.Digest, b []byte) (Item, error) {
	dec := decoder{b: b}
	if v := dec.uvarint(); v != itemEncodingV1 {
		dec.fail()
	}
	it := Item{Digest: d, Size: dec.varint(), Format: dec.str(), Name: dec.str(), Version: dec.str(), Arch: dec.str()}
	if dec.err != nil {
		return Item{}, fmt.Errorf("decode item %s: %w", d, dec.err)
	}
	return it, nil
}

// itemSize decodes only the size of an encoded item.
func itemSize(b []byte) (int64, error) {
	d := decoder{b: b}
	if v := d.uvarint(); v != itemEncodingV1 {
		d.fail()
	}
	size := d.varint()
	return size, d.err
}
