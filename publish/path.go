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

// topName returns the first element of a checked path.
func topName(p string) string {
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return p
}
