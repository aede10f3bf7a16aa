package formats

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/chantal-lite/chantal/internal/compress"
	"github.com/chantal-lite/chantal/internal/verify"
)

// midstateStride is how many segments apart Write keeps the state of its
// hashes in the cache, so that a later write of the same stream resumes
// hashing after the longest unchanged prefix instead of reading and hashing
// every segment again.
const midstateStride = 8

// hashSet is a set of hashes fed the same bytes.
type hashSet struct {
	algos []string // sorted
	hs    []hash.Hash
}

func newHashSet(algos ...[]string) (*hashSet, error) {
	s := &hashSet{}
	for _, list := range algos {
		for _, a := range list {
			if !slices.Contains(s.algos, a) {
				s.algos = append(s.algos, a)
			}
		}
	}
	slices.Sort(s.algos)
	for _, a := range s.algos {
		h, err := newHash(a)
		if err != nil {
			return nil, err
		}
		s.hs = append(s.hs, h)
	}
	return s, nil
}

func newHash(algo string) (hash.Hash, error) {
	if h := verify.New(algo); h != nil {
		return h, nil
	}
	return nil, fmt.Errorf("writing stream: unknown hash %q", algo)
}

func (s *hashSet) Write(p []byte) (int, error) {
	for _, h := range s.hs {
		h.Write(p)
	}
	return len(p), nil
}

func (s *hashSet) sums() Checksums {
	c := make(Checksums, len(s.hs))
	for i, h := range s.hs {
		c[s.algos[i]] = hex.EncodeToString(h.Sum(nil))
	}
	return c
}

// marshal appends the hashes' states.
func (s *hashSet) marshal(b []byte) ([]byte, error) {
	for _, h := range s.hs {
		m, ok := h.(encoding.BinaryMarshaler)
		if !ok {
			return nil, fmt.Errorf("hash %T keeps no state", h)
		}
		st, err := m.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = binary.AppendUvarint(b, uint64(len(st)))
		b = append(b, st...)
	}
	return b, nil
}

// unmarshal restores states marshal wrote, into fresh hashes; it returns
// the rest of b.
func (s *hashSet) unmarshal(b []byte) ([]byte, bool) {
	fresh := make([]hash.Hash, len(s.hs))
	for i, a := range s.algos {
		h, _ := newHash(a) // known: s was built from these
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		u, ok := h.(encoding.BinaryUnmarshaler)
		if !ok || u.UnmarshalBinary(b[k:k+int(n)]) != nil {
			return nil, false
		}
		fresh[i] = h
		b = b[k+int(n):]
	}
	s.hs = fresh
	return b, true
}

// hashingWriter writes to w, counting, and feeds hs while on.
type hashingWriter struct {
	w  io.Writer
	hs *hashSet
	on bool
	n  int64
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	if h.on {
		h.hs.Write(p)
	}
	n, err := h.w.Write(p)
	h.n += int64(n)
	return n, err
}

// entry is one segment's part of a stream, in write order.
type entry struct {
	s *segment
	i int
}

// job is one entry's parts on their way to the writer.
type job struct {
	raw, comp             []byte
	rawPooled, compPooled bool // from the cache: release when written
	err                   error
	done                  chan struct{}
}

// Write implements Streams.
func (a *assembly) Write(ctx context.Context, w io.Writer, req StreamWrite) (StreamSums, error) {
	name := strings.Join(req.Streams, "+")
	comp := req.Compression
	switch comp {
	case "", string(compress.Gzip), string(compress.Zstd), string(compress.XZ):
	default:
		return StreamSums{}, fmt.Errorf("writing %s: unsupported compression %q", name, comp)
	}
	// raw hashes the content; out the written bytes (the same when
	// uncompressed).
	raw, err := newHashSet(req.OpenHashes)
	if err != nil {
		return StreamSums{}, err
	}
	out := raw
	if comp == "" {
		out, err = newHashSet(req.Hashes, req.OpenHashes)
		raw = out
	} else {
		out, err = newHashSet(req.Hashes)
	}
	if err != nil {
		return StreamSums{}, err
	}
	var sel []entry
	for _, stream := range req.Streams {
		for _, s := range a.segs {
			if i := s.find(stream); i >= 0 {
				sel = append(sel, entry{s, i})
			}
		}
	}
	openSize := int64(len(req.Header) + len(req.Footer))
	for _, e := range sel {
		openSize += e.s.streams[e.i].size
	}
	hashRaw := comp != "" && len(raw.hs) > 0 // raw bytes hashed apart from out

	chain := a.chain(req, sel)
	resume := a.resume(ctx, chain, raw, out, hashRaw)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs, release, wait := a.fetch(ctx, sel, comp, func(k int) bool { return comp == "" || hashRaw && k >= resume })
	defer wait()
	defer cancel()

	hw := &hashingWriter{w: w, hs: out, on: resume == 0}
	var xw *compress.XZStreamWriter
	if comp == string(compress.XZ) {
		if xw, err = compress.NewXZStreamWriter(hw); err != nil {
			return StreamSums{}, fmt.Errorf("writing %s: %w", name, err)
		}
	}
	// encode compresses a member of the write's own with an idle encoder.
	encode := func(b []byte) ([]byte, error) {
		enc := a.encoder()
		defer a.putEncoder(enc)
		return enc.Encode(compress.Kind(comp), b)
	}
	// member writes bytes of its own (header, footer) as a member.
	member := func(b []byte) error {
		if hashRaw && hw.on {
			raw.Write(b)
		}
		switch {
		case comp == "":
			_, err := hw.Write(b)
			return err
		case len(b) == 0:
			return nil
		case comp == string(compress.XZ):
			blk, err := compress.EncodeXZBlock(b)
			if err == nil {
				err = xw.WriteBlock(blk)
			}
			return err
		}
		m, err := encode(b)
		if err == nil {
			_, err = hw.Write(m)
		}
		return err
	}
	fail := func(err error) (StreamSums, error) { return StreamSums{}, fmt.Errorf("writing %s: %w", name, err) }
	if err := member(req.Header); err != nil {
		return fail(err)
	}
	for k := range sel {
		j := &jobs[k]
		select {
		case <-j.done:
		case <-ctx.Done():
			return StreamSums{}, ctx.Err()
		}
		if j.err != nil {
			return fail(j.err)
		}
		hw.on = k >= resume
		var err error
		switch {
		case comp == "":
			_, err = hw.Write(j.raw)
		case comp == string(compress.XZ):
			var blk compress.XZBlock
			if blk, err = decodeXZPart(j.comp); err == nil {
				err = xw.WriteBlock(blk)
			}
		default:
			_, err = hw.Write(j.comp)
		}
		if err != nil {
			return fail(err)
		}
		if hashRaw && hw.on {
			raw.Write(j.raw)
		}
		if j.rawPooled {
			a.release(j.raw)
		}
		if j.compPooled {
			a.release(j.comp)
		}
		jobs[k] = job{done: j.done}
		release()
		if n := k + 1; chain != nil && n%midstateStride == 0 && n > resume {
			a.saveMidstate(ctx, chain[n], raw, out, hashRaw)
		}
	}
	hw.on = true
	if err := member(req.Footer); err != nil {
		return fail(err)
	}
	switch comp {
	case string(compress.XZ):
		if err := xw.Close(); err != nil {
			return fail(err)
		}
	case string(compress.Gzip), string(compress.Zstd):
		if hw.n == 0 {
			// No member at all: one empty member keeps the file valid.
			m, err := encode(nil)
			if err == nil {
				_, err = hw.Write(m)
			}
			if err != nil {
				return fail(err)
			}
		}
	}
	return StreamSums{Size: hw.n, Sums: out.sums(), OpenSize: openSize, OpenSums: raw.sums()}, nil
}

// fetch starts workers that load each entry's parts (the raw one when
// needRaw says so, the compressed one when comp is set) in order, at most
// a window ahead of the writer, which calls release for each job it is done
// with; wait returns once the workers have stopped (cancel ctx first).
func (a *assembly) fetch(ctx context.Context, sel []entry, comp string, needRaw func(k int) bool) (jobs []job, release, wait func()) {
	jobs = make([]job, len(sel))
	for i := range jobs {
		jobs[i].done = make(chan struct{})
	}
	window := make(chan struct{}, 2*a.par)
	work := make(chan int)
	var wg sync.WaitGroup
	for range a.par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				j := &jobs[k]
				enc := a.encoder()
				if needRaw(k) {
					j.raw, j.rawPooled, j.err = a.part(ctx, sel[k].s, sel[k].i, "", enc)
				}
				if comp != "" && j.err == nil {
					j.comp, j.compPooled, j.err = a.part(ctx, sel[k].s, sel[k].i, comp, enc)
				}
				a.putEncoder(enc)
				close(j.done)
			}
		}()
	}
	go func() {
		defer close(work)
		for k := range sel {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case work <- k:
			case <-ctx.Done():
				return
			}
		}
	}()
	return jobs, func() { <-window }, wg.Wait
}

// chain returns, for each prefix of sel (k entries), a key naming the
// bytes written up to there; nil when the write is not resumable, some
// segment has no key or there is no cache.
func (a *assembly) chain(req StreamWrite, sel []entry) []string {
	if a.cache == nil || !req.Resumable {
		return nil
	}
	h := sha256.New()
	k := NewSegmentKeyer(a.f, a.req)
	k.Add("midstate 1", req.Compression, strings.Join(req.Hashes, ","), strings.Join(req.OpenHashes, ","))
	k.AddBytes(req.Header)
	chain := make([]string, len(sel)+1)
	chain[0] = k.Key()
	for i, e := range sel {
		if e.s.Key == "" {
			return nil
		}
		h.Reset()
		io.WriteString(h, chain[i])
		io.WriteString(h, "\x00"+e.s.Key+"\x00"+e.s.streams[e.i].name)
		chain[i+1] = hex.EncodeToString(h.Sum(nil))
	}
	return chain
}

// resume restores the hash states of the longest cached prefix and
// returns its length in entries (0: none).
func (a *assembly) resume(ctx context.Context, chain []string, raw, out *hashSet, hashRaw bool) int {
	if chain == nil {
		return 0
	}
	for k := (len(chain) - 1) / midstateStride * midstateStride; k > 0; k -= midstateStride {
		b, ok := a.cache.Get(ctx, chain[k]+".hs")
		if !ok {
			continue
		}
		body, ok := unseal(b)
		if !ok {
			continue
		}
		rest, ok := out.unmarshal(body)
		if ok && hashRaw && out != raw {
			rest, ok = raw.unmarshal(rest)
		}
		if ok && len(rest) == 0 {
			return k
		}
		// A damaged entry may have replaced some states: start over.
		raw.reset()
		if out != raw {
			out.reset()
		}
		return 0
	}
	return 0
}

func (s *hashSet) reset() {
	for _, h := range s.hs {
		h.Reset()
	}
}

func (a *assembly) saveMidstate(ctx context.Context, key string, raw, out *hashSet, hashRaw bool) {
	b, err := out.marshal(nil)
	if err == nil && hashRaw && out != raw {
		b, err = raw.marshal(b)
	}
	if err == nil {
		err = a.cache.Put(ctx, key+".hs", seal(b))
	}
	if err != nil {
		a.req.Logger.Warn("render cache", "err", err)
	}
}
