//go:build linux

package publish

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing f's dirty pages now
// (sync_file_range(2), SYNC_FILE_RANGE_WRITE, which does not wait), so the
// fsync that follows later finds less to wait for. It guarantees nothing by
// itself; errors are left to that fsync.
func startWriteback(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.SyncFileRange(int(fd), 0, 0, unix.SYNC_FILE_RANGE_WRITE) // advisory; fsync reports errors
	})
}

// syncFS commits the whole file system holding dir (syncfs(2); since Linux
// 5.8 it also reports writeback errors). ok is always true here.
func syncFS(dir string) (ok bool, err error) {
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
