package catalog

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/chantal-lite/chantal/pool"
)

// bucketItemLog records which items changed after they were first put, so
// caches keyed by item identity can tell (see ItemChanges): "id" → random
// bytes naming this log; 8-byte big-endian sequence → digest of an item
// replaced by different bytes or deleted. It is derived bookkeeping: export
// skips it, and a new log (new id) starts whenever it is missing.
const (
	bucketItemLog = "itemlog"
	itemLogID     = "id"
	// itemLogMax bounds the log; past it the log restarts under a new id.
	itemLogMax = 1 << 16
)

// logItemChange records that the stored item d is about to be replaced or
// deleted.
func (tx *Tx) logItemChange(d pool.Digest) error {
	b, err := tx.writeBucket("log item change", bucketItemLog)
	if err != nil {
		return err
	}
	if b.Get([]byte(itemLogID)) == nil || b.Sequence() >= itemLogMax {
		if err := tx.tx.DeleteBucket([]byte(bucketItemLog)); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return fmt.Errorf("log item change: %w", err)
		}
		if b, err = tx.writeBucket("log item change", bucketItemLog); err != nil {
			return err
		}
		id := make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			return fmt.Errorf("log item change: %w", err)
		}
		if err := b.Put([]byte(itemLogID), id); err != nil {
			return fmt.Errorf("log item change: %w", err)
		}
	}
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("log item change: %w", err)
	}
	return b.Put(binary.BigEndian.AppendUint64(nil, seq), d[:])
}

// ItemChanges returns the identity of the item change log and, for every
// item replaced or deleted since the log began, the sequence number of its
// last change. An item absent from changes has kept the bytes it was first
// put with (within this log), so (id, digest, change) identifies an item's
// content without reading it. id is empty when nothing has changed yet.
func (tx *Tx) ItemChanges() (id []byte, changes map[pool.Digest]uint64, err error) {
	changes = map[pool.Digest]uint64{}
	b := tx.tx.Bucket([]byte(bucketItemLog))
	if b == nil {
		return nil, changes, nil
	}
	id = bytes.Clone(b.Get([]byte(itemLogID)))
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			continue
		}
		if len(v) != len(pool.Digest{}) {
			return nil, nil, fmt.Errorf("item change log: %w", ErrCorrupt)
		}
		changes[pool.Digest(v)] = binary.BigEndian.Uint64(k)
	}
	return id, changes, nil
}
