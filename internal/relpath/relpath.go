// Package relpath confines paths that come from upstream metadata to the
// repository root before they reach a URL or the file system.
package relpath

import (
	"fmt"
	"path"
	"strings"
)

// An Error says why a path was refused.
type Error struct {
	Path   string // clipped to 80 bytes
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("path %q: %s", e.Path, e.Reason) }

// Clean returns p in path.Clean form if it is a non-empty relative path free
// of "..", backslashes, NUL and other control characters that does not name
// the root itself; otherwise an *Error.
func Clean(p string) (string, error) {
	bad := func(why string) (string, error) { return "", &Error{Path: clip(p), Reason: why} }
	switch {
	case p == "":
		return bad("empty")
	case strings.HasPrefix(p, "/"):
		return bad("absolute")
	case strings.ContainsRune(p, '\\'):
		return bad("backslash")
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return bad("control character")
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return bad("parent directory")
		}
	}
	c := path.Clean(p)
	if c == "." {
		return bad("names the root")
	}
	return c, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
