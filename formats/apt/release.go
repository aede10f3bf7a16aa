package apt

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chantal-lite/chantal/internal/relpath"
)

// Release is a parsed Release (or the verified payload of an InRelease).
type Release struct {
	Origin, Label, Suite, Codename, Version string
	Date, ValidUntil                        time.Time
	Architectures, Components               []string
	AcquireByHash                           bool
	// Files maps a path relative to the Release's directory to what the
	// checksum blocks say about it.
	Files map[string]*IndexFile
}

// IndexFile is one path listed in a Release's checksum blocks.
type IndexFile struct {
	Path string
	Size int64
	// Sums maps "md5", "sha1", "sha256", "sha512" to lower-case hex.
	Sums map[string]string
}

// Paths returns the listed paths, sorted.
func (r *Release) Paths() []string {
	ps := make([]string, 0, len(r.Files))
	for p := range r.Files {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

var releaseSums = []struct{ field, alg string }{
	{"MD5Sum", "md5"}, {"SHA1", "sha1"}, {"SHA256", "sha256"}, {"SHA512", "sha512"},
}

// ParseRelease parses the fields of a Release file. Clearsigned input is
// refused: verify it first and parse the payload. Checksum lines naming an
// unsafe path (absolute, "..", backslash, control characters) or with a bad
// size are errors; a path whose sizes disagree between blocks is an error.
func ParseRelease(b []byte) (*Release, error) {
	if bytes.HasPrefix(b, []byte("-----BEGIN PGP")) {
		return nil, fmt.Errorf("parsing release: %w: clearsigned; verify it first", ErrMalformed)
	}
	// A Release is a single stanza; tolerate leading blank lines.
	sr := newStanzaReader(bytes.NewReader(b), len(b)+1)
	raw, err := sr.next()
	if err != nil {
		return nil, fmt.Errorf("parsing release: %w: no stanza", ErrMalformed)
	}
	fs, err := parseFields(raw, nil)
	if err != nil {
		return nil, fmt.Errorf("parsing release: %w: %v", ErrMalformed, err)
	}
	r := &Release{Files: map[string]*IndexFile{}}
	str := func(n string) string { v, _ := get(fs, n); return strings.TrimSpace(string(v)) }
	r.Origin, r.Label, r.Suite, r.Codename, r.Version = str("Origin"), str("Label"), str("Suite"), str("Codename"), str("Version")
	r.Architectures = strings.Fields(str("Architectures"))
	r.Components = strings.Fields(str("Components"))
	r.AcquireByHash = strings.EqualFold(str("Acquire-By-Hash"), "yes")
	if s := str("Date"); s != "" {
		if r.Date, err = parseDate(s); err != nil {
			return nil, fmt.Errorf("parsing release: %w: Date: %v", ErrMalformed, err)
		}
	}
	if s := str("Valid-Until"); s != "" {
		if r.ValidUntil, err = parseDate(s); err != nil {
			return nil, fmt.Errorf("parsing release: %w: Valid-Until: %v", ErrMalformed, err)
		}
	}
	for _, s := range releaseSums {
		v, ok := get(fs, s.field)
		if !ok {
			continue
		}
		for ln := range strings.SplitSeq(string(v), "\n") {
			f := strings.Fields(ln)
			if len(f) == 0 {
				continue
			}
			if len(f) != 3 || !isHex(f[0]) {
				return nil, fmt.Errorf("parsing release: %w: %s line %q", ErrMalformed, s.field, clip(ln))
			}
			size, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || size < 0 {
				return nil, fmt.Errorf("parsing release: %w: %s size %q", ErrMalformed, s.field, clip(f[1]))
			}
			p, err := cleanRel(f[2])
			if err != nil {
				return nil, fmt.Errorf("parsing release: %w: %v", ErrMalformed, err)
			}
			e := r.Files[p]
			if e == nil {
				e = &IndexFile{Path: p, Size: size, Sums: map[string]string{}}
				r.Files[p] = e
			} else if e.Size != size {
				return nil, fmt.Errorf("parsing release: %w: %s has two sizes", ErrMalformed, clip(p))
			}
			e.Sums[s.alg] = strings.ToLower(f[0])
		}
	}
	return r, nil
}

// dateLayouts are the forms of Date and Valid-Until seen in the wild.
var dateLayouts = []string{
	time.RFC1123Z, time.RFC1123, "Mon, _2 Jan 2006 15:04:05 MST", "Mon, _2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700",
}

func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unparseable date %q", clip(s))
}

// CheckFresh returns an error wrapping ErrExpired when r has a Valid-Until
// before now.
func (r *Release) CheckFresh(now time.Time) error {
	if !r.ValidUntil.IsZero() && now.After(r.ValidUntil) {
		return fmt.Errorf("%w: valid until %s, now %s", ErrExpired, r.ValidUntil.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// checksums returns what the Release declares for e, in formats terms.
func (e *IndexFile) checksums() map[string]string {
	out := make(map[string]string, len(e.Sums))
	for k, v := range e.Sums {
		out[k] = v
	}
	return out
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// cleanRel confines an upstream-relative path (Filename, Directory, Release
// entries): relative, no "..", no backslash, NUL or control characters. A
// leading "./" (flat repositories) is removed.
func cleanRel(p string) (string, error) {
	for strings.HasPrefix(p, "./") {
		p = p[2:]
	}
	return relpath.Clean(p)
}

// clearsignHeader starts a cleartext-signed message.
const clearsignHeader = "-----BEGIN PGP SIGNED MESSAGE-----"

// isClearsigned reports whether b is a cleartext-signed message.
func isClearsigned(b []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(b, "\r\n"), []byte(clearsignHeader))
}

// stripClearsign returns the text of a cleartext-signed message WITHOUT
// verifying it (used only when verification is off): the lines after the
// armor headers up to the signature, dash-unescaped.
func stripClearsign(b []byte) ([]byte, error) {
	lines := strings.Split(string(bytes.TrimLeft(b, "\r\n")), "\n")
	i := 1
	for i < len(lines) && strings.TrimRight(lines[i], "\r") != "" {
		i++
	}
	i++
	var out strings.Builder
	for ; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], "\r")
		if l == "-----BEGIN PGP SIGNATURE-----" {
			return []byte(out.String()), nil
		}
		out.WriteString(strings.TrimPrefix(l, "- "))
		out.WriteByte('\n')
	}
	return nil, fmt.Errorf("%w: clearsigned message without a signature", ErrMalformed)
}
