package publish

import (
	"io/fs"
	"strings"
)

// versionsDir is the directory inside the target that holds the metadata
// versions, their manifests, the state and the lock.
const versionsDir = ".versions"

// treeinfoName is the one top-level file name starting with a dot that may be
// published: the description of an RPM installer tree (kickstart, PXE), which
// installers fetch from the tree root. ("treeinfo", its older spelling, needs
// no exception.)
const treeinfoName = ".treeinfo"

// checkPath reports whether p may be written below the target: a clean,
// relative, slash-separated path with no "." or ".." element, no backslash,
// NUL or other control character, and a first element that does not start
// with a dot (the target's dot-names are publish's own: .versions,
// .<name>.new), except the file .treeinfo itself.
func checkPath(p string) error {
	if plainPath(p) {
		return nil
	}
	bad := func(reason string) error {
		return &PathError{Path: p, Reason: reason, Err: ErrInvalidPath}
	}
	switch {
	case p == "":
		return bad("empty")
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return bad("contains NUL or another control character")
	case strings.ContainsRune(p, '\\'):
		return bad("contains a backslash")
	case strings.HasPrefix(p, "/"):
		return bad("absolute")
	case !fs.ValidPath(p) || p == ".":
		return bad("not a clean relative path")
	case strings.HasPrefix(p, ".") && p != treeinfoName:
		// Covers .versions and every other leading dot element; an RPM
		// installer tree's .treeinfo file is the one exception.
		return bad("first element starts with a dot")
	}
	return nil
}

// plainPath reports, in one pass over the bytes, whether p is a path
// checkPath accepts without a closer look: printable ASCII without a
// backslash, a first byte other than '/' and '.', and no empty, "." or ".."
// element. Every other path takes checkPath's slow way, which says why it is
// refused (or accepts it: .treeinfo, names with UTF-8). Manifests and item
// lists check tens of thousands of paths per publish.
func plainPath(p string) bool {
	if p == "" || p[0] == '/' || p[0] == '.' {
		return false
	}
	start := 0 // of the current element
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < 0x20 || c >= 0x7f || c == '\\':
			return false
		case c == '/':
			if i == start {
				return false // empty element
			}
			start = i + 1
		case c == '.' && i == start:
			// "." or ".." element
			if i+1 == len(p) || p[i+1] == '/' || p[i+1] == '.' && (i+2 == len(p) || p[i+2] == '/') {
				return false
			}
		}
	}
	return start < len(p) // no trailing slash
}

// topName returns the first element of a checked path.
func topName(p string) string {
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return p
}
