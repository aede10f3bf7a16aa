package catalog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"

	"github.com/chantal-lite/chantal/pool"
)

// An Updater runs fn in one write transaction, committed if fn returns nil.
// *DB is one; so is anything that opens the catalog around each transaction.
type Updater interface {
	Update(ctx context.Context, fn func(*Tx) error) error
}

// stageChunkBytes bounds the encoded records one Commit transaction writes:
// a write transaction holds every page it dirties in memory until it
// commits.
const stageChunkBytes = 8 << 20

// stageFill is how full Commit packs the pages it appends: items arrive in
// key order, so bbolt's default (half full, room for random inserts) would
// double the pages written.
const stageFill = 1.0

// A Stage gathers items for one write in key order. A sync that stores
// items while it scans an upstream writes them in short transactions, to
// bound its memory; but items are keyed by digest, so each transaction
// rewrites about one page per item, and a 63,000-item first sync wrote
// over 400 MB of pages to store about 75 MB. A Stage instead appends
// each item's encoded record to a spool file (the memory it keeps is the
// digest, the file offset and the checksum index keys) and Commit writes
// them all in digest order, a few megabytes a transaction, each page about
// once.
//
// Until Commit returns, the catalog does not hold the staged items. A Stage
// is not safe for concurrent use; Close it when done (the spool is removed).
type Stage struct {
	f    *os.File
	w    *bufio.Writer
	name string // the spool's name until it is removed
	size int64  // bytes written to the spool
	recs []stagedRecord
	keys []byte // index keys, concatenated (stagedRecord.keys)
	buf  []byte // Add's encoding buffer
	err  error  // sticky: a failed Add poisons the stage
	// chunkBytes is stageChunkBytes; tests make it small.
	chunkBytes int
}

// stagedRecord is where one item's record is in the spool and which index
// keys it has (keys[keyOff:keyEnd], each prefixed by its length, a uvarint).
type stagedRecord struct {
	digest         pool.Digest
	off            int64
	n              int
	keyOff, keyEnd int
}

// NewStage starts a stage whose spool is a temp file in dir (the catalog's
// directory is a good one: the spool grows to the size of the records).
func NewStage(dir string) (*Stage, error) {
	f, err := os.CreateTemp(dir, ".stage-*")
	if err != nil {
		return nil, fmt.Errorf("stage items: %w", err)
	}
	s := &Stage{f: f, w: bufio.NewWriterSize(f, 256<<10), name: f.Name(), chunkBytes: stageChunkBytes}
	// Where a file may be removed while open, nothing is left behind by a
	// crash; elsewhere Close removes it.
	if os.Remove(f.Name()) == nil {
		s.name = ""
	}
	return s, nil
}

// Len returns how many items are staged.
func (s *Stage) Len() int { return len(s.recs) }

// Add stages items, as PutItems would put them. A zero digest is ErrInvalid;
// an error poisons the stage (Add and Commit return it again).
func (s *Stage) Add(items []Item) error {
	if s.err != nil {
		return s.err
	}
	for i := range items {
		it := &items[i]
		if it.Digest.IsZero() {
			s.err = fmt.Errorf("stage items: zero digest: %w", ErrInvalid)
			return s.err
		}
		s.buf = appendItem(s.buf[:0], it)
		data := s.buf
		if _, err := s.w.Write(data); err != nil {
			s.err = fmt.Errorf("stage items: %w", err)
			return s.err
		}
		r := stagedRecord{digest: it.Digest, off: s.size, n: len(data), keyOff: len(s.keys)}
		for _, k := range indexKeys(it) {
			s.keys = append(binary.AppendUvarint(s.keys, uint64(len(k))), k...)
		}
		r.keyEnd = len(s.keys)
		s.recs = append(s.recs, r)
		s.size += int64(len(data))
	}
	return nil
}

// keysOf yields the index keys of r.
func (s *Stage) keysOf(r *stagedRecord) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for b := s.keys[r.keyOff:r.keyEnd]; len(b) > 0; {
			n, w := binary.Uvarint(b)
			if !yield(b[w : w+int(n)]) {
				return
			}
			b = b[w+int(n):]
		}
	}
}

// Commit writes the staged items into the catalog through u, as PutItems
// would: an item the catalog already holds unchanged is left alone, one it
// holds differently is replaced (and logged). The checksum index entries of
// every staged item go first, in key order; then the records, in digest
// order; each in transactions of about 8 MiB. If Commit fails
// or is interrupted part way, the items of the transactions that committed
// are stored (an unreferenced item is pruned by GC like any other), and the
// index may keep entries of items that were not: lookups ignore them and
// PruneItems removes them. An item staged twice is written once (the first).
// The stage is empty afterwards, whatever the outcome.
func (s *Stage) Commit(ctx context.Context, u Updater) error {
	if s.err != nil {
		return s.err
	}
	defer s.reset()
	if len(s.recs) == 0 {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("stage items: %w", err)
	}
	recs := s.recs
	slices.SortStableFunc(recs, func(a, b stagedRecord) int { return bytes.Compare(a.digest[:], b.digest[:]) })
	recs = slices.CompactFunc(recs, func(a, b stagedRecord) bool { return a.digest == b.digest })

	type entry struct {
		k []byte
		d *pool.Digest
	}
	index := make([]entry, 0, len(recs))
	for i := range recs {
		r := &recs[i]
		for k := range s.keysOf(r) {
			index = append(index, entry{k, &r.digest})
		}
	}
	slices.SortFunc(index, func(a, b entry) int { return bytes.Compare(a.k, b.k) })
	for len(index) > 0 {
		n, _ := chunkLen(len(index), s.chunkBytes, func(i int) int { return len(index[i].k) + len(pool.Digest{}) })
		chunk := index[:n]
		index = index[n:]
		err := u.Update(ctx, func(tx *Tx) error {
			if err := tx.writable("stage items"); err != nil {
				return err
			}
			idx := tx.bucket(bucketChecksum)
			idx.FillPercent = stageFill
			for _, e := range chunk {
				if err := idx.Put(e.k, e.d[:]); err != nil {
					return fmt.Errorf("stage items: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}

	for len(recs) > 0 {
		n, size := chunkLen(len(recs), s.chunkBytes, func(i int) int { return recs[i].n })
		chunk := recs[:n]
		recs = recs[n:]
		buf := make([]byte, size) // bbolt keeps the values until commit
		datas := make([][]byte, len(chunk))
		for i, off := range chunk {
			d := buf[:off.n:off.n]
			buf = buf[off.n:]
			if _, err := s.f.ReadAt(d, off.off); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("stage items: reading the spool: %w", err)
			}
			datas[i] = d
		}
		err := u.Update(ctx, func(tx *Tx) error {
			if err := tx.writable("stage items"); err != nil {
				return err
			}
			items := tx.bucket(bucketItems)
			items.FillPercent = stageFill
			idx := tx.bucket(bucketChecksum)
			for i := range chunk {
				r := &chunk[i]
				_, replaced, err := tx.putRecord(items, r.digest, datas[i])
				if err != nil {
					return err
				}
				if !replaced {
					continue
				}
				// The old record's entries are gone, and with them any the
				// first transaction wrote under the same keys.
				for k := range s.keysOf(r) {
					if err := idx.Put(k, r.digest[:]); err != nil {
						return fmt.Errorf("stage items: %w", err)
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// chunkLen returns how many of the next l entries (entry i weighs size(i)
// bytes) go into one transaction of at most limit bytes, at least one, and
// their weight.
func chunkLen(l, limit int, size func(i int) int) (n, total int) {
	for n < l && (n == 0 || total+size(n) <= limit) {
		total += size(n)
		n++
	}
	return n, total
}

// reset empties the stage; the spool is truncated for reuse.
func (s *Stage) reset() {
	s.recs, s.keys = nil, nil
	s.w.Reset(s.f)
	if err := s.f.Truncate(0); err != nil && s.err == nil {
		s.err = fmt.Errorf("stage items: %w", err)
	}
	s.size = 0
}

// Close removes the spool. Staged items not committed are dropped.
func (s *Stage) Close() error {
	err := s.f.Close()
	if s.name != "" {
		if rerr := os.Remove(s.name); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	s.recs, s.keys = nil, nil
	if err != nil {
		return fmt.Errorf("stage items: %w", err)
	}
	return nil
}
