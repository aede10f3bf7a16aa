//go:build linux

package pool

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS commits the whole file system holding dir to disk (syncfs(2)):
// since Linux 5.8 it also reports writeback errors of files synced this way.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close() // read-only
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = unix.Syncfs(int(fd)); serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "syncfs", Path: dir, Err: serr}
	}
	return nil
}

// renameNoReplace renames src to dst unless dst exists (renameat2 with
// RENAME_NOREPLACE): one system call where a look-up and a rename were two.
// It reports false, and leaves src, when dst exists or the file system does
// not support the flag; the caller then looks at dst itself.
func renameNoReplace(src, dst string) (bool, error) {
	for {
		err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
		switch err {
		case nil:
			return true, nil
		case unix.EINTR:
			continue
		case unix.EEXIST, unix.EINVAL, unix.ENOSYS, unix.ENOTSUP:
			return false, nil
		}
		return false, &os.LinkError{Op: "renameat2", Old: src, New: dst, Err: err}
	}
}

// createExcl creates name for reading and writing, failing if it exists.
// os.OpenFile would also try to register the descriptor with the runtime's
// poller, which a regular file refuses: four fcntl and a failed epoll_ctl
// for every file, a sixth of the system calls a small download makes.
func createExcl(name string, perm uint32) (*os.File, error) {
	for {
		fd, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, perm)
		switch err {
		case nil:
			return os.NewFile(uintptr(fd), name), nil
		case unix.EINTR:
			continue
		}
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
}
