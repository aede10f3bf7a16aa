//go:build !linux

package pool

import (
	"errors"
	"io/fs"
	"os"
)

// syncFS is unsupported outside Linux: Batch.Flush falls back to fsyncing
// every file and directory.
func syncFS(string) error { return errors.ErrUnsupported }

// renameNoReplace always leaves the look-up to the caller outside Linux.
func renameNoReplace(string, string) (bool, error) { return false, nil }

// createExcl creates name for reading and writing, failing if it exists.
func createExcl(name string, perm uint32) (*os.File, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, fs.FileMode(perm))
}
