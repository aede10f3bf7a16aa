package fetch

import (
	"fmt"
	"path"
	"strings"
)

// cleanPath confines an upstream-relative path: it must be non-empty, relative,
// free of "..", backslashes, NUL and other control characters, and is returned
// in path.Clean form.
func cleanPath(p string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w %q: %s", ErrPath, clip(p), why)
	}
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
