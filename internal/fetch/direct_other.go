//go:build !unix

package fetch

import "net"

// connBroken cannot look without blocking here: a connection the server
// closed while idle is noticed when the request sent on it fails.
func connBroken(net.Conn) bool { return false }
