package publish

import (
	"errors"
	"fmt"
)

// ErrBusy is returned by Publish, Rollback and Unpublish when another one of
// them, in this process or another, holds the target's lock
// (<target>/.versions/.lock). Nothing was changed; try again later.
var ErrBusy = errors.New("publish: target is locked by another publish, rollback or unpublish")

// ErrNoPrevious is returned by Rollback when the target keeps no version older
// than the current one.
var ErrNoPrevious = errors.New("publish: no previous version to roll back to")

// ErrNotPublished is returned by Rollback, Unpublish and Versions when the
// target holds no tree written by Publish.
var ErrNotPublished = errors.New("publish: target holds no published tree")

// ErrInvalidPath is wrapped by a PathError for an Item.Path, a rendered path
// or a manifest entry that would escape the target or collide with the
// directories publish keeps for itself.
var ErrInvalidPath = errors.New("invalid path")

// ErrConflict is wrapped by a PathError when a path publish must write is
// occupied by something publish did not create (a real file or directory
// where a metadata symlink goes, a symlink where a payload directory goes, a
// payload directory that equals a rendered top-level name).
var ErrConflict = errors.New("path is occupied by something publish did not create")

// A PathError reports a path that publish refuses to write. Err is
// ErrInvalidPath or ErrConflict.
type PathError struct {
	Path   string // relative to the target, slash-separated
	Reason string // what is wrong, in a few words
	Err    error
}

func (e *PathError) Error() string {
	return fmt.Sprintf("publish: path %q: %s: %v", e.Path, e.Reason, e.Err)
}

// Unwrap returns e.Err.
func (e *PathError) Unwrap() error { return e.Err }
