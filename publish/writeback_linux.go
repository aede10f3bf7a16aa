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
