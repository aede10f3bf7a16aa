package rpm

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"unicode/utf8"
)

// recorder feeds an xml.Decoder byte by byte (as an io.ByteReader, so the
// decoder adds no buffering of its own) from a buffer of its own, and keeps
// the bytes from offset base on, so that the raw text of an element can be
// cut out by Decoder.InputOffset. Reading a byte is an index into the buffer:
// the bytes are recorded by not being thrown away (drop only moves a mark;
// the buffer is compacted when it is refilled).
type recorder struct {
	src  io.Reader
	buf  []byte // stream bytes from offset base; buf[pos:] not read yet
	pos  int
	keep int   // buf[:keep] may be thrown away at the next refill
	base int64 // stream offset of buf[0]
	max  int64 // most bytes held from the mark on
	err  error // sticky: too large, or the source's error once buf is read
	pend error // the source's error met by more, reported once buf is read
}

// recorderChunk is how much a refill asks the source for, at least.
const recorderChunk = 64 << 10

func (r *recorder) ReadByte() (byte, error) {
	if r.pos < len(r.buf) {
		c := r.buf[r.pos]
		r.pos++
		return c, nil
	}
	return r.fill()
}

// fill reads more of the source into buf, then returns the next byte.
func (r *recorder) fill() (byte, error) {
	if r.pend != nil {
		r.err, r.pend = r.pend, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	// Everything in buf is read; buf[keep:] is held.
	held := int64(len(r.buf) - r.keep)
	if held >= r.max {
		r.err = fmt.Errorf("%w: one element is longer than %d bytes", ErrTooLarge, r.max)
		return 0, r.err
	}
	room := r.makeRoom(held)
	for empty := 0; ; empty++ {
		n, err := r.src.Read(r.buf[len(r.buf) : len(r.buf)+room])
		r.buf = r.buf[:len(r.buf)+n]
		if err != nil {
			r.err = err
		}
		if n > 0 {
			c := r.buf[r.pos]
			r.pos++
			return c, nil
		}
		if err != nil {
			return 0, err
		}
		if empty >= 100 {
			r.err = io.ErrNoProgress
			return 0, r.err
		}
	}
}

// makeRoom compacts or grows buf so that a refill can read, and returns how
// many bytes it may read: at most up to max bytes past the mark.
func (r *recorder) makeRoom(held int64) int {
	if r.keep > 0 {
		n := copy(r.buf, r.buf[r.keep:])
		r.buf = r.buf[:n]
		r.pos -= r.keep
		r.base += int64(r.keep)
		r.keep = 0
	}
	if cap(r.buf)-len(r.buf) < recorderChunk {
		nb := make([]byte, len(r.buf), 2*cap(r.buf)+recorderChunk)
		copy(nb, r.buf)
		r.buf = nb
	}
	room := cap(r.buf) - len(r.buf)
	if int64(room) > r.max-held {
		room = int(r.max - held) // read at most one byte past the limit's check
	}
	return room
}

// more reads more of the source into buf without consuming any of it (the
// fast path looks ahead), within the bound fill keeps: buf never holds more
// than max bytes past the mark, so fill fails at the same byte as without
// the look-ahead. It reports whether it read anything; at the bound, the
// source's end or its error it reads nothing, and a source error waits in
// pend until the decoder has read what came before it.
func (r *recorder) more() bool {
	if r.err != nil || r.pend != nil {
		return false
	}
	held := int64(len(r.buf) - r.keep)
	if held >= r.max {
		return false
	}
	room := r.makeRoom(held)
	got := 0
	for empty := 0; room > 0; {
		n, err := r.src.Read(r.buf[len(r.buf) : len(r.buf)+room])
		r.buf = r.buf[:len(r.buf)+n]
		got += n
		room -= n
		if err != nil {
			r.pend = err
			break
		}
		if n == 0 {
			if empty++; empty >= 100 {
				r.pend = io.ErrNoProgress
				break
			}
		}
	}
	return got > 0
}

func (r *recorder) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = c
	return 1, nil
}

// drop forgets the bytes before stream offset off (at the next refill).
func (r *recorder) drop(off int64) {
	k := off - r.base
	if k <= int64(r.keep) {
		return
	}
	if k > int64(r.pos) {
		k = int64(r.pos)
	}
	r.keep = int(k)
}

// slice returns a copy of the bytes between stream offsets from and to.
func (r *recorder) slice(from, to int64) []byte {
	if from < r.base+int64(r.keep) || to-r.base > int64(r.pos) || from > to {
		return nil
	}
	return append([]byte(nil), r.buf[from-r.base:to-r.base]...)
}

// elemStream walks the children named "package" of a metadata document's root
// element and decodes each into a value while keeping its verbatim bytes.
//
// A <package> of the common shape (see fastParser) is parsed straight from
// the recorder's buffer, and the decoder never sees its bytes; anything else
// goes through encoding/xml. The fast path runs only where the decoder stands
// between two children of the root with nothing pending, so that skipping
// bytes leaves it as it would be after reading them, but for its offset and
// line count: skip and lines hold what it did not see.
type elemStream struct {
	name     string
	dec      *xml.Decoder
	rec      *recorder
	depth    int
	rootSeen bool
	done     bool

	slow  bool  // never take the fast path (tests compare both)
	clean bool  // the last token ended a child of the root
	skip  int64 // bytes the fast path consumed
	lines int   // newlines among them
	fp    fastParser
}

func newElemStream(r io.Reader, name string, maxHeld int64) *elemStream {
	rec := &recorder{src: r, max: maxHeld}
	d := xml.NewDecoder(rec)
	d.Strict = true
	return &elemStream{name: name, dec: d, rec: rec}
}

// offset is the stream offset of the next byte the decoder reads.
func (s *elemStream) offset() int64 { return s.dec.InputOffset() + s.skip }

// next decodes the next <package> child of the root into v and returns its
// verbatim bytes, or io.EOF after the root element ends.
func (s *elemStream) next(v any) ([]byte, error) {
	if s.done {
		return nil, io.EOF
	}
	for {
		off := s.offset()
		s.rec.drop(off)
		if s.clean && s.depth == 1 && !s.slow && off == s.rec.base+int64(s.rec.pos) {
			if raw := s.fast(v); raw != nil {
				return raw, nil
			}
		}
		s.clean = false
		tok, err := s.dec.Token()
		if err == io.EOF {
			if s.depth != 0 || !s.rootSeen {
				return nil, fmt.Errorf("parsing %s: %w: unexpected end of document", s.name, ErrMalformed)
			}
			s.done = true
			return nil, io.EOF
		}
		if err != nil {
			return nil, s.wrap(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if s.depth == 1 && t.Name.Local == "package" {
				if err := s.dec.DecodeElement(v, &t); err != nil {
					return nil, s.wrap(err)
				}
				raw := s.rec.slice(off, s.offset())
				if raw == nil {
					return nil, fmt.Errorf("parsing %s: %w: lost track of element bytes", s.name, ErrMalformed)
				}
				s.clean = true
				return raw, nil
			}
			if s.depth >= 1 {
				// Unknown child of the root: skip it whole.
				if err := s.dec.Skip(); err != nil {
					return nil, s.wrap(err)
				}
				s.clean = true
				continue
			}
			s.depth++
			s.rootSeen = true
		case xml.EndElement:
			s.depth--
			if s.depth == 0 {
				// Anything after the root must be whitespace, comments or
				// processing instructions; Token reports other content.
				for {
					if _, err := s.dec.Token(); err == io.EOF {
						break
					} else if err != nil {
						return nil, s.wrap(err)
					}
				}
				s.done = true
				return nil, io.EOF
			}
		}
	}
}

// fast parses whitespace and one <package> of the common shape from the
// recorder's buffer into v, consumes them and returns the element's bytes;
// nil when the decoder is to read them instead (nothing is consumed then,
// and v is untouched).
func (s *elemStream) fast(v any) []byte {
	r := s.rec
	for {
		start, end, st := s.fp.parse(r.buf[r.pos:], v)
		switch st {
		case fastMore:
			if r.more() {
				continue
			}
			return nil
		case fastNo:
			return nil
		}
		b := r.buf[r.pos : r.pos+end]
		raw := append([]byte(nil), b[start:]...)
		s.lines += bytes.Count(b, []byte{'\n'})
		s.skip += int64(end)
		r.pos += end
		return raw
	}
}

func (s *elemStream) wrap(err error) error {
	if s.rec.err != nil {
		return fmt.Errorf("parsing %s: %w", s.name, s.rec.err)
	}
	if se, ok := err.(*xml.SyntaxError); ok {
		// Count the lines the decoder did not see, as it would have.
		c := *se
		c.Line += s.lines
		return fmt.Errorf("parsing %s: %w: %v", s.name, ErrMalformed, &c)
	}
	return fmt.Errorf("parsing %s: %w", s.name, err)
}

// fastStatus is how fastParser.parse ended.
type fastStatus int8

const (
	fastDone fastStatus = iota // parsed
	fastMore                   // the bytes end before the element does
	fastNo                     // left to encoding/xml
)

// fastMaxDepth bounds the nesting the fast path follows.
const fastMaxDepth = 32

// xmlNamespace is what encoding/xml makes of the xml: prefix.
const xmlNamespace = "http://www.w3.org/XML/1998/namespace"

// fastCtx says what an element is to the value being decoded.
type fastCtx int8

const (
	ctxSkip      fastCtx = iota // nothing: checked and passed over
	ctxTop                      // the parent of <package>
	ctxPrimary                  // primary's <package>: xmlPrimary
	ctxSecondary                // filelists' or other's <package>: xmlSecondary
	ctxFormat                   // primary's <format>
	ctxText                     // a string field: the element's own text
	ctxChecksum                 // xmlSum
	ctxVersion                  // xmlVersion
	ctxTime
	ctxSize
	ctxLocation // xmlLoc
)

// fastParser parses one <package> element of the shape createrepo_c and
// the like write, straight from bytes, into an xmlPrimary or xmlSecondary
// exactly as xml.Decoder.DecodeElement does (fields match by local name, a
// later element or attribute overwrites an earlier one, a string field holds
// its element's own text). It accepts only a subset of what the decoder in
// strict mode accepts:
//
//   - names are ASCII: [A-Za-z_][A-Za-z0-9_.-]*, with at most one colon
//     followed by the same again;
//   - attributes are unprefixed or xml:-prefixed and declare no namespace;
//     their values are quoted;
//   - text and values are UTF-8 of characters XML allows, without carriage
//     returns, with no other references than &lt; &gt; &amp; &apos; &quot;,
//     and text holds no "]]>";
//   - no comments, processing instructions, CDATA sections or directives;
//     whitespace in markup is space, tab or newline; at most fastMaxDepth
//     levels.
//
// On anything else it gives up (fastNo) and the decoder reads the element,
// which accepts or rejects it as it always did.
type fastParser struct {
	b     []byte
	i     int
	st    fastStatus
	isPri bool
	pri   xmlPrimary
	sec   xmlSecondary
	text  []byte // the current text field's text, decoded
}

// parse parses whitespace, then a <package> element from b into v (an
// *xmlPrimary or *xmlSecondary), and returns where the element starts and
// ends in b. v changes only when it returns fastDone.
func (p *fastParser) parse(b []byte, v any) (start, end int, st fastStatus) {
	p.b, p.i, p.st = b, 0, fastDone
	defer func() { p.b = nil }() // hold no buffer between calls
	p.space()
	const open = "<package"
	n := min(len(open), len(b)-p.i)
	if string(b[p.i:p.i+n]) != open[:n] {
		return 0, 0, fastNo
	}
	if !p.has(len(open) + 1) {
		return 0, 0, p.st
	}
	switch b[p.i+len(open)] {
	case ' ', '\t', '\n', '>', '/':
	default:
		return 0, 0, fastNo
	}
	start = p.i
	switch x := v.(type) {
	case *xmlPrimary:
		p.pri, p.isPri = *x, true
	case *xmlSecondary:
		p.sec, p.isPri = *x, false
	default:
		return 0, 0, fastNo
	}
	if !p.element(ctxTop, 0) {
		return 0, 0, p.st
	}
	switch x := v.(type) {
	case *xmlPrimary:
		*x = p.pri
	case *xmlSecondary:
		*x = p.sec
	}
	return start, p.i, fastDone
}

// fail records why parsing stopped and returns false.
func (p *fastParser) fail(st fastStatus) bool {
	p.st = st
	return false
}

// has reports whether n bytes are left from p.i; fastMore when not.
func (p *fastParser) has(n int) bool {
	if len(p.b)-p.i < n {
		return p.fail(fastMore)
	}
	return true
}

// space skips spaces, tabs and newlines.
func (p *fastParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n':
			p.i++
		default:
			return
		}
	}
}

func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isNameRest(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
}

// name reads a name at p.i and returns where its colon is in it (-1: none).
// The byte after it is one the decoder ends a name at.
func (p *fastParser) name() (int, bool) {
	b, i := p.b, p.i
	if i >= len(b) {
		return 0, p.fail(fastMore)
	}
	if !isNameStart(b[i]) {
		return 0, p.fail(fastNo)
	}
	colon := -1
	for i++; ; i++ {
		if i >= len(b) {
			return 0, p.fail(fastMore)
		}
		c := b[i]
		if isNameRest(c) {
			continue
		}
		if c == ':' && colon < 0 {
			if i+1 >= len(b) {
				return 0, p.fail(fastMore)
			}
			if !isNameStart(b[i+1]) {
				return 0, p.fail(fastNo)
			}
			colon = i - p.i
			continue
		}
		if c == ':' || c >= utf8.RuneSelf {
			return 0, p.fail(fastNo)
		}
		break
	}
	p.i = i
	return colon, true
}

// element parses the element at p.i (its '<') to the end of its end tag;
// parent is what its parent element is.
func (p *fastParser) element(parent fastCtx, depth int) bool {
	if depth >= fastMaxDepth {
		return p.fail(fastNo)
	}
	p.i++
	ns := p.i
	colon, ok := p.name()
	if !ok {
		return false
	}
	name := p.b[ns:p.i]
	ctx, str := p.child(parent, name[colon+1:])
	empty := false
	for {
		p.space()
		if !p.has(1) {
			return false
		}
		c := p.b[p.i]
		if c == '>' {
			p.i++
			break
		}
		if c == '/' {
			if !p.has(2) {
				return false
			}
			if p.b[p.i+1] != '>' {
				return p.fail(fastNo)
			}
			p.i += 2
			empty = true
			break
		}
		if !p.attr(ctx) {
			return false
		}
	}
	collect := ctx == ctxText || ctx == ctxChecksum
	if collect {
		p.text = p.text[:0] // its children are skipped: they do not reset it
	}
	for !empty {
		if !p.has(1) {
			return false
		}
		if p.b[p.i] != '<' {
			if !p.chars(collect) {
				return false
			}
			continue
		}
		if !p.has(2) {
			return false
		}
		switch p.b[p.i+1] {
		case '/':
			p.i += 2
			if !p.has(len(name) + 1) {
				return false
			}
			if string(p.b[p.i:p.i+len(name)]) != string(name) {
				return p.fail(fastNo)
			}
			p.i += len(name)
			if c := p.b[p.i]; c == ':' || isNameRest(c) || c >= utf8.RuneSelf {
				return p.fail(fastNo)
			}
			p.space()
			if !p.has(1) {
				return false
			}
			if p.b[p.i] != '>' {
				return p.fail(fastNo)
			}
			p.i++
			empty = true // the end
			continue
		case '!', '?':
			return p.fail(fastNo)
		}
		if !p.element(ctx, depth+1) {
			return false
		}
	}
	switch ctx {
	case ctxText:
		*str = string(p.text)
	case ctxChecksum:
		p.pri.Checksum.Value = string(p.text)
	}
	return true
}

// child says what the child element local of a ctx element is, and for a
// ctxText element which field it sets.
func (p *fastParser) child(ctx fastCtx, local []byte) (fastCtx, *string) {
	switch ctx {
	case ctxTop: // parse saw "<package"
		if p.isPri {
			return ctxPrimary, nil
		}
		return ctxSecondary, nil
	case ctxPrimary:
		x := &p.pri
		switch string(local) {
		case "name":
			return ctxText, &x.Name
		case "arch":
			return ctxText, &x.Arch
		case "version":
			return ctxVersion, nil
		case "checksum":
			return ctxChecksum, nil
		case "summary":
			return ctxText, &x.Summary
		case "packager":
			return ctxText, &x.Packager
		case "url":
			return ctxText, &x.URL
		case "time":
			return ctxTime, nil
		case "size":
			return ctxSize, nil
		case "location":
			return ctxLocation, nil
		case "format":
			return ctxFormat, nil
		}
	case ctxFormat:
		f := &p.pri.Format
		switch string(local) {
		case "license":
			return ctxText, &f.License
		case "vendor":
			return ctxText, &f.Vendor
		case "group":
			return ctxText, &f.Group
		case "buildhost":
			return ctxText, &f.BuildHost
		case "sourcerpm":
			return ctxText, &f.SourceRPM
		}
	case ctxSecondary:
		if string(local) == "version" {
			return ctxVersion, nil
		}
	}
	return ctxSkip, nil
}

// attrField returns the field an attribute of a ctx element sets, if any.
func (p *fastParser) attrField(ctx fastCtx, local []byte) *string {
	switch ctx {
	case ctxPrimary:
		if string(local) == "type" {
			return &p.pri.Type
		}
	case ctxSecondary:
		switch string(local) {
		case "pkgid":
			return &p.sec.PkgID
		case "name":
			return &p.sec.Name
		case "arch":
			return &p.sec.Arch
		}
	case ctxVersion:
		v := &p.sec.Version
		if p.isPri {
			v = &p.pri.Version
		}
		switch string(local) {
		case "epoch":
			return &v.Epoch
		case "ver":
			return &v.Ver
		case "rel":
			return &v.Rel
		}
	case ctxChecksum:
		switch string(local) {
		case "type":
			return &p.pri.Checksum.Type
		case "pkgid":
			return &p.pri.Checksum.PkgID
		}
	case ctxTime:
		switch string(local) {
		case "file":
			return &p.pri.Time.File
		case "build":
			return &p.pri.Time.Build
		}
	case ctxSize:
		switch string(local) {
		case "package":
			return &p.pri.Size.Package
		case "installed":
			return &p.pri.Size.Installed
		case "archive":
			return &p.pri.Size.Archive
		}
	case ctxLocation:
		if string(local) == "href" {
			return &p.pri.Location.Href
		}
	}
	return nil
}

// attr parses one attribute at p.i and sets the field it names.
func (p *fastParser) attr(ctx fastCtx) bool {
	ns := p.i
	colon, ok := p.name()
	if !ok {
		return false
	}
	name := p.b[ns:p.i]
	local := name[colon+1:]
	if colon >= 0 && string(name[:colon]) != "xml" || string(name) == "xmlns" {
		return p.fail(fastNo) // namespaces are the decoder's
	}
	p.space()
	if !p.has(1) {
		return false
	}
	if p.b[p.i] != '=' {
		return p.fail(fastNo)
	}
	p.i++
	p.space()
	if !p.has(1) {
		return false
	}
	q := p.b[p.i]
	if q != '"' && q != '\'' {
		return p.fail(fastNo)
	}
	p.i++
	vs := p.i
	ent, ok := p.value(q)
	if !ok {
		return false
	}
	raw := p.b[vs : p.i-1]
	f := p.attrField(ctx, local)
	if f == nil && ctx != ctxLocation {
		return true
	}
	val := string(raw)
	if ent {
		val = string(appendUnescaped(nil, raw))
	}
	if f != nil {
		*f = val
		return true
	}
	// xmlLoc keeps every other attribute, named as the decoder names it.
	a := xml.Attr{Name: xml.Name{Local: string(local)}, Value: val}
	if colon >= 0 {
		a.Name.Space = xmlNamespace
	}
	p.pri.Location.Attrs = append(p.pri.Location.Attrs, a)
	return true
}

// value scans an attribute value up to and past its closing quote q, and
// reports whether it holds entity references.
func (p *fastParser) value(q byte) (ent, ok bool) {
	b, i := p.b, p.i
	for {
		if i >= len(b) {
			return false, p.fail(fastMore)
		}
		c := b[i]
		if c == q {
			p.i = i + 1
			return ent, true
		}
		if ' ' <= c && c < utf8.RuneSelf && c != '<' && c != '&' {
			i++
			continue
		}
		n, st := p.special(b[i:], c)
		if st != fastDone {
			return false, p.fail(st)
		}
		ent = ent || c == '&'
		i += n
	}
}

// chars scans text up to the next '<' and, when collect is set, appends it
// decoded to p.text.
func (p *fastParser) chars(collect bool) bool {
	b, i := p.b, p.i
	start, ent := i, false
	for {
		if i >= len(b) {
			return p.fail(fastMore)
		}
		c := b[i]
		if ' ' <= c && c < utf8.RuneSelf && c != '<' && c != '&' && c != '>' {
			i++
			continue
		}
		if c == '<' {
			break
		}
		if c == '>' {
			if i-start >= 2 && b[i-1] == ']' && b[i-2] == ']' {
				return p.fail(fastNo) // the decoder's "unescaped ]]>"
			}
			i++
			continue
		}
		n, st := p.special(b[i:], c)
		if st != fastDone {
			return p.fail(st)
		}
		ent = ent || c == '&'
		i += n
	}
	if collect {
		if ent {
			p.text = appendUnescaped(p.text, b[start:i])
		} else {
			p.text = append(p.text, b[start:i]...)
		}
	}
	p.i = i
	return true
}

// special measures the character or reference c that b starts with, other
// than printable ASCII: a tab, a newline, one of the five predefined
// references, or a UTF-8 encoded character XML allows.
func (p *fastParser) special(b []byte, c byte) (int, fastStatus) {
	switch {
	case c == '\t' || c == '\n':
		return 1, fastDone
	case c == '&':
		for _, e := range [...]string{"&lt;", "&gt;", "&amp;", "&apos;", "&quot;"} {
			if len(b) >= len(e) && string(b[:len(e)]) == e {
				return len(e), fastDone
			}
		}
		if len(b) < len("&apos;") {
			return 0, fastMore
		}
		return 0, fastNo
	case c >= utf8.RuneSelf:
		if !utf8.FullRune(b) {
			return 0, fastMore
		}
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF {
			return 0, fastNo
		}
		return n, fastDone
	}
	return 0, fastNo // control characters, carriage returns
}

// appendUnescaped appends b with its predefined entity references replaced
// (b holds no others).
func appendUnescaped(dst, b []byte) []byte {
	for {
		i := bytes.IndexByte(b, '&')
		if i < 0 {
			return append(dst, b...)
		}
		dst = append(dst, b[:i]...)
		b = b[i:]
		switch {
		case bytes.HasPrefix(b, []byte("&lt;")):
			dst, b = append(dst, '<'), b[4:]
		case bytes.HasPrefix(b, []byte("&gt;")):
			dst, b = append(dst, '>'), b[4:]
		case bytes.HasPrefix(b, []byte("&amp;")):
			dst, b = append(dst, '&'), b[5:]
		case bytes.HasPrefix(b, []byte("&apos;")):
			dst, b = append(dst, '\''), b[6:]
		default: // &quot;
			dst, b = append(dst, '"'), b[6:]
		}
	}
}
