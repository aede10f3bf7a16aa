// Package atomicfile holds the small durability helpers the stores share.
package atomicfile

import "os"

// Sync fsyncs the file or directory at path. Syncing a directory makes the
// entries created, renamed or removed in it durable.
func Sync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
