package rpm

import "strings"

// Vercmp compares two rpm version or release strings exactly as rpm's
// rpmvercmp does (rpm 4.18, lib/rpmvercmp.c): both strings are split into
// segments of ASCII digits or ASCII letters, and anything else separates
// segments. A "~" sorts before everything, even the end of the string
// ("1.0~rc1" < "1.0"); a "^" sorts after the end of the string but before any
// further segment ("1.0" < "1.0^git1" < "1.0.1"). A numeric segment is newer
// than an alphabetic one; numbers compare without leading zeros, longer
// numbers winning; letters compare bytewise. Like the C function, a string
// ends at its first NUL byte. The result is -1, 0 or +1.
func Vercmp(a, b string) int {
	a, b = cstr(a), cstr(b)
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isSegStart(a[i]) {
			i++
		}
		for j < len(b) && !isSegStart(b[j]) {
			j++
		}
		ca, cb := at(a, i), at(b, j)
		if ca == '~' || cb == '~' {
			if ca != '~' {
				return 1
			}
			if cb != '~' {
				return -1
			}
			i++
			j++
			continue
		}
		if ca == '^' || cb == '^' {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if ca != '^' {
				return 1
			}
			if cb != '^' {
				return -1
			}
			i++
			j++
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		ei, ej := i, j
		isnum := isDigit(a[i])
		if isnum {
			for ei < len(a) && isDigit(a[ei]) {
				ei++
			}
			for ej < len(b) && isDigit(b[ej]) {
				ej++
			}
		} else {
			for ei < len(a) && isAlpha(a[ei]) {
				ei++
			}
			for ej < len(b) && isAlpha(b[ej]) {
				ej++
			}
		}
		if ej == j {
			// b's segment is of the other kind: numeric beats alphabetic.
			if isnum {
				return 1
			}
			return -1
		}
		sa, sb := a[i:ei], b[j:ej]
		if isnum {
			sa = strings.TrimLeft(sa, "0")
			sb = strings.TrimLeft(sb, "0")
			if len(sa) != len(sb) {
				if len(sa) > len(sb) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
		i, j = ei, ej
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	default:
		return 1
	}
}

// EVR is an rpm epoch, version and release.
type EVR struct {
	// Epoch is the epoch as written; "" means none (compared as "0").
	Epoch   string
	Version string
	// Release is "" when the string had none.
	Release string
}

// ParseEVR splits "[E:]V[-R]" the way rpm's parseEVR does: the epoch is a run
// of leading digits followed by ":", and the release follows the last "-".
// It never fails; a string without a recognisable epoch is all version.
func ParseEVR(s string) EVR {
	s = cstr(s)
	var e EVR
	k := 0
	for k < len(s) && isDigit(s[k]) {
		k++
	}
	rest := s
	if k < len(s) && s[k] == ':' {
		e.Epoch = s[:k]
		rest = s[k+1:]
	}
	// rpm looks for the last "-" after the leading digits; none can come
	// before them, so the last "-" of rest is that one.
	if d := strings.LastIndexByte(rest, '-'); d >= 0 {
		e.Version, e.Release = rest[:d], rest[d+1:]
	} else {
		e.Version = rest
	}
	return e
}

// String formats e as "[E:]V[-R]", leaving out an empty or zero epoch and an
// empty release.
func (e EVR) String() string {
	var b strings.Builder
	if strings.TrimLeft(e.Epoch, "0") != "" {
		b.WriteString(e.Epoch)
		b.WriteByte(':')
	}
	b.WriteString(e.Version)
	if e.Release != "" {
		b.WriteByte('-')
		b.WriteString(e.Release)
	}
	return b.String()
}

// CompareEVR orders two "[E:]V[-R]" strings as rpm 4.18's rpmverCmp does (and
// as rpm.vercmp in rpm's Lua interpreter does): epochs first (missing = "0"),
// then versions, then releases, each with Vercmp; a missing release compares
// as the empty string, so "1.0-1" is newer than "1.0".
func CompareEVR(a, b string) int {
	x, y := ParseEVR(a), ParseEVR(b)
	if c := Vercmp(orZero(x.Epoch), orZero(y.Epoch)); c != 0 {
		return c
	}
	if c := Vercmp(x.Version, y.Version); c != 0 {
		return c
	}
	return Vercmp(x.Release, y.Release)
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func cstr(s string) string {
	if k := strings.IndexByte(s, 0); k >= 0 {
		return s[:k]
	}
	return s
}

func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isSegStart(c byte) bool {
	return isDigit(c) || isAlpha(c) || c == '~' || c == '^'
}
