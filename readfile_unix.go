//go:build unix

package chantal

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// readSmallFile reads a whole regular file of at most max bytes, into
// alloc(size) with plain
// system calls: the render cache reads hundreds of small entries per
// publish, and os.Open's poller registration costs more than the read.
func readSmallFile(path string, max int64, alloc func(n int) []byte) ([]byte, time.Time, error) {
	var st unix.Stat_t
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, time.Time{}, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size > max {
		return nil, time.Time{}, errors.New("not a small regular file")
	}
	b := alloc(int(st.Size))
	for off := 0; off < len(b); {
		n, err := unix.Pread(fd, b[off:], int64(off))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, time.Time{}, err
		}
		if n == 0 {
			return nil, time.Time{}, errors.New("file shrank while read")
		}
		off += n
	}
	return b, time.Unix(st.Mtim.Unix()), nil
}
