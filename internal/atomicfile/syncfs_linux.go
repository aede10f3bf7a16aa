//go:build linux

package atomicfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// SyncFS commits the whole file system holding dir (syncfs(2); since Linux
// 5.8 it also reports writeback errors) and reports true. Where the call is
// missing it does nothing and reports false: the caller fsyncs what it
// changed one by one.
func SyncFS(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return true, err
	}
	defer f.Close() // read-only
	rc, err := f.SyscallConn()
	if err != nil {
		return true, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = unix.Syncfs(int(fd)); serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return true, err
	}
	if serr != nil {
		return true, &os.PathError{Op: "syncfs", Path: dir, Err: serr}
	}
	return true, nil
}
