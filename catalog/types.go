package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chantal-lite/chantal/pool"
)

// A Repo is one configured repository and the state it currently holds.
// The catalog does not interpret Format, Mode or Feed.
type Repo struct {
	ID     string // [A-Za-z0-9._-]+ by convention; must be non-empty and free of NUL
	Format string // "rpm", "apt", "helm", ...
	Mode   string // "mirror", "filtered", "hosted"
	Feed   string // upstream URL
	// State is the repository's current state. It is maintained by
	// Tx.SetRepoState only; Tx.PutRepo ignores it.
	State   StateID
	Meta    map[string]string
	Created time.Time
	Updated time.Time
}

// An Item is one payload file (an .rpm, a .deb, a chart .tgz) and what is
// needed to publish it again. Items are keyed by Digest.
type Item struct {
	Digest pool.Digest
	Size   int64
	Format string
	Name   string
	// Version and Arch are filterable fields common to most formats.
	Version string
	Arch    string
	// Checksums maps an algorithm ("sha1", "sha512", "md5", ...) to the
	// lower-case hex checksum published upstream. Each entry but md5 is
	// found by Tx.ItemByChecksum, as is "sha256" (the Digest itself, looked
	// up in the items; other entries have an index).
	Checksums map[string]string
	// Fields holds other format-specific, filterable metadata.
	Fields map[string]string
	// Fragments holds the format's native metadata kept verbatim, for
	// example the RPM <package> element or the deb control stanza.
	Fragments map[string][]byte
}

// A Ref is a state's reference to an item. Within a state, refs are unique
// and sorted by (Path, Digest). Empty Attrs are stored and returned as nil.
type Ref struct {
	Path   string // where the item is published, relative to the repository root
	Digest pool.Digest
	Attrs  map[string]string // per-link attributes such as an APT component
}

// A File is a repository-level file (comps.xml, modules.yaml, InRelease ...).
// Within a state, files are unique and sorted by Path. Empty Checksums are
// stored and returned as nil.
type File struct {
	Path      string
	Digest    pool.Digest
	Size      int64
	Kind      string
	Checksums map[string]string
}

// A State is what a repository or snapshot holds: its refs and files.
type State struct {
	Refs  []Ref
	Files []File
}

// A StateID identifies a State by content: the SHA-256 of its canonical
// encoding. The zero StateID means "no state" and reads as the empty state.
type StateID [sha256.Size]byte

// String returns the lower-case hex form of id.
func (id StateID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero value.
func (id StateID) IsZero() bool { return id == StateID{} }

// MarshalText implements encoding.TextMarshaler (lower-case hex).
func (id StateID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts what
// ParseStateID accepts.
func (id *StateID) UnmarshalText(b []byte) error {
	p, err := ParseStateID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseStateID parses the 64-digit hex form produced by StateID.String.
func ParseStateID(s string) (StateID, error) {
	var id StateID
	if len(s) != hex.EncodedLen(len(id)) {
		return StateID{}, fmt.Errorf("catalog: parsing state id %q: want %d hex digits", s, hex.EncodedLen(len(id)))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return StateID{}, fmt.Errorf("catalog: parsing state id %q: %w", s, err)
	}
	return id, nil
}

// A Snapshot is a named, frozen state of a repository.
type Snapshot struct {
	Repo        string
	Name        string
	State       StateID
	Created     time.Time
	Description string
	// StateTime is when the frozen state last changed in its repository;
	// metadata published from the snapshot carries it, so publishing the
	// snapshot later gives the same bytes. Zero for snapshots made before
	// the field existed.
	StateTime time.Time `json:",omitzero"`
}

// A SyncRun records one sync of a repository.
type SyncRun struct {
	Repo     string
	Seq      uint64 // assigned by Tx.PutSyncRun, increasing per repository
	Started  time.Time
	Finished time.Time
	Status   string
	DryRun   bool
	Added    int
	Removed  int
	Updated  int
	Bytes    int64
	Errors   []string
}

// Stats counts the records in a catalog.
type Stats struct {
	Repos     int
	Items     int
	Snapshots int
	States    int // distinct stored states
	Chunks    int // distinct stored ref chunks
	SyncRuns  int
	ItemBytes int64 // sum of Item.Size
	FileSize  int64 // size of the database file as seen by the transaction
}

func compareRefs(a, b *Ref) int {
	if c := strings.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	return bytes.Compare(a.Digest[:], b.Digest[:])
}

func compareRefValues(a, b Ref) int { return compareRefs(&a, &b) }

func compareFiles(a, b File) int { return strings.Compare(a.Path, b.Path) }

// Sort puts s into canonical order: refs by (Path, Digest), files by Path.
func (s *State) Sort() {
	slices.SortFunc(s.Refs, compareRefValues)
	slices.SortFunc(s.Files, compareFiles)
}

// sorted returns s if it is already in canonical order, else a sorted
// shallow copy; s itself is never modified.
func (s *State) sorted() *State {
	if slices.IsSortedFunc(s.Refs, compareRefValues) && slices.IsSortedFunc(s.Files, compareFiles) {
		return s
	}
	c := &State{Refs: slices.Clone(s.Refs), Files: slices.Clone(s.Files)}
	c.Sort()
	return c
}

// ID returns the state's content address. The order of Refs and Files in s
// does not matter (a sorted copy is used when needed); the empty state has
// a fixed, non-zero ID. Two states are equal exactly when their IDs are.
func (s *State) ID() StateID {
	id, _ := encodeState(s.sorted())
	return id
}
