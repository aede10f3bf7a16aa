package helm

import (
	"bytes"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// A line-based reader for the block-YAML subset that helm, chartmuseum and
// this package write into index.yaml: block mappings and sequences (indented
// or not), single-line plain and quoted scalars without escapes, "[]" and
// "{}", and literal block scalars ("|", "|-"). It builds the same yaml.Node
// tree yaml.v3 builds (same kinds, resolved tags and values; scalars are typed
// by yaml.v3's own resolver through Node.ShortTag), about ten times faster.
// Anything outside the subset (tabs, comments, anchors, tags, flow
// collections, escapes, multi-line flow scalars, folded scalars, explicit
// keys) makes it give up, and the caller decodes with yaml.v3; FuzzFastYAML
// checks that whatever it accepts, yaml.v3 decodes to the same tree.

type fastLine struct {
	indent int
	text   []byte // without the indentation; nil for a blank line
	raw    []byte // the whole line
}

type fastParser struct {
	lines []fastLine
	i     int
	ok    bool
	// open is set when text does not end with a line break.
	open bool
}

// fastParse reads text as a block mapping whose keys are at indent. It
// reports false when text is outside the subset.
func fastParse(text []byte, indent int) (*yaml.Node, bool) {
	if bytes.IndexByte(text, '\t') >= 0 || bytes.IndexByte(text, '\r') >= 0 {
		return nil, false
	}
	p := &fastParser{ok: true, lines: make([]fastLine, 0, bytes.Count(text, []byte{'\n'})+1)}
	p.open = len(text) > 0 && text[len(text)-1] != '\n'
	for len(text) > 0 {
		line := text
		if j := bytes.IndexByte(text, '\n'); j >= 0 {
			line, text = text[:j], text[j+1:]
		} else {
			text = nil
		}
		n := 0
		for n < len(line) && line[n] == ' ' {
			n++
		}
		l := fastLine{indent: n, raw: line}
		if n < len(line) {
			l.text = line[n:]
		}
		p.lines = append(p.lines, l)
	}
	p.skipBlank()
	if p.i >= len(p.lines) || p.lines[p.i].indent != indent {
		return nil, false
	}
	m := p.mapping(indent)
	p.skipBlank()
	if !p.ok || p.i != len(p.lines) {
		return nil, false
	}
	return m, true
}

func (p *fastParser) fail() { p.ok = false }

func (p *fastParser) skipBlank() {
	for p.i < len(p.lines) && p.lines[p.i].text == nil {
		p.i++
	}
}

// next is the next non-blank line, or nil at the end.
func (p *fastParser) next() *fastLine {
	p.skipBlank()
	if p.i >= len(p.lines) {
		return nil
	}
	return &p.lines[p.i]
}

func isItem(t []byte) bool {
	return len(t) > 0 && t[0] == '-' && (len(t) == 1 || t[1] == ' ')
}

func (p *fastParser) mapping(indent int) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for p.ok {
		l := p.next()
		if l == nil || l.indent < indent {
			break
		}
		if l.indent > indent || isItem(l.text) {
			p.fail()
			break
		}
		k, rest, ok := splitKey(l.text)
		if !ok {
			p.fail()
			break
		}
		p.i++
		v := p.value(rest, indent, true)
		m.Content = append(m.Content, k, v)
	}
	return m
}

// value reads the node after "key:" (rest is the remainder of the key's line)
// of a mapping at indent.
func (p *fastParser) value(rest []byte, indent int, indentless bool) *yaml.Node {
	rest = bytes.TrimLeft(rest, " ")
	if len(rest) == 0 {
		l := p.next()
		switch {
		case l == nil || l.indent < indent:
		case l.indent == indent:
			if indentless && isItem(l.text) {
				return p.sequence(indent)
			}
		case isItem(l.text):
			return p.sequence(l.indent)
		default:
			return p.mapping(l.indent)
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	if rest[0] == '|' {
		return p.literal(rest, indent)
	}
	return p.inline(rest)
}

// inline reads a one-line value: a scalar, "[]" or "{}".
func (p *fastParser) inline(s []byte) *yaml.Node {
	s = bytes.TrimRight(s, " ")
	switch string(s) {
	case "[]":
		return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	case "{}":
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
	}
	n, ok := scalarText(s)
	if !ok {
		p.fail()
	}
	return n
}

func (p *fastParser) sequence(indent int) *yaml.Node {
	s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for p.ok {
		l := p.next()
		if l == nil || l.indent < indent {
			break
		}
		if l.indent > indent {
			p.fail()
			break
		}
		if !isItem(l.text) {
			break // the parent mapping's next key (indentless sequence)
		}
		if len(l.text) == 1 {
			p.fail() // "-" alone: item on the next lines
			break
		}
		after := l.text[2:]
		col := indent + 2
		for len(after) > 0 && after[0] == ' ' {
			after, col = after[1:], col+1
		}
		if len(after) == 0 || isItem(after) {
			p.fail()
			break
		}
		if _, _, ok := splitKey(after); ok {
			// "- key: value": a mapping at the key's column.
			l.indent, l.text = col, after
			s.Content = append(s.Content, p.mapping(col))
			continue
		}
		p.i++
		s.Content = append(s.Content, p.inline(after))
	}
	return s
}

// literal reads a literal block scalar ("|" or "|-") of a key at indent.
func (p *fastParser) literal(header []byte, indent int) *yaml.Node {
	header = bytes.TrimRight(header, " ")
	strip := false
	switch string(header) {
	case "|":
	case "|-":
		strip = true
	default:
		p.fail()
		return nil
	}
	start := p.i
	p.skipBlank()
	if p.i >= len(p.lines) || p.lines[p.i].indent <= indent {
		p.fail()
		return nil
	}
	n := p.lines[p.i].indent
	for j := start; j < p.i; j++ {
		if len(p.lines[j].raw) > n {
			p.fail() // leading blank lines longer than the indentation
			return nil
		}
	}
	p.i = start
	var b bytes.Buffer
	pending, wrote := 0, false // blank lines not yet written; any content yet
	for p.i < len(p.lines) {
		l := &p.lines[p.i]
		if l.text == nil {
			if len(l.raw) > n {
				p.fail()
				return nil
			}
			pending++
			p.i++
			continue
		}
		if l.indent < n {
			break
		}
		if !printable(l.raw[n:], true) {
			p.fail()
			return nil
		}
		if wrote {
			b.WriteByte('\n')
		}
		for ; pending > 0; pending-- {
			b.WriteByte('\n')
		}
		b.Write(l.raw[n:])
		wrote = true
		p.i++
		if p.i == len(p.lines) && p.open {
			strip = true // clip keeps a final line break only if there is one
		}
	}
	if !strip {
		b.WriteByte('\n')
	}
	// Trailing blank lines belong to the scalar and are dropped by clip and
	// strip chomping; let the parent see them as blank.
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.LiteralStyle, Value: b.String()}
}

// splitKey reads "key:" or "key: rest" with a plain or simply quoted key of
// at most maxKey bytes (YAML limits implicit keys to 1024 characters).
func splitKey(t []byte) (*yaml.Node, []byte, bool) {
	if len(t) > 0 && t[0] == '"' {
		end := bytes.IndexByte(t[1:], '"')
		if end < 0 || end > maxKey {
			return nil, nil, false
		}
		end++
		rest := t[end+1:]
		if len(rest) == 0 || rest[0] != ':' || len(rest) > 1 && rest[1] != ' ' {
			return nil, nil, false
		}
		n, ok := scalarText(t[:end+1])
		return n, rest[1:], ok
	}
	j := 0
	for j < len(t) && j <= maxKey && keyByte(t[j], j == 0) {
		j++
	}
	if j == 0 || j > maxKey || j == len(t) || t[j] != ':' || j+1 < len(t) && t[j+1] != ' ' {
		return nil, nil, false
	}
	n, ok := scalarText(t[:j])
	return n, t[j+1:], ok
}

const maxKey = 256

func keyByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		return true
	case first:
		return false
	}
	return c == '.' || c == '-' || c == '/'
}

// scalarText types a one-line scalar as yaml.v3 does: quoted ones are strings,
// plain ones are resolved by yaml.v3.
func scalarText(s []byte) (*yaml.Node, bool) {
	if len(s) == 0 {
		return nil, false
	}
	switch s[0] {
	case '"', '\'':
		q := s[0]
		if len(s) < 2 || s[len(s)-1] != q {
			return nil, false
		}
		v := s[1 : len(s)-1]
		if bytes.IndexByte(v, q) >= 0 || q == '"' && bytes.IndexByte(v, '\\') >= 0 || !printable(v, false) {
			return nil, false
		}
		st := yaml.DoubleQuotedStyle
		if q == '\'' {
			st = yaml.SingleQuotedStyle
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: st, Value: string(v)}, true
	}
	if !plainOK(s) {
		return nil, false
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: string(s)}
	n.Tag = n.ShortTag() // yaml.v3's resolver
	return n, true
}

// plainOK reports whether s is a one-line plain scalar that yaml.v3 reads as
// exactly s.
func plainOK(s []byte) bool {
	if s[0] == ' ' || s[len(s)-1] == ' ' || s[len(s)-1] == ':' {
		return false
	}
	if bytes.IndexByte([]byte("-?:,[]{}#&*!|>'\"%@`<"), s[0]) >= 0 {
		return false
	}
	if bytes.Contains(s, []byte(": ")) || bytes.Contains(s, []byte(" #")) {
		return false
	}
	return printable(s, false)
}

// printable reports whether s is valid UTF-8 of characters yaml.v3 accepts
// in a scalar, without line breaks of any kind (and without tabs unless tab).
func printable(s []byte, tab bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && !(tab && c == '\t') || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 || r < 0xa0 || r == 0x2028 || r == 0x2029 || r == 0xfeff ||
			r >= 0xd800 && r < 0xe000 || r == 0xfffe || r == 0xffff {
			return false
		}
		i += size
	}
	return true
}
