package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Buckets of view snapshots and publications. They are created by the first
// write that needs them, so catalogs made before they existed need no
// migration; a read of a missing bucket sees no records.
const (
	bucketViewSnaps    = "viewsnapshots" // view NUL name → ViewSnapshot JSON
	bucketPublications = "publications"  // target → Publication JSON
)

// A ViewMember is one frozen member of a view snapshot: a repository's state
// (Snapshot empty) or a snapshot's, at the time the view snapshot was made.
type ViewMember struct {
	Repo     string
	Snapshot string `json:",omitempty"`
	// State is the member's state; the view snapshot holds a reference on
	// it, so the state (and every item it names) outlives the repository
	// moving on or the snapshot being deleted.
	State StateID
	// StateTime is when State last changed in its repository.
	StateTime time.Time `json:",omitzero"`
}

// A ViewSnapshot freezes every member of a view at once.
type ViewSnapshot struct {
	View        string
	Name        string
	Format      string
	Members     []ViewMember // in the view's configuration order
	Created     time.Time
	Description string `json:",omitempty"`
}

// A Publication records what is published at one target directory.
type Publication struct {
	Target string // absolute directory
	Kind   string // "repo", "snapshot", "view" or "view-snapshot"
	Name   string // REPO, REPO/NAME, VIEW or VIEW/NAME
	Format string
	// Versions are the kept published versions, newest (current) first.
	Versions []PublishedVersion
}

// A PublishedVersion is one published metadata version of a target.
type PublishedVersion struct {
	Version string // the publish package's version id
	// State is the published state; for views, the combined identity of
	// the members' states (see Members).
	State     StateID
	Members   []ViewMember `json:",omitempty"`
	Published time.Time    // when the publish ran
	StateTime time.Time    `json:",omitzero"` // the time written into the metadata
}

func (tx *Tx) writeBucket(op, name string) (*bolt.Bucket, error) {
	if err := tx.writable(op); err != nil {
		return nil, err
	}
	b, err := tx.tx.CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return b, nil
}

// PutViewSnapshot creates a view snapshot, taking a reference on every
// member's state. It returns ErrExists if (View, Name) is taken, ErrInvalid
// for empty names or no members, and ErrNotFound if a member state is not
// stored.
func (tx *Tx) PutViewSnapshot(vs ViewSnapshot) error {
	b, err := tx.writeBucket("put view snapshot", bucketViewSnaps)
	if err != nil {
		return err
	}
	if err := validName("view", vs.View); err != nil {
		return err
	}
	if err := validName("view snapshot", vs.Name); err != nil {
		return err
	}
	if len(vs.Members) == 0 {
		return fmt.Errorf("put view snapshot %s/%s: no members: %w", vs.View, vs.Name, ErrInvalid)
	}
	key := snapKey(vs.View, vs.Name)
	if b.Get(key) != nil {
		return fmt.Errorf("put view snapshot %s/%s: %w", vs.View, vs.Name, ErrExists)
	}
	for _, m := range vs.Members {
		if err := tx.swapState(StateID{}, m.State, nil); err != nil {
			return fmt.Errorf("put view snapshot %s/%s: member %s: %w", vs.View, vs.Name, m.Repo, err)
		}
	}
	return putJSON(b, key, &vs)
}

// ViewSnapshot returns the view snapshot view/name, or ErrNotFound.
func (tx *Tx) ViewSnapshot(view, name string) (ViewSnapshot, error) {
	var v []byte
	if b := tx.bucket(bucketViewSnaps); b != nil {
		v = b.Get(snapKey(view, name))
	}
	if v == nil {
		return ViewSnapshot{}, fmt.Errorf("view snapshot %s/%s: %w", view, name, ErrNotFound)
	}
	var vs ViewSnapshot
	if err := json.Unmarshal(v, &vs); err != nil {
		return ViewSnapshot{}, fmt.Errorf("decode view snapshot %s/%s: %w: %w", view, name, ErrCorrupt, err)
	}
	return vs, nil
}

// ViewSnapshots returns the snapshots of view, or of every view when view
// is "", sorted by view and name.
func (tx *Tx) ViewSnapshots(view string) ([]ViewSnapshot, error) {
	b := tx.bucket(bucketViewSnaps)
	if b == nil {
		return nil, nil
	}
	var prefix []byte
	if view != "" {
		prefix = append([]byte(view), 0)
	}
	var out []ViewSnapshot
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var vs ViewSnapshot
		if err := json.Unmarshal(v, &vs); err != nil {
			return nil, fmt.Errorf("decode view snapshot %q: %w: %w", k, ErrCorrupt, err)
		}
		out = append(out, vs)
	}
	return out, nil
}

// DeleteViewSnapshot deletes the view snapshot view/name and releases its
// members' states, or returns ErrNotFound.
func (tx *Tx) DeleteViewSnapshot(view, name string) error {
	b, err := tx.writeBucket("delete view snapshot", bucketViewSnaps)
	if err != nil {
		return err
	}
	vs, err := tx.ViewSnapshot(view, name)
	if err != nil {
		return err
	}
	for _, m := range vs.Members {
		if err := tx.swapState(m.State, StateID{}, nil); err != nil {
			return fmt.Errorf("delete view snapshot %s/%s: %w", view, name, err)
		}
	}
	return b.Delete(snapKey(view, name))
}

// PutPublication creates or replaces the record of p.Target.
func (tx *Tx) PutPublication(p Publication) error {
	b, err := tx.writeBucket("put publication", bucketPublications)
	if err != nil {
		return err
	}
	if err := validName("publication target", p.Target); err != nil {
		return err
	}
	return putJSON(b, []byte(p.Target), &p)
}

// Publication returns the record of target, or ErrNotFound.
func (tx *Tx) Publication(target string) (Publication, error) {
	var v []byte
	if b := tx.bucket(bucketPublications); b != nil {
		v = b.Get([]byte(target))
	}
	if v == nil {
		return Publication{}, fmt.Errorf("publication %s: %w", target, ErrNotFound)
	}
	var p Publication
	if err := json.Unmarshal(v, &p); err != nil {
		return Publication{}, fmt.Errorf("decode publication %s: %w: %w", target, ErrCorrupt, err)
	}
	return p, nil
}

// Publications returns every publication record sorted by target.
func (tx *Tx) Publications() ([]Publication, error) {
	b := tx.bucket(bucketPublications)
	if b == nil {
		return nil, nil
	}
	var out []Publication
	err := b.ForEach(func(k, v []byte) error {
		var p Publication
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("decode publication %q: %w: %w", k, ErrCorrupt, err)
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// DeletePublication deletes the record of target, or returns ErrNotFound.
func (tx *Tx) DeletePublication(target string) error {
	b, err := tx.writeBucket("delete publication", bucketPublications)
	if err != nil {
		return err
	}
	if b.Get([]byte(target)) == nil {
		return fmt.Errorf("publication %s: %w", target, ErrNotFound)
	}
	return b.Delete([]byte(target))
}

// StateFiles returns the repo-level files of state id, sorted by path,
// without reading its refs. The zero ID and the empty state's ID return
// none; an unknown ID ErrNotFound.
func (tx *Tx) StateFiles(id StateID) ([]File, error) {
	rec, err := tx.stateRecord(id)
	if err != nil {
		return nil, err
	}
	return rec.files, nil
}

// StateLen returns the number of refs of state id without reading them.
func (tx *Tx) StateLen(id StateID) (int, error) {
	rec, err := tx.stateRecord(id)
	if err != nil {
		return 0, err
	}
	return rec.nrefs, nil
}
