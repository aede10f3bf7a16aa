package rpm

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/verify"
)

// Repomd is a parsed repodata/repomd.xml.
type Repomd struct {
	Revision string
	Tags     Tags
	// Data are the <data> entries in document order.
	Data []Data
}

// Tags are repomd.xml's <tags>.
type Tags struct {
	Content []string
	Repo    []string
	Distro  []Distro
}

// Distro is one <tags><distro cpeid="...">name</distro>.
type Distro struct{ CPEID, Name string }

// Data is one <data type="..."> entry of repomd.xml.
type Data struct {
	// Type is the data type: "primary", "filelists", "other", "group",
	// "group_gz", "updateinfo", "modules", "primary_db", "primary_zck" …
	Type string
	// Href is the location, cleaned and confined to the repository root.
	Href string
	// Checksums and Size describe the file as stored (compressed).
	Checksums formats.Checksums
	Size      int64
	// OpenChecksums and OpenSize describe the decompressed content.
	OpenChecksums formats.Checksums
	OpenSize      int64
	// HeaderChecksums and HeaderSize describe a zchunk header (*_zck only).
	HeaderChecksums formats.Checksums
	HeaderSize      int64
	// Timestamp is the file's timestamp in Unix seconds (fractions dropped).
	Timestamp int64
	// DatabaseVersion is set for sqlite (*_db) entries.
	DatabaseVersion int
}

// Find returns the first entry of type typ, or nil.
func (r *Repomd) Find(typ string) *Data {
	for i := range r.Data {
		if r.Data[i].Type == typ {
			return &r.Data[i]
		}
	}
	return nil
}

type xmlRepomd struct {
	XMLName  xml.Name `xml:"repomd"`
	Revision string   `xml:"revision"`
	Tags     struct {
		Content []string `xml:"content"`
		Repo    []string `xml:"repo"`
		Distro  []struct {
			CPEID string `xml:"cpeid,attr"`
			Name  string `xml:",chardata"`
		} `xml:"distro"`
	} `xml:"tags"`
	Data []struct {
		Type            string     `xml:"type,attr"`
		Checksum        []xmlSum   `xml:"checksum"`
		OpenChecksum    []xmlSum   `xml:"open-checksum"`
		HeaderChecksum  []xmlSum   `xml:"header-checksum"`
		Location        xmlLoc     `xml:"location"`
		Timestamp       string     `xml:"timestamp"`
		Size            string     `xml:"size"`
		OpenSize        string     `xml:"open-size"`
		HeaderSize      string     `xml:"header-size"`
		DatabaseVersion string     `xml:"database_version"`
		Attrs           []xml.Attr `xml:",any,attr"`
	} `xml:"data"`
}

type xmlSum struct {
	Type  string `xml:"type,attr"`
	PkgID string `xml:"pkgid,attr"`
	Value string `xml:",chardata"`
}

type xmlLoc struct {
	Href  string     `xml:"href,attr"`
	Attrs []xml.Attr `xml:",any,attr"`
}

// base returns the location's xml:base, whatever prefix spelling the decoder saw.
func (l *xmlLoc) base() string {
	for _, a := range l.Attrs {
		if a.Name.Local == "base" && (a.Name.Space == "xml" || a.Name.Space == "http://www.w3.org/XML/1998/namespace") {
			return a.Value
		}
	}
	return ""
}

// ParseRepomd parses repomd.xml. It fails with ErrMalformed for broken XML, a
// data entry without type, location or trusted-looking checksum, or duplicate
// types, and with a *LocationError for a location that leaves the repository
// root or carries an xml:base.
func ParseRepomd(b []byte) (*Repomd, error) {
	var x xmlRepomd
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	if err := d.Decode(&x); err != nil {
		return nil, fmt.Errorf("parsing repomd.xml: %w: %v", ErrMalformed, err)
	}
	r := &Repomd{Revision: strings.TrimSpace(x.Revision)}
	r.Tags.Content = trimAll(x.Tags.Content)
	r.Tags.Repo = trimAll(x.Tags.Repo)
	for _, d := range x.Tags.Distro {
		r.Tags.Distro = append(r.Tags.Distro, Distro{CPEID: d.CPEID, Name: strings.TrimSpace(d.Name)})
	}
	seen := map[string]bool{}
	for _, xd := range x.Data {
		typ := strings.TrimSpace(xd.Type)
		if typ == "" {
			return nil, fmt.Errorf("parsing repomd.xml: %w: data entry without type", ErrMalformed)
		}
		if seen[typ] {
			return nil, fmt.Errorf("parsing repomd.xml: %w: data type %q listed twice", ErrMalformed, clip(typ))
		}
		seen[typ] = true
		href, err := confine(RepomdPath, xd.Location.Href, xd.Location.base())
		if err != nil {
			return nil, err
		}
		dd := Data{Type: typ, Href: href}
		if dd.Checksums, err = sums(xd.Checksum); err != nil {
			return nil, fmt.Errorf("parsing repomd.xml: data %q: %w", typ, err)
		}
		if len(dd.Checksums) == 0 {
			return nil, fmt.Errorf("parsing repomd.xml: %w: data %q has no checksum", ErrMalformed, typ)
		}
		if dd.OpenChecksums, err = sums(xd.OpenChecksum); err != nil {
			return nil, fmt.Errorf("parsing repomd.xml: data %q: %w", typ, err)
		}
		if dd.HeaderChecksums, err = sums(xd.HeaderChecksum); err != nil {
			return nil, fmt.Errorf("parsing repomd.xml: data %q: %w", typ, err)
		}
		for _, n := range []struct {
			s    string
			dst  *int64
			name string
		}{{xd.Size, &dd.Size, "size"}, {xd.OpenSize, &dd.OpenSize, "open-size"}, {xd.HeaderSize, &dd.HeaderSize, "header-size"}} {
			if *n.dst, err = parseSize(n.s); err != nil {
				return nil, fmt.Errorf("parsing repomd.xml: %w: data %q %s: %v", ErrMalformed, typ, n.name, err)
			}
		}
		if dd.Timestamp, err = parseTime(xd.Timestamp); err != nil {
			return nil, fmt.Errorf("parsing repomd.xml: %w: data %q timestamp: %v", ErrMalformed, typ, err)
		}
		if s := strings.TrimSpace(xd.DatabaseVersion); s != "" {
			if dd.DatabaseVersion, err = strconv.Atoi(s); err != nil {
				return nil, fmt.Errorf("parsing repomd.xml: %w: data %q database_version %q", ErrMalformed, typ, clip(s))
			}
		}
		r.Data = append(r.Data, dd)
	}
	return r, nil
}

func trimAll(ss []string) []string {
	var out []string
	for _, s := range ss {
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

// sums turns <checksum type="sha">hex</checksum> elements into Checksums with
// canonical algorithm names. Two values for one algorithm that differ are an
// error; unknown algorithms are an error too, because a checksum we cannot
// check must not pass as verified.
func sums(xs []xmlSum) (formats.Checksums, error) {
	if len(xs) == 0 {
		return nil, nil
	}
	c := formats.Checksums{}
	for _, x := range xs {
		a := verify.NormalizeAlgo(x.Type)
		if verify.New(a) == nil {
			return nil, fmt.Errorf("%w: unknown checksum type %q", ErrMalformed, clip(x.Type))
		}
		v := strings.ToLower(strings.TrimSpace(x.Value))
		if old, ok := c[a]; ok && old != v {
			return nil, fmt.Errorf("%w: two different %s checksums", ErrMalformed, a)
		}
		c[a] = v
	}
	return c, nil
}

func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad number %q", clip(s))
	}
	return n, nil
}

// parseTime accepts integer or decimal Unix seconds (old yum wrote decimals).
func parseTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		if strings.Trim(s[i+1:], "0123456789") != "" {
			return 0, fmt.Errorf("bad timestamp %q", clip(s))
		}
		s = s[:i]
	}
	return parseSize(s)
}

// confine checks an upstream location and returns it cleaned. It refuses empty,
// absolute and drive-letter paths, URLs and anything with a scheme, any ".."
// segment, backslashes, control characters, and every non-empty xml:base (a
// Source reads relative to the repository root only, so a location elsewhere
// cannot be fetched through it nor published as is).
func confine(file, href, base string) (string, error) {
	fail := func(reason string) (string, error) {
		return "", &LocationError{File: file, Href: href, Base: base, Reason: reason}
	}
	if strings.TrimSpace(base) != "" {
		return fail("xml:base points outside the repository")
	}
	h := href
	switch {
	case h == "":
		return fail("empty location")
	case strings.HasPrefix(h, "/"):
		return fail("absolute path")
	case strings.ContainsAny(h, "\\"):
		return fail("backslash in path")
	case hasScheme(h):
		return fail("URL instead of a relative path")
	}
	for _, c := range h {
		if c < 0x20 || c == 0x7f {
			return fail("control character in path")
		}
	}
	for _, seg := range strings.Split(h, "/") {
		if seg == ".." {
			return fail("parent directory in path")
		}
	}
	c := path.Clean(h)
	if c == "." || strings.HasSuffix(h, "/") {
		return fail("not a file path")
	}
	return c, nil
}

// hasScheme reports whether s starts with "scheme:" (RFC 3986), which also
// catches Windows drive letters.
func hasScheme(s string) bool {
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return false
	}
	if j := strings.IndexByte(s, '/'); j >= 0 && j < i {
		return false
	}
	for k := 0; k < i; k++ {
		c := s[k]
		if !(isAlpha(c) || k > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}
