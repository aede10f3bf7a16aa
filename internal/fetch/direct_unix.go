//go:build unix

package fetch

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// connBroken reports whether the idle connection c has become unusable: the
// server closed it, or sent bytes no request asked for. It peeks without
// blocking; a connection it cannot inspect counts as usable (a failure
// before the response then sends the request again on another one).
func connBroken(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	broken := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		// Data, end of stream or any error but "nothing yet" all make the
		// connection unusable.
		broken = err == nil || !errors.Is(err, unix.EAGAIN)
		return true
	})
	return broken || err != nil
}
