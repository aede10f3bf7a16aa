package apt

import (
	"strconv"
	"strings"

	"pault.ag/go/debian/version"
)

// Compare implements formats.Comparer with dpkg's version order: epoch, then
// upstream version, then revision, each by dpkg's verrevcmp ("~" sorts before
// everything, even the end of the string; letters before other characters).
// Malformed versions are compared leniently instead of failing: a
// non-numeric epoch counts as 0.
func (f *Format) Compare(a, b string) int {
	return CompareVersions(a, b)
}

// CompareVersions compares two Debian versions as dpkg --compare-versions
// does: negative when a < b, zero when equal, positive when a > b.
func CompareVersions(a, b string) int {
	c := version.Compare(split(a), split(b))
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// split divides a version into epoch, upstream version and revision the way
// dpkg's parseversion does, without rejecting anything.
func split(s string) version.Version {
	s = strings.TrimSpace(s)
	var v version.Version
	if i := strings.IndexByte(s, ':'); i >= 0 {
		if e, err := strconv.ParseUint(s[:i], 10, 31); err == nil {
			v.Epoch = uint(e)
		}
		s = s[i+1:]
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		v.Version, v.Revision = s[:i], s[i+1:]
	} else {
		v.Version = s
	}
	return v
}
