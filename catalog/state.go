package catalog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/chantal-lite/chantal/pool"
)

func emptyStateID() StateID {
	id, _ := encodeState(&State{})
	return id
}

func getCount(b *bolt.Bucket, key []byte) (uint64, error) {
	v := b.Get(key)
	if v == nil {
		return 0, nil
	}
	n, k := binary.Uvarint(v)
	if k != len(v) {
		return 0, fmt.Errorf("read count %x: %w", key, ErrCorrupt)
	}
	return n, nil
}

func putCount(b *bolt.Bucket, key []byte, n uint64) error {
	if n == 0 {
		return b.Delete(key)
	}
	return b.Put(key, binary.AppendUvarint(nil, n))
}

// chunkDataKey is the single key of a chunk's sub-bucket. Each chunk (about
// 16 KiB) lives in a sub-bucket of its own, so it gets its own pages:
// bbolt puts at least two values in a leaf, and with chunks stored as plain
// values, adding or deleting one rewrote its leaf neighbours too, tripling
// the bytes a small change writes. The parent leaf only holds 16-byte
// bucket headers.
const chunkDataKey = "d"

// chunkChanges collects the net reference-count change of chunks during
// one holder change, so chunks shared by the old and the new state are not
// touched at all.
type chunkChanges struct {
	delta map[chunkID]int
	data  map[chunkID][]byte // encoded chunks of newly stored states
}

// swapState moves one holder (a repository or snapshot) from state old to
// state new; either may be zero ("no state"). es is the encoding of new if
// the caller has it; without it, new must already be stored (or be the
// empty state).
func (tx *Tx) swapState(old, new StateID, es *encodedState) error {
	if old == new {
		return nil
	}
	cc := chunkChanges{delta: make(map[chunkID]int), data: make(map[chunkID][]byte)}
	if !new.IsZero() {
		if err := tx.acquireState(new, es, &cc); err != nil {
			return err
		}
	}
	if !old.IsZero() {
		if err := tx.releaseState(old, &cc); err != nil {
			return err
		}
	}
	return tx.applyChunkChanges(&cc)
}

func (tx *Tx) acquireState(id StateID, es *encodedState, cc *chunkChanges) error {
	rcb := tx.bucket(bucketStateRC)
	n, err := getCount(rcb, id[:])
	if err != nil {
		return err
	}
	if n > 0 {
		return putCount(rcb, id[:], n+1)
	}
	if es == nil {
		if id != emptyStateID() {
			return fmt.Errorf("state %s: %w", id, ErrNotFound)
		}
		_, es = encodeState(&State{})
	}
	if err := tx.bucket(bucketStates).Put(id[:], es.record); err != nil {
		return fmt.Errorf("put state %s: %w", id, err)
	}
	for i, cid := range es.chunkIDs {
		cc.delta[cid]++
		cc.data[cid] = es.chunks[i]
	}
	return putCount(rcb, id[:], 1)
}

func (tx *Tx) releaseState(id StateID, cc *chunkChanges) error {
	rcb := tx.bucket(bucketStateRC)
	n, err := getCount(rcb, id[:])
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("release state %s: not referenced: %w", id, ErrCorrupt)
	}
	if n > 1 {
		return putCount(rcb, id[:], n-1)
	}
	rec, err := tx.stateRecord(id)
	if err != nil {
		return err
	}
	for _, cid := range rec.chunks {
		cc.delta[cid]--
	}
	if err := tx.bucket(bucketStates).Delete(id[:]); err != nil {
		return fmt.Errorf("delete state %s: %w", id, err)
	}
	return putCount(rcb, id[:], 0)
}

// applyChunkChanges applies the net count changes in key order, so the
// same operations always produce the same file.
func (tx *Tx) applyChunkChanges(cc *chunkChanges) error {
	rcb, chunks := tx.bucket(bucketChunkRC), tx.bucket(bucketChunks)
	ids := slices.SortedFunc(maps.Keys(cc.delta), func(a, b chunkID) int { return bytes.Compare(a[:], b[:]) })
	for _, cid := range ids {
		d := cc.delta[cid]
		if d == 0 {
			continue
		}
		n, err := getCount(rcb, cid[:])
		if err != nil {
			return err
		}
		next := int64(n) + int64(d)
		switch {
		case next < 0:
			return fmt.Errorf("release chunk %x: count below zero: %w", cid, ErrCorrupt)
		case next == 0:
			if err := chunks.DeleteBucket(cid[:]); err != nil {
				return fmt.Errorf("delete chunk %x: %w", cid, err)
			}
		case n == 0:
			data, ok := cc.data[cid]
			if !ok {
				return fmt.Errorf("store chunk %x: no data: %w", cid, ErrCorrupt)
			}
			cb, err := chunks.CreateBucket(cid[:])
			if err == nil {
				err = cb.Put([]byte(chunkDataKey), data)
			}
			if err != nil {
				return fmt.Errorf("put chunk %x: %w", cid, err)
			}
		}
		if err := putCount(rcb, cid[:], uint64(next)); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) stateRecord(id StateID) (*stateRecord, error) {
	v := tx.bucket(bucketStates).Get(id[:])
	if v == nil {
		if id.IsZero() || id == emptyStateID() {
			return &stateRecord{}, nil
		}
		return nil, fmt.Errorf("state %s: %w", id, ErrNotFound)
	}
	rec, err := decodeStateRecord(v)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", id, err)
	}
	if rec.nrefs > len(rec.chunks)*chunkMaxRefs {
		return nil, fmt.Errorf("state %s: ref count %d: %w", id, rec.nrefs, ErrCorrupt)
	}
	return rec, nil
}

func (tx *Tx) chunk(cid chunkID) ([]Ref, error) {
	var v []byte
	if cb := tx.bucket(bucketChunks).Bucket(cid[:]); cb != nil {
		v = cb.Get([]byte(chunkDataKey))
	}
	if v == nil {
		return nil, fmt.Errorf("chunk %x: missing: %w", cid, ErrCorrupt)
	}
	return decodeChunk(v)
}

// State returns the full state with the given ID, sorted. The zero ID and
// the empty state's ID return an empty state; an unknown ID ErrNotFound.
func (tx *Tx) State(id StateID) (*State, error) {
	rec, err := tx.stateRecord(id)
	if err != nil {
		return nil, err
	}
	s := &State{Files: rec.files}
	if rec.nrefs > 0 {
		s.Refs = make([]Ref, 0, rec.nrefs)
	}
	for _, cid := range rec.chunks {
		refs, err := tx.chunk(cid)
		if err != nil {
			return nil, fmt.Errorf("state %s: %w", id, err)
		}
		s.Refs = append(s.Refs, refs...)
	}
	return s, nil
}

// WalkState calls fn for each ref of state id in (Path, Digest) order,
// decoding one chunk at a time. An error from fn stops the walk and is
// returned as is.
func (tx *Tx) WalkState(id StateID, fn func(Ref) error) error {
	rec, err := tx.stateRecord(id)
	if err != nil {
		return err
	}
	for _, cid := range rec.chunks {
		refs, err := tx.chunk(cid)
		if err != nil {
			return fmt.Errorf("state %s: %w", id, err)
		}
		for _, r := range refs {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// stateCursor walks a state's refs chunk by chunk for DiffStates.
type stateCursor struct {
	tx     *Tx
	chunks []chunkID
	next   int   // index of the next chunk to load
	refs   []Ref // the loaded chunk
	pos    int   // position in refs
}

// atChunkStart reports the chunk the cursor is at the very start of:
// either the next unloaded chunk or a loaded one not yet consumed.
func (c *stateCursor) atChunkStart() (chunkID, bool) {
	switch {
	case c.pos < len(c.refs) && c.pos == 0:
		return c.chunks[c.next-1], true
	case c.pos >= len(c.refs) && c.next < len(c.chunks):
		return c.chunks[c.next], true
	}
	return chunkID{}, false
}

// skipChunk skips the chunk atChunkStart reported.
func (c *stateCursor) skipChunk() {
	if c.pos < len(c.refs) {
		c.refs, c.pos = nil, 0
		return
	}
	c.next++
}

// peek returns the current ref, loading the next chunk when needed, or
// nil at the end.
func (c *stateCursor) peek() (*Ref, error) {
	for c.pos >= len(c.refs) {
		if c.next >= len(c.chunks) {
			return nil, nil
		}
		refs, err := c.tx.chunk(c.chunks[c.next])
		if err != nil {
			return nil, err
		}
		c.refs, c.pos = refs, 0
		c.next++
	}
	return &c.refs[c.pos], nil
}

// DiffStates merges the sorted ref lists of states a and b by (Path,
// Digest) and calls fn for each difference: fn(nil, r) for a ref only in b
// (added), fn(r, nil) for one only in a (removed), and fn(old, new) for a
// ref in both whose Attrs differ. Chunks that both states share at the same
// position are skipped without decoding, so the cost follows the size of
// the change, not of the states. An error from fn stops the diff and is
// returned as is.
func (tx *Tx) DiffStates(a, b StateID, fn func(old, new *Ref) error) error {
	if a == b {
		return nil
	}
	ra, err := tx.stateRecord(a)
	if err != nil {
		return err
	}
	rb, err := tx.stateRecord(b)
	if err != nil {
		return err
	}
	ca := &stateCursor{tx: tx, chunks: ra.chunks}
	cb := &stateCursor{tx: tx, chunks: rb.chunks}
	for {
		if ia, ok := ca.atChunkStart(); ok {
			if ib, ok := cb.atChunkStart(); ok && ia == ib {
				ca.skipChunk()
				cb.skipChunk()
				continue
			}
		}
		x, err := ca.peek()
		if err != nil {
			return err
		}
		y, err := cb.peek()
		if err != nil {
			return err
		}
		switch {
		case x == nil && y == nil:
			return nil
		case y == nil:
			err = fn(x, nil)
			ca.pos++
		case x == nil:
			err = fn(nil, y)
			cb.pos++
		default:
			switch c := compareRefs(x, y); {
			case c < 0:
				err = fn(x, nil)
				ca.pos++
			case c > 0:
				err = fn(nil, y)
				cb.pos++
			default:
				if !maps.Equal(x.Attrs, y.Attrs) {
					err = fn(x, y)
				}
				ca.pos++
				cb.pos++
			}
		}
		if err != nil {
			return err
		}
	}
}

// LiveDigests calls fn once for each digest that a stored state (held by a
// repository or snapshot) references, through its refs or its files. Each
// shared chunk is decoded once. An error from fn stops the walk and is
// returned as is.
func (tx *Tx) LiveDigests(fn func(pool.Digest) error) error {
	seenChunks := make(map[chunkID]struct{})
	seen := make(map[pool.Digest]struct{})
	emit := func(d pool.Digest) error {
		if _, ok := seen[d]; ok {
			return nil
		}
		seen[d] = struct{}{}
		return fn(d)
	}
	c := tx.bucket(bucketStates).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		rec, err := decodeStateRecord(v)
		if err != nil {
			return fmt.Errorf("state %x: %w", k, err)
		}
		for _, f := range rec.files {
			if err := emit(f.Digest); err != nil {
				return err
			}
		}
		for _, cid := range rec.chunks {
			if _, ok := seenChunks[cid]; ok {
				continue
			}
			seenChunks[cid] = struct{}{}
			refs, err := tx.chunk(cid)
			if err != nil {
				return err
			}
			for i := range refs {
				if err := emit(refs[i].Digest); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
