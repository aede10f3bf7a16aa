package catalog

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound is returned by Tx.Repo, Tx.Item, Tx.ItemByChecksum,
	// Tx.Snapshot, Tx.State and the methods that need an existing record
	// (SetRepoState, DeleteRepo, DeleteSnapshot, DeleteItem, PutSnapshot)
	// when the record does not exist.
	ErrNotFound = errors.New("catalog: not found")

	// ErrExists is returned by PutSnapshot when the snapshot name is taken
	// and by DeleteRepo when the repository still has snapshots.
	ErrExists = errors.New("catalog: already exists")

	// ErrLocked is returned by Open when another process holds the database
	// lock for longer than Options.Timeout.
	ErrLocked = errors.New("catalog: database is locked")

	// ErrSchema is returned by Open (wrapped in a *SchemaError) when the
	// file's schema version cannot be used by this build.
	ErrSchema = errors.New("catalog: unsupported schema version")

	// ErrReadOnly is returned by DB.Update on a database opened with
	// Options.ReadOnly and by every writing Tx method inside DB.View.
	ErrReadOnly = errors.New("catalog: read-only")

	// ErrInvalid is returned by the Put and Set methods for records that
	// cannot be stored: an empty or malformed ID, or a state with duplicate
	// refs or files.
	ErrInvalid = errors.New("catalog: invalid record")

	// ErrCorrupt is returned when a stored record cannot be decoded.
	ErrCorrupt = errors.New("catalog: corrupt record")
)

// A SchemaError reports a database whose schema version this build cannot
// use: newer than supported, or older without a migration path (or opened
// read-only, so it cannot be migrated). It wraps ErrSchema.
type SchemaError struct {
	Path string
	Have int // version stored in the file
	Want int // version this build uses
	// Reason is a short explanation, for example "file is newer than this build".
	Reason string
}

// Error describes the versions and the reason.
func (e *SchemaError) Error() string {
	return fmt.Sprintf("catalog: %s has schema version %d, this build uses %d: %s", e.Path, e.Have, e.Want, e.Reason)
}

// Unwrap returns ErrSchema.
func (e *SchemaError) Unwrap() error { return ErrSchema }
