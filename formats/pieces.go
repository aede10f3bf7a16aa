package formats

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/chantal-lite/chantal/internal/compress"
)

// A PieceRenderer is a Format whose regenerated indexes (filtered and hosted
// mode) are concatenations: each output stream (an RPM primary.xml, an APT
// Packages file …) is a header, one piece per item in Path order, and a
// footer. The items are split into segments at boundaries that depend only
// on their paths (SegmentBoundary); each segment's pieces are rendered and
// compressed on their own — gzip members, zstd frames and xz blocks
// concatenate into one valid file — and can be cached by the segment's
// content. A republish after a small change then renders and compresses the
// changed segments only.
//
// Render of a PieceRenderer must give the same bytes as RenderPieces, which
// is the usual way to implement it for filtered and hosted mode.
type PieceRenderer interface {
	Format
	// PieceVersion names the pieces' encoding. Change it whenever RenderPiece
	// gives other bytes for the same item and parameters, so that cached
	// pieces of an earlier version are not reused.
	PieceVersion() string
	// RenderPiece emits an item's pieces: at most one per stream. Pieces
	// depend only on the item and on req; an error fails the render.
	RenderPiece(ctx context.Context, req PieceRequest, it *Item, emit func(stream string, piece []byte)) error
	// RenderStreams writes every file of a filtered or hosted publish from
	// the assembled streams. req.Items is nil: what a format needs to know
	// about all items, it emits as pieces of a stream of its own.
	RenderStreams(ctx context.Context, req RenderRequest, s Streams) error
}

// PieceRequest is what RenderPiece may depend on.
type PieceRequest struct {
	Mode   Mode
	Params map[string]string
	Logger *slog.Logger
}

// Streams are the assembled pieces of a render.
type Streams interface {
	// Names lists the streams with at least one piece, sorted.
	Names() []string
	// Count is the number of pieces emitted into a stream.
	Count(stream string) int
	// Size is the number of bytes of a stream's pieces, uncompressed (a
	// renderer that keeps a file in memory, to sign it, sizes its buffer
	// with it).
	Size(stream string) int64
	// Open reads the concatenation of a stream's pieces, uncompressed.
	Open(ctx context.Context, stream string) (io.ReadCloser, error)
	// Write writes req.Header, the pieces of req.Streams and req.Footer to
	// w, compressed as req.Compression says, and returns sizes and
	// checksums.
	Write(ctx context.Context, w io.Writer, req StreamWrite) (StreamSums, error)
}

// StreamWrite says how Streams.Write writes one file: Header, the pieces
// of each of Streams in turn, Footer.
type StreamWrite struct {
	Streams        []string
	Header, Footer []byte
	// Compression is "" (none), "gz", "zst" or "xz".
	Compression string
	// Hashes are computed over the written bytes, OpenHashes over the
	// uncompressed content: "md5", "sha1", "sha256", "sha512".
	Hashes, OpenHashes []string
	// Resumable says the header seldom changes (it holds no item count),
	// so the states of the hashes are cached along the stream and a later
	// write of it hashes only from the first changed segment on.
	Resumable bool
}

// StreamSums are the sizes and lower-case hex checksums of a written stream
// (Size, Sums) and of its uncompressed content (OpenSize, OpenSums).
type StreamSums struct {
	Size, OpenSize int64
	Sums, OpenSums Checksums
}

// A PieceCache keeps rendered and compressed segments between renders. Keys
// are lower-case letters, digits and dots. Get reports a missing or unreadable
// entry as not found; RenderPieces checks what it reads back.
type PieceCache interface {
	Get(ctx context.Context, key string) ([]byte, bool)
	Put(ctx context.Context, key string, data []byte) error
}

// A PieceCacheReleaser is a PieceCache that takes back the buffers its Get
// returned, once the caller is done with them, to read into them again.
type PieceCacheReleaser interface {
	Release(b []byte)
}

// A Segment is a run of items in Path order whose pieces are rendered
// together. Key identifies its content (the items and everything their
// pieces depend on); an empty Key is never cached. Load returns the items;
// it is called only when the cache cannot answer.
type Segment struct {
	Key  string
	Load func(ctx context.Context) ([]Item, error)
}

// PieceOptions tune RenderPieces; nil means no cache and no preset segments.
type PieceOptions struct {
	// Cache, when set, keeps segments between renders.
	Cache PieceCache
	// Segments, when set, replace req.Items: the caller split the items by
	// SegmentBoundary and keyed each segment (chantal does so from the
	// catalog, without decoding unchanged items).
	Segments []Segment
	// Parallel bounds the segments rendered and compressed at once;
	// 0 means GOMAXPROCS.
	Parallel int
}

// Segments average segmentAvg items and hold at most segmentMax.
const (
	segmentAvg = 256
	segmentMax = 4 * segmentAvg
)

// SegmentBoundary reports whether the item at path, the n-th (from 1) of
// the current segment, ends it. It depends only on path and n, so the same
// items always split the same way, and inserting or removing an item
// changes one segment (or, past segmentMax, the few up to the next
// path-chosen boundary).
func SegmentBoundary(path string, n int) bool {
	if n >= segmentMax {
		return true
	}
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(path); i++ {
		h ^= uint64(path[i])
		h *= 1099511628211
	}
	return h%segmentAvg == 0
}

// splitSegments splits items (in Path order) into segments by
// SegmentBoundary; each segment is keyed by its items' content when keyed
// is set.
func splitSegments(f PieceRenderer, req PieceRequest, items []Item, keyed bool) []Segment {
	var segs []Segment
	start := 0
	for i := range items {
		if i == len(items)-1 || SegmentBoundary(items[i].Path, i-start+1) {
			part := items[start : i+1]
			s := Segment{Load: func(context.Context) ([]Item, error) { return part, nil }}
			if keyed {
				s.Key = itemsKey(f, req, part)
			}
			segs = append(segs, s)
			start = i + 1
		}
	}
	return segs
}

// SegmentKeyer hashes a segment's identity: the format, its piece version,
// the request, then what the caller feeds in for each item.
type SegmentKeyer struct {
	h hash.Hash
}

// NewSegmentKeyer starts a segment key.
func NewSegmentKeyer(f PieceRenderer, req PieceRequest) *SegmentKeyer {
	k := &SegmentKeyer{h: sha256.New()}
	k.Add("chantal-lite pieces 1", f.Name(), f.PieceVersion(), string(req.Mode))
	keys := make([]string, 0, len(req.Params))
	for p := range req.Params {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	for _, p := range keys {
		k.Add(p, req.Params[p])
	}
	return k
}

// Add feeds length-prefixed strings.
func (k *SegmentKeyer) Add(ss ...string) {
	var n [binary.MaxVarintLen64]byte
	for _, s := range ss {
		k.h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		io.WriteString(k.h, s)
	}
}

// AddBytes feeds a length-prefixed byte string.
func (k *SegmentKeyer) AddBytes(b []byte) {
	var n [binary.MaxVarintLen64]byte
	k.h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
	k.h.Write(b)
}

// Key returns the segment's key.
func (k *SegmentKeyer) Key() string { return hex.EncodeToString(k.h.Sum(nil)) }

func itemsKey(f PieceRenderer, req PieceRequest, items []Item) string {
	k := NewSegmentKeyer(f, req)
	for i := range items {
		it := &items[i]
		k.Add("item", it.Path, string(it.Digest[:]), fmt.Sprint(it.Size), it.Name, it.Version, it.Arch)
		for _, m := range []map[string]string{it.Checksums, it.Fields} {
			keys := make([]string, 0, len(m))
			for x := range m {
				keys = append(keys, x)
			}
			slices.Sort(keys)
			k.Add(fmt.Sprint(len(keys)))
			for _, x := range keys {
				k.Add(x, m[x])
			}
		}
		keys := make([]string, 0, len(it.Fragments))
		for x := range it.Fragments {
			keys = append(keys, x)
		}
		slices.Sort(keys)
		k.Add(fmt.Sprint(len(keys)))
		for _, x := range keys {
			k.Add(x)
			k.AddBytes(it.Fragments[x])
		}
	}
	return k.Key()
}

// RenderPieces renders req with f's pieces: the items (req.Items, or
// o.Segments) segment by segment, reusing o.Cache, then f.RenderStreams.
func RenderPieces(ctx context.Context, f PieceRenderer, req RenderRequest, o *PieceOptions) error {
	if o == nil {
		o = &PieceOptions{}
	}
	preq := PieceRequest{Mode: req.Mode, Params: req.Params, Logger: req.Logger}
	if preq.Logger == nil {
		preq.Logger = slog.New(slog.DiscardHandler)
	}
	segs := o.Segments
	if segs == nil {
		segs = splitSegments(f, preq, req.Items, o.Cache != nil)
	}
	par := o.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	a := &assembly{f: f, req: preq, cache: o.Cache, par: par, segs: make([]*segment, len(segs))}
	for i, s := range segs {
		a.segs[i] = &segment{Segment: s}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for _, s := range a.segs {
		g.Go(func() error { return a.prepare(gctx, s) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	a.index()
	req.Items = nil
	return f.RenderStreams(ctx, req, a)
}

// assembly implements Streams over prepared segments.
type assembly struct {
	f     PieceRenderer
	req   PieceRequest
	cache PieceCache
	par   int
	segs  []*segment
	// names, counts and sizes over all segments, set by index.
	names  []string
	counts map[string]int
	sizes  map[string]int64
	// held counts the rendered bytes kept in memory after caching them.
	held atomic.Int64
	// encs are member encoders no write is using: each holds a compressor
	// of about a megabyte, made once and shared by the streams' writes.
	encMu sync.Mutex
	encs  []*compress.MemberEncoder
}

// encoder returns an idle member encoder, or a new one.
func (a *assembly) encoder() *compress.MemberEncoder {
	a.encMu.Lock()
	defer a.encMu.Unlock()
	if n := len(a.encs); n > 0 {
		e := a.encs[n-1]
		a.encs = a.encs[:n-1]
		return e
	}
	return &compress.MemberEncoder{}
}

// putEncoder gives an encoder back for the next write.
func (a *assembly) putEncoder(e *compress.MemberEncoder) {
	a.encMu.Lock()
	defer a.encMu.Unlock()
	a.encs = append(a.encs, e)
}

// heldMax bounds the rendered bytes a render keeps in memory besides the
// cache: a first publish of a large repository reads the rest back.
const heldMax = 64 << 20

// segment is one Segment's pieces: per stream its name, count and size
// (set once by prepare, read freely after it) and, when held in memory, its
// uncompressed bytes and compressed forms (mem, guarded by mu).
type segment struct {
	Segment
	streams []segStream // sorted by name
	mu      sync.Mutex
	mem     []memPart // parallel to streams
}

// memPart is a stream's part held in memory.
type memPart struct {
	data []byte            // uncompressed, when held
	held bool              // data is set (it may be empty)
	comp map[string][]byte // compression → encoded part
}

type segStream struct {
	name  string
	count int
	size  int64
}

// Cache entries: "<key>.idx" lists the streams; "<key>.<i>" is stream i's
// uncompressed bytes, "<key>.<i>.<compression>" its compressed part. Each
// entry ends in the CRC-32C of what precedes it.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

func seal(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

func unseal(b []byte) ([]byte, bool) {
	if len(b) < 4 {
		return nil, false
	}
	body := b[:len(b)-4]
	return body, crc32.Checksum(body, crcTable) == binary.BigEndian.Uint32(b[len(b)-4:])
}

func (s *segment) encodeIndex() []byte {
	b := []byte("pieces-idx-1\n")
	b = binary.AppendUvarint(b, uint64(len(s.streams)))
	for _, st := range s.streams {
		b = binary.AppendUvarint(b, uint64(len(st.name)))
		b = append(b, st.name...)
		b = binary.AppendUvarint(b, uint64(st.count))
		b = binary.AppendUvarint(b, uint64(st.size))
	}
	return seal(b)
}

func decodeIndex(b []byte) ([]segStream, bool) {
	body, ok := unseal(b)
	if !ok || !bytes.HasPrefix(body, []byte("pieces-idx-1\n")) {
		return nil, false
	}
	r := bytes.NewReader(body[len("pieces-idx-1\n"):])
	n, err := binary.ReadUvarint(r)
	if err != nil || n > uint64(r.Len()) {
		return nil, false
	}
	out := make([]segStream, 0, n)
	for range n {
		l, err := binary.ReadUvarint(r)
		if err != nil || l > uint64(r.Len()) {
			return nil, false
		}
		name := make([]byte, l)
		io.ReadFull(r, name)
		c, err1 := binary.ReadUvarint(r)
		sz, err2 := binary.ReadUvarint(r)
		if err1 != nil || err2 != nil || c > 1<<40 || sz > 1<<50 {
			return nil, false
		}
		out = append(out, segStream{name: string(name), count: int(c), size: int64(sz)})
	}
	if r.Len() != 0 || !slices.IsSortedFunc(out, func(a, b segStream) int { return strings.Compare(a.name, b.name) }) {
		return nil, false
	}
	return out, true
}

// prepare learns a segment's streams: from the cache's index entry, or by
// rendering its items (and caching the result).
func (a *assembly) prepare(ctx context.Context, s *segment) error {
	if a.cache != nil && s.Key != "" {
		if b, ok := a.cache.Get(ctx, s.Key+".idx"); ok {
			if st, ok := decodeIndex(b); ok {
				s.streams = st
				s.mem = make([]memPart, len(st))
				return nil
			}
		}
	}
	return a.render(ctx, s, false)
}

// render renders a segment's pieces into memory and caches them; unless
// keep is set, cached pieces are dropped from memory.
func (a *assembly) render(ctx context.Context, s *segment, keep bool) error {
	items, err := s.Load(ctx)
	if err != nil {
		return err
	}
	type buf struct {
		count int
		data  []byte
	}
	bufs := map[string]*buf{}
	for i := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := a.f.RenderPiece(ctx, a.req, &items[i], func(stream string, piece []byte) {
			b := bufs[stream]
			if b == nil {
				b = &buf{}
				bufs[stream] = b
			}
			b.count++
			b.data = append(b.data, piece...)
		})
		if err != nil {
			return err
		}
	}
	streams := make([]segStream, 0, len(bufs))
	for name, b := range bufs {
		streams = append(streams, segStream{name: name, count: b.count, size: int64(len(b.data))})
	}
	slices.SortFunc(streams, func(a, b segStream) int { return strings.Compare(a.name, b.name) })
	mem := make([]memPart, len(streams))
	for i, st := range streams {
		mem[i] = memPart{data: bufs[st.name].data, held: true}
	}
	if s.streams == nil {
		s.streams = streams // prepare: nothing reads s.streams yet
	} else if !slices.Equal(s.streams, streams) {
		return fmt.Errorf("rendering pieces: segment %s changed while rendering", s.Key)
	}
	s.mu.Lock()
	s.mem = mem
	s.mu.Unlock()
	if a.cache == nil || s.Key == "" {
		return nil
	}
	for i := range streams {
		if err := a.cache.Put(ctx, fmt.Sprintf("%s.%d", s.Key, i), seal(mem[i].data)); err != nil {
			a.req.Logger.Warn("render cache", "err", err)
			return nil
		}
	}
	if err := a.cache.Put(ctx, s.Key+".idx", s.encodeIndex()); err != nil {
		a.req.Logger.Warn("render cache", "err", err)
		return nil
	}
	var size int64
	for _, st := range streams {
		size += st.size
	}
	if keep || a.held.Add(size) <= heldMax {
		return nil // kept for this render's writes, which need not read it back
	}
	a.held.Add(-size)
	// Cached: read back when written, instead of holding every segment.
	s.mu.Lock()
	for i := range s.mem {
		s.mem[i] = memPart{comp: s.mem[i].comp}
	}
	s.mu.Unlock()
	return nil
}

func (a *assembly) index() {
	a.counts = map[string]int{}
	a.sizes = map[string]int64{}
	for _, s := range a.segs {
		for _, st := range s.streams {
			a.counts[st.name] += st.count
			a.sizes[st.name] += st.size
		}
	}
	for n := range a.counts {
		a.names = append(a.names, n)
	}
	slices.Sort(a.names)
}

func (a *assembly) Names() []string { return slices.Clone(a.names) }

func (a *assembly) Count(stream string) int { return a.counts[stream] }

func (a *assembly) Size(stream string) int64 { return a.sizes[stream] }

// find returns the index of stream in s, or -1.
func (s *segment) find(stream string) int {
	i, ok := slices.BinarySearchFunc(s.streams, stream, func(st segStream, n string) int { return strings.Compare(st.name, n) })
	if !ok {
		return -1
	}
	return i
}

// part returns stream i of segment s, uncompressed (comp "") or compressed.
//
// pooled says b came from the cache: pass it to a.release when done.
func (a *assembly) part(ctx context.Context, s *segment, i int, comp string, enc *compress.MemberEncoder) (b []byte, pooled bool, err error) {
	st := s.streams[i]
	s.mu.Lock()
	m := s.mem[i]
	if c, ok := m.comp[comp]; ok {
		s.mu.Unlock()
		return c, false, nil
	}
	s.mu.Unlock()
	if comp == "" && m.held {
		return m.data, false, nil
	}
	key := fmt.Sprintf("%s.%d", s.Key, i)
	if comp != "" {
		key += "." + comp
	}
	if a.cache != nil && s.Key != "" {
		if b, ok := a.cache.Get(ctx, key); ok {
			if body, ok := unseal(b); ok && (comp != "" || int64(len(body)) == st.size) {
				return body, true, nil
			}
			a.release(b)
		}
	}
	if comp == "" {
		// Neither in memory nor cached (an entry went missing): render
		// the segment again.
		if err := a.render(ctx, s, true); err != nil {
			return nil, false, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.mem[i].data, false, nil
	}
	raw, rawPooled, err := a.part(ctx, s, i, "", enc)
	if err != nil {
		return nil, false, err
	}
	if comp == string(compress.XZ) {
		b, err = encodeXZPart(raw)
	} else {
		b, err = enc.Encode(compress.Kind(comp), raw)
	}
	if rawPooled {
		a.release(raw)
	}
	if err != nil {
		return nil, false, fmt.Errorf("compressing %s: %w", st.name, err)
	}
	if a.cache != nil && s.Key != "" {
		if err := a.cache.Put(ctx, key, seal(b)); err != nil {
			a.req.Logger.Warn("render cache", "err", err)
		}
	} else {
		s.mu.Lock()
		if s.mem[i].comp == nil {
			s.mem[i].comp = map[string][]byte{}
		}
		s.mem[i].comp[comp] = b
		s.mu.Unlock()
	}
	return b, false, nil
}

// release gives a buffer the cache's Get returned back to the cache, when
// it takes them back.
func (a *assembly) release(b []byte) {
	if r, ok := a.cache.(PieceCacheReleaser); ok {
		r.Release(b)
	}
}

func (a *assembly) Open(ctx context.Context, stream string) (io.ReadCloser, error) {
	var enc compress.MemberEncoder
	pr, pw := io.Pipe()
	go func() {
		for _, s := range a.segs {
			i := s.find(stream)
			if i < 0 {
				continue
			}
			b, pooled, err := a.part(ctx, s, i, "", &enc)
			if err == nil {
				_, err = pw.Write(b)
			}
			if pooled {
				a.release(b)
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.Close()
	}()
	return pr, nil
}

// encodeXZPart compresses a part into an xz block, kept as the cache part
// "<unpadded size> <uncompressed size> <block>" (two uvarints, then bytes).
func encodeXZPart(raw []byte) ([]byte, error) {
	blk, err := compress.EncodeXZBlock(raw)
	if err != nil {
		return nil, err
	}
	b := binary.AppendUvarint(nil, uint64(blk.Unpadded))
	b = binary.AppendUvarint(b, uint64(blk.Uncompressed))
	return append(b, blk.Data...), nil
}

func decodeXZPart(b []byte) (compress.XZBlock, error) {
	r := bytes.NewReader(b)
	u, err1 := binary.ReadUvarint(r)
	n, err2 := binary.ReadUvarint(r)
	if err1 != nil || err2 != nil || u > uint64(r.Len()) {
		return compress.XZBlock{}, errors.New("cached xz block: malformed")
	}
	return compress.XZBlock{Data: b[len(b)-r.Len():], Unpadded: int64(u), Uncompressed: int64(n)}, nil
}
