//go:build !linux

package pool

import "errors"

// syncFS is unsupported outside Linux: Batch.Flush falls back to fsyncing
// every file and directory.
func syncFS(string) error { return errors.ErrUnsupported }

// renameNoReplace always leaves the look-up to the caller outside Linux.
func renameNoReplace(string, string) (bool, error) { return false, nil }
