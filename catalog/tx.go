package catalog

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/chantal-lite/chantal/pool"
)

// A Tx is a catalog transaction, valid only inside the DB.View or DB.Update
// callback that received it. Methods that write fail with ErrReadOnly in a
// View. Callbacks passed to Walk* methods must not modify the catalog.
type Tx struct {
	tx *bolt.Tx
}

func (tx *Tx) bucket(name string) *bolt.Bucket { return tx.tx.Bucket([]byte(name)) }

func (tx *Tx) writable(op string) error {
	if !tx.tx.Writable() {
		return fmt.Errorf("%s: %w", op, ErrReadOnly)
	}
	return nil
}

func validName(kind, s string) error {
	if s == "" || strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s %q: empty or contains NUL: %w", kind, s, ErrInvalid)
	}
	return nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// Repo returns the repository with the given ID, or ErrNotFound.
func (tx *Tx) Repo(id string) (Repo, error) {
	v := tx.bucket(bucketRepos).Get([]byte(id))
	if v == nil {
		return Repo{}, fmt.Errorf("repo %q: %w", id, ErrNotFound)
	}
	var r Repo
	if err := json.Unmarshal(v, &r); err != nil {
		return Repo{}, fmt.Errorf("decode repo %q: %w: %w", id, ErrCorrupt, err)
	}
	return r, nil
}

// Repos returns all repositories sorted by ID.
func (tx *Tx) Repos() ([]Repo, error) {
	var out []Repo
	err := tx.bucket(bucketRepos).ForEach(func(k, v []byte) error {
		var r Repo
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode repo %q: %w: %w", k, ErrCorrupt, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// PutRepo creates or replaces a repository. It keeps the stored State (a
// new repository starts with the zero StateID) and ignores r.State: use
// SetRepoState to change what a repository holds.
func (tx *Tx) PutRepo(r Repo) error {
	if err := tx.writable("put repo"); err != nil {
		return err
	}
	if err := validName("repo", r.ID); err != nil {
		return err
	}
	r.State = StateID{}
	if old, err := tx.Repo(r.ID); err == nil {
		r.State = old.State
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	return tx.putRepo(&r)
}

func (tx *Tx) putRepo(r *Repo) error {
	if err := putJSON(tx.bucket(bucketRepos), []byte(r.ID), r); err != nil {
		return fmt.Errorf("put repo %q: %w", r.ID, err)
	}
	return nil
}

// DeleteRepo deletes a repository, releases its state and deletes its sync
// runs. It fails with ErrExists while the repository has snapshots and with
// ErrNotFound if it does not exist. Items are left for PruneItems.
func (tx *Tx) DeleteRepo(id string) error {
	if err := tx.writable("delete repo"); err != nil {
		return err
	}
	r, err := tx.Repo(id)
	if err != nil {
		return err
	}
	prefix := append([]byte(id), 0)
	if k, _ := tx.bucket(bucketSnaps).Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
		return fmt.Errorf("delete repo %q: it has snapshots: %w", id, ErrExists)
	}
	if err := tx.swapState(r.State, StateID{}, nil); err != nil {
		return fmt.Errorf("delete repo %q: %w", id, err)
	}
	runs := tx.bucket(bucketRuns)
	var keys [][]byte
	c := runs.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := runs.Delete(k); err != nil {
			return fmt.Errorf("delete repo %q: %w", id, err)
		}
	}
	return tx.bucket(bucketRepos).Delete([]byte(id))
}

// SetRepoState stores s and points repository id at it, releasing the
// state it held before. s need not be sorted and is not modified. Storage
// is content-addressed and chunked, so unchanged chunks are neither
// rewritten nor duplicated. It returns the new StateID; ErrNotFound if the
// repository does not exist, ErrInvalid if s has duplicate refs (same Path
// and Digest) or files (same Path).
func (tx *Tx) SetRepoState(id string, s *State) (StateID, error) {
	if err := tx.writable("set repo state"); err != nil {
		return StateID{}, err
	}
	r, err := tx.Repo(id)
	if err != nil {
		return StateID{}, err
	}
	if s == nil {
		s = &State{}
	}
	ss := s.sorted()
	if err := checkUnique(ss); err != nil {
		return StateID{}, fmt.Errorf("set repo state %q: %w", id, err)
	}
	newID, es := encodeState(ss)
	if newID == r.State {
		return newID, nil
	}
	if err := tx.swapState(r.State, newID, es); err != nil {
		return StateID{}, fmt.Errorf("set repo state %q: %w", id, err)
	}
	r.State = newID
	return newID, tx.putRepo(&r)
}

func checkUnique(s *State) error {
	for i := 1; i < len(s.Refs); i++ {
		if compareRefs(&s.Refs[i-1], &s.Refs[i]) == 0 {
			return fmt.Errorf("duplicate ref %s %s: %w", s.Refs[i].Path, s.Refs[i].Digest, ErrInvalid)
		}
	}
	for i := 1; i < len(s.Files); i++ {
		if s.Files[i-1].Path == s.Files[i].Path {
			return fmt.Errorf("duplicate file %s: %w", s.Files[i].Path, ErrInvalid)
		}
	}
	return nil
}

// Item returns the item with digest d, or ErrNotFound. The result is a copy.
func (tx *Tx) Item(d pool.Digest) (Item, error) {
	v := tx.bucket(bucketItems).Get(d[:])
	if v == nil {
		return Item{}, fmt.Errorf("item %s: %w", d, ErrNotFound)
	}
	return decodeItem(d, v)
}

// ItemHead returns the item with digest d without its Checksums, Fields and
// Fragments (nil): what identifies it, without decoding the bulk of it.
func (tx *Tx) ItemHead(d pool.Digest) (Item, error) {
	v := tx.bucket(bucketItems).Get(d[:])
	if v == nil {
		return Item{}, fmt.Errorf("item %s: %w", d, ErrNotFound)
	}
	return decodeItemHead(d, v)
}

// HasItem reports whether an item with digest d exists.
func (tx *Tx) HasItem(d pool.Digest) (bool, error) {
	return tx.bucket(bucketItems).Get(d[:]) != nil, nil
}

// indexKeys returns the checksum index keys a put writes for it: algo NUL
// hex for each checksum (both lower-cased) except the SHA-256 of the digest,
// which ItemByChecksum finds in the items bucket itself, and md5, which no
// download trusts (verify.Strongest). Random keys dirty a page each: an APT
// item now has one entry (sha1) where it had three, an RPM repository's
// sha256 items none.
func indexKeys(it *Item) [][]byte {
	keys := checksumKeys(it)[1:]
	out := keys[:0]
	for _, k := range keys {
		if !bytes.HasPrefix(k, []byte("md5\x00")) {
			out = append(out, k)
		}
	}
	return out
}

// checksumKeys returns every index key it may have: those of indexKeys
// plus sha256 of the digest, which catalogs written before indexKeys hold
// (unindexItem removes them too).
func checksumKeys(it *Item) [][]byte {
	keys := [][]byte{checksumKey("sha256", it.Digest.String())}
	for algo, sum := range it.Checksums {
		if algo == "" || sum == "" {
			continue
		}
		k := checksumKey(algo, sum)
		if !bytes.Equal(k, keys[0]) {
			keys = append(keys, k)
		}
	}
	return keys
}

func checksumKey(algo, sum string) []byte {
	k := make([]byte, 0, len(algo)+1+len(sum))
	k = append(k, strings.ToLower(algo)...)
	k = append(k, 0)
	return append(k, strings.ToLower(sum)...)
}

// PutItem creates or replaces the item with digest it.Digest and keeps the
// checksum index (every entry of it.Checksums plus sha256) up to date.
// Putting an unchanged item writes nothing.
func (tx *Tx) PutItem(it Item) error {
	if err := tx.writable("put item"); err != nil {
		return err
	}
	if it.Digest.IsZero() {
		return fmt.Errorf("put item: zero digest: %w", ErrInvalid)
	}
	wrote, _, err := tx.putRecord(tx.bucket(bucketItems), it.Digest, encodeItem(&it))
	if err != nil || !wrote {
		return err
	}
	idx := tx.bucket(bucketChecksum)
	for _, k := range indexKeys(&it) {
		if err := idx.Put(k, it.Digest[:]); err != nil {
			return fmt.Errorf("put item %s: %w", it.Digest, err)
		}
	}
	return nil
}

// PutItems creates or replaces many items, as PutItem does for each. It
// writes them in key order (and their checksum index entries in key order),
// so a large sync's single commit appends to bbolt's pages instead of
// shifting one huge in-memory page per insert.
func (tx *Tx) PutItems(items []Item) error {
	if err := tx.writable("put items"); err != nil {
		return err
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(items[a].Digest[:], items[b].Digest[:]) })
	type entry struct{ k, v []byte }
	var index []entry
	bucket := tx.bucket(bucketItems)
	for _, i := range order {
		it := &items[i]
		if it.Digest.IsZero() {
			return fmt.Errorf("put items: zero digest: %w", ErrInvalid)
		}
		wrote, _, err := tx.putRecord(bucket, it.Digest, encodeItem(it))
		if err != nil {
			return err
		}
		if wrote {
			for _, k := range indexKeys(it) {
				index = append(index, entry{k, it.Digest[:]})
			}
		}
	}
	slices.SortFunc(index, func(a, b entry) int { return bytes.Compare(a.k, b.k) })
	idx := tx.bucket(bucketChecksum)
	for _, e := range index {
		if err := idx.Put(e.k, e.v); err != nil {
			return fmt.Errorf("put items: %w", err)
		}
	}
	return nil
}

// putRecord stores data, an encoded item, as item d in bucket (the items
// bucket) unless the catalog holds exactly it. Replacing a different record
// logs the change and removes the old record's checksum index entries; the
// caller writes the new record's (wrote), which a new record has none of
// yet (replaced is false).
func (tx *Tx) putRecord(bucket *bolt.Bucket, d pool.Digest, data []byte) (wrote, replaced bool, err error) {
	old := bucket.Get(d[:])
	if bytes.Equal(old, data) {
		return false, false, nil // unchanged: dirty no pages
	}
	if old != nil {
		if err := tx.logItemChange(d); err != nil {
			return false, false, err
		}
		// A new item has no index entries: no second look-up.
		if err := tx.unindexItem(d); err != nil {
			return false, false, err
		}
	}
	if err := bucket.Put(d[:], data); err != nil {
		return false, false, fmt.Errorf("put item %s: %w", d, err)
	}
	return true, old != nil, nil
}

// unindexItem removes the checksum index entries of the stored item d
// that still point at d. A missing item is not an error.
func (tx *Tx) unindexItem(d pool.Digest) error {
	v := tx.bucket(bucketItems).Get(d[:])
	if v == nil {
		return nil
	}
	old, err := decodeItem(d, v)
	if err != nil {
		return err
	}
	idx := tx.bucket(bucketChecksum)
	for _, k := range checksumKeys(&old) {
		if bytes.Equal(idx.Get(k), d[:]) {
			if err := idx.Delete(k); err != nil {
				return fmt.Errorf("unindex item %s: %w", d, err)
			}
		}
	}
	return nil
}

// DeleteItem deletes the item with digest d and its checksum index
// entries, or returns ErrNotFound. It does not check whether a state still
// references d; PruneItems does.
func (tx *Tx) DeleteItem(d pool.Digest) error {
	if err := tx.writable("delete item"); err != nil {
		return err
	}
	if tx.bucket(bucketItems).Get(d[:]) == nil {
		return fmt.Errorf("delete item %s: %w", d, ErrNotFound)
	}
	if err := tx.logItemChange(d); err != nil {
		return err
	}
	if err := tx.unindexItem(d); err != nil {
		return err
	}
	return tx.bucket(bucketItems).Delete(d[:])
}

// ItemByChecksum returns the digest of the item whose checksum algo
// ("sha1", "sha256", "sha512", ...) is hexsum (case-insensitive), or
// ErrNotFound. md5 is not indexed (nothing trusts it). If several items
// share a checksum, the last put wins.
func (tx *Tx) ItemByChecksum(algo, hexsum string) (pool.Digest, error) {
	if strings.EqualFold(algo, "sha256") {
		if d, err := pool.Parse(strings.ToLower(hexsum)); err == nil && tx.bucket(bucketItems).Get(d[:]) != nil {
			return d, nil
		}
	}
	v := tx.bucket(bucketChecksum).Get(checksumKey(algo, hexsum))
	// An entry may outlive the write of its item that was interrupted (see
	// Stage.Commit): it finds nothing.
	if len(v) != len(pool.Digest{}) || tx.bucket(bucketItems).Get(v) == nil {
		return pool.Digest{}, fmt.Errorf("item with %s %s: %w", algo, hexsum, ErrNotFound)
	}
	return pool.Digest(v), nil
}

// WalkItems calls fn for every item in digest order. An error from fn stops
// the walk and is returned as is.
func (tx *Tx) WalkItems(fn func(Item) error) error {
	c := tx.bucket(bucketItems).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		it, err := decodeItem(pool.Digest(k), v)
		if err != nil {
			return err
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}

// PruneItems deletes every item that no live state (of a repository or a
// snapshot) references, and the checksum index entries that point at no
// item (an interrupted Stage.Commit leaves them), and returns how many items
// it deleted.
func (tx *Tx) PruneItems() (int, error) {
	if err := tx.writable("prune items"); err != nil {
		return 0, err
	}
	live := make(map[pool.Digest]struct{})
	if err := tx.LiveDigests(func(d pool.Digest) error {
		live[d] = struct{}{}
		return nil
	}); err != nil {
		return 0, err
	}
	var dead []pool.Digest
	c := tx.bucket(bucketItems).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if _, ok := live[pool.Digest(k)]; !ok {
			dead = append(dead, pool.Digest(k))
		}
	}
	for _, d := range dead {
		if err := tx.DeleteItem(d); err != nil {
			return 0, fmt.Errorf("prune items: %w", err)
		}
	}
	items, idx := tx.bucket(bucketItems), tx.bucket(bucketChecksum)
	var stale [][]byte
	if err := idx.ForEach(func(k, v []byte) error {
		if items.Get(v) == nil {
			stale = append(stale, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("prune items: %w", err)
	}
	for _, k := range stale {
		if err := idx.Delete(k); err != nil {
			return 0, fmt.Errorf("prune items: %w", err)
		}
	}
	return len(dead), nil
}

func snapKey(repo, name string) []byte {
	k := make([]byte, 0, len(repo)+1+len(name))
	k = append(k, repo...)
	k = append(k, 0)
	return append(k, name...)
}

// PutSnapshot creates a snapshot, taking a reference on s.State (the zero
// StateID means the empty state). It returns ErrExists if (Repo, Name) is
// taken and ErrNotFound if the repository or the state does not exist.
func (tx *Tx) PutSnapshot(s Snapshot) error {
	if err := tx.writable("put snapshot"); err != nil {
		return err
	}
	if err := validName("repo", s.Repo); err != nil {
		return err
	}
	if err := validName("snapshot", s.Name); err != nil {
		return err
	}
	if _, err := tx.Repo(s.Repo); err != nil {
		return fmt.Errorf("put snapshot %s/%s: %w", s.Repo, s.Name, err)
	}
	b := tx.bucket(bucketSnaps)
	key := snapKey(s.Repo, s.Name)
	if b.Get(key) != nil {
		return fmt.Errorf("put snapshot %s/%s: %w", s.Repo, s.Name, ErrExists)
	}
	if err := tx.swapState(StateID{}, s.State, nil); err != nil {
		return fmt.Errorf("put snapshot %s/%s: %w", s.Repo, s.Name, err)
	}
	return putJSON(b, key, &s)
}

// Snapshot returns the snapshot repo/name, or ErrNotFound.
func (tx *Tx) Snapshot(repo, name string) (Snapshot, error) {
	v := tx.bucket(bucketSnaps).Get(snapKey(repo, name))
	if v == nil {
		return Snapshot{}, fmt.Errorf("snapshot %s/%s: %w", repo, name, ErrNotFound)
	}
	var s Snapshot
	if err := json.Unmarshal(v, &s); err != nil {
		return Snapshot{}, fmt.Errorf("decode snapshot %s/%s: %w: %w", repo, name, ErrCorrupt, err)
	}
	return s, nil
}

// Snapshots returns the snapshots of repo, or of every repository when
// repo is "", sorted by repository and name.
func (tx *Tx) Snapshots(repo string) ([]Snapshot, error) {
	var prefix []byte
	if repo != "" {
		prefix = append([]byte(repo), 0)
	}
	var out []Snapshot
	c := tx.bucket(bucketSnaps).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var s Snapshot
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("decode snapshot %q: %w: %w", k, ErrCorrupt, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// DeleteSnapshot deletes the snapshot repo/name and releases its state, or
// returns ErrNotFound.
func (tx *Tx) DeleteSnapshot(repo, name string) error {
	if err := tx.writable("delete snapshot"); err != nil {
		return err
	}
	s, err := tx.Snapshot(repo, name)
	if err != nil {
		return err
	}
	if err := tx.swapState(s.State, StateID{}, nil); err != nil {
		return fmt.Errorf("delete snapshot %s/%s: %w", repo, name, err)
	}
	return tx.bucket(bucketSnaps).Delete(snapKey(repo, name))
}

func runKey(repo string, seq uint64) []byte {
	k := make([]byte, 0, len(repo)+9)
	k = append(k, repo...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// PutSyncRun stores r. When r.Seq is zero it assigns the next sequence
// number of r.Repo (1 for the first run) and sets r.Seq; otherwise it
// creates or replaces run r.Seq. The repository must exist (ErrNotFound).
func (tx *Tx) PutSyncRun(r *SyncRun) error {
	if err := tx.writable("put sync run"); err != nil {
		return err
	}
	if err := validName("repo", r.Repo); err != nil {
		return err
	}
	if _, err := tx.Repo(r.Repo); err != nil {
		return fmt.Errorf("put sync run: %w", err)
	}
	b := tx.bucket(bucketRuns)
	if r.Seq == 0 {
		r.Seq = 1
		if k, _ := seekLastRun(b.Cursor(), r.Repo); k != nil && len(k) == len(r.Repo)+9 {
			r.Seq = binary.BigEndian.Uint64(k[len(r.Repo)+1:]) + 1
		}
	}
	if err := putJSON(b, runKey(r.Repo, r.Seq), r); err != nil {
		return fmt.Errorf("put sync run %s/%d: %w", r.Repo, r.Seq, err)
	}
	return nil
}

// seekLastRun positions c at the last run of repo and returns it, or nil
// if repo has no runs. Run keys are repo NUL seq, so the next repo's keys
// start at or after repo 0x01.
func seekLastRun(c *bolt.Cursor, repo string) (k, v []byte) {
	k, _ = c.Seek(append([]byte(repo), 1))
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, append([]byte(repo), 0)) {
		return nil, nil
	}
	return k, v
}

// SyncRuns returns up to limit runs of repo, newest (highest Seq) first;
// limit <= 0 means all.
func (tx *Tx) SyncRuns(repo string, limit int) ([]SyncRun, error) {
	c := tx.bucket(bucketRuns).Cursor()
	prefix := append([]byte(repo), 0)
	k, v := seekLastRun(c, repo)
	var out []SyncRun
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		if limit > 0 && len(out) >= limit {
			break
		}
		var r SyncRun
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("decode sync run %q: %w: %w", k, ErrCorrupt, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Stats counts the catalog's records. It reads every item record's size,
// so it costs a pass over the items.
func (tx *Tx) Stats() (Stats, error) {
	st := Stats{
		Repos:     tx.bucket(bucketRepos).Stats().KeyN,
		Items:     tx.bucket(bucketItems).Stats().KeyN,
		Snapshots: tx.bucket(bucketSnaps).Stats().KeyN,
		States:    tx.bucket(bucketStateRC).Stats().KeyN,
		Chunks:    tx.bucket(bucketChunkRC).Stats().KeyN,
		SyncRuns:  tx.bucket(bucketRuns).Stats().KeyN,
		FileSize:  tx.tx.Size(),
	}
	c := tx.bucket(bucketItems).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		n, err := itemSize(v)
		if err != nil {
			return Stats{}, fmt.Errorf("decode item %x: %w", k, err)
		}
		st.ItemBytes += n
	}
	return st, nil
}
