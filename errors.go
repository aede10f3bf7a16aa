package chantal

import "errors"

var (
	// ErrUnknownRepo is returned for a repository id the configuration does not name.
	ErrUnknownRepo = errors.New("unknown repository")
	// ErrBusy is returned when another process holds the lock of a repository,
	// a publish target or the pool.
	ErrBusy = errors.New("busy")
	// ErrPartial is wrapped by SyncResult.Err when some items failed and the
	// rest were synced.
	ErrPartial = errors.New("partial sync")
	// ErrVerify is returned when upstream metadata fails signature verification.
	ErrVerify = errors.New("verification failed")
)

// A RepoError reports which operation on which repository failed.
type RepoError struct {
	Op, Repo string
	Err      error
}

func (e *RepoError) Error() string { return e.Op + " " + e.Repo + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *RepoError) Unwrap() error { return e.Err }

// An ItemError reports one payload that failed during a sync.
type ItemError struct {
	Path string
	Err  error
}

func (e *ItemError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ItemError) Unwrap() error { return e.Err }
