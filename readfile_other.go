//go:build !unix

package chantal

import (
	"errors"
	"io"
	"os"
	"time"
)

// readSmallFile reads a whole regular file of at most max bytes, into
// alloc(size).
func readSmallFile(path string, max int64, alloc func(n int) []byte) ([]byte, time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > max {
		return nil, time.Time{}, errors.New("not a small regular file")
	}
	b := alloc(int(fi.Size()))
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, time.Time{}, err
	}
	return b, fi.ModTime(), nil
}
