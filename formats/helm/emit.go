package helm

import (
	"bytes"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A small block-style YAML emitter for index nodes: several times faster than
// yaml.v3's encoder on large indexes, and simple enough to reason about. A
// string is written plain only when YAML reads it back as the same string;
// everything else is double-quoted (Go quoting is a subset of YAML's
// double-quoted escapes for valid UTF-8, which yaml.v3 guarantees).

// emitMapping writes the pairs of mapping node m at indent (the first line
// starts with first instead of the indent, for sequence items).
func emitMapping(b *bytes.Buffer, m *yaml.Node, indent int, first string, skip func(string) bool) {
	pad := strings.Repeat(" ", indent)
	lead := first
	wrote := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if skip != nil && skip(k.Value) {
			continue
		}
		if wrote || first == "" {
			lead = pad
		}
		wrote = true
		b.WriteString(lead)
		emitScalar(b, k)
		b.WriteByte(':')
		emitValue(b, v, indent)
	}
	if !wrote {
		if first != "" {
			b.WriteString(first)
		} else {
			b.WriteString(pad)
		}
		b.WriteString("{}\n")
	}
}

// emitValue writes v after "key:" (or "-").
func emitValue(b *bytes.Buffer, v *yaml.Node, indent int) {
	switch v.Kind {
	case yaml.MappingNode:
		if len(v.Content) == 0 {
			b.WriteString(" {}\n")
			return
		}
		b.WriteByte('\n')
		emitMapping(b, v, indent+2, "", nil)
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			b.WriteString(" []\n")
			return
		}
		b.WriteByte('\n')
		emitSequence(b, v, indent+2)
	default:
		b.WriteByte(' ')
		emitScalar(b, v)
		b.WriteByte('\n')
	}
}

func emitSequence(b *bytes.Buffer, s *yaml.Node, indent int) {
	pad := strings.Repeat(" ", indent)
	for _, c := range s.Content {
		switch c.Kind {
		case yaml.MappingNode:
			if len(c.Content) == 0 {
				b.WriteString(pad + "- {}\n")
				continue
			}
			emitMapping(b, c, indent+2, pad+"- ", nil)
		case yaml.SequenceNode:
			if len(c.Content) == 0 {
				b.WriteString(pad + "- []\n")
				continue
			}
			b.WriteString(pad + "-\n")
			emitSequence(b, c, indent+2)
		default:
			b.WriteString(pad + "- ")
			emitScalar(b, c)
			b.WriteByte('\n')
		}
	}
}

func emitScalar(b *bytes.Buffer, n *yaml.Node) {
	if n.Kind != yaml.ScalarNode {
		b.WriteString(`""`) // aliases are refused before emitting
		return
	}
	switch n.ShortTag() {
	case "!!str":
		emitString(b, n.Value)
	case "!!null":
		b.WriteString("null")
	case "!!int", "!!float", "!!bool", "!!timestamp":
		if plainTyped(n.Value) {
			b.WriteString(n.Value)
		} else {
			emitString(b, n.Value)
		}
	default:
		emitString(b, n.Value)
	}
}

func emitString(b *bytes.Buffer, s string) {
	if safePlain(s) {
		b.WriteString(s)
		return
	}
	b.WriteString(strconv.Quote(s))
}

// safePlain reports whether s, written plain, reads back as the string s.
func safePlain(s string) bool {
	if s == "" || len(s) > 1024 || s[0] == ' ' || s[len(s)-1] == ' ' || s[len(s)-1] == ':' {
		return false
	}
	c := s[0]
	if c >= '0' && c <= '9' || strings.IndexByte("-+.?:,[]{}#&*!|>'\"%@`~=<", c) >= 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(" ._/-:@+=(),;", c) >= 0) {
			return false
		}
	}
	if strings.Contains(s, ": ") || strings.Contains(s, " #") {
		return false
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf":
		return false
	}
	return true
}

// plainTyped reports whether a non-string scalar's text can be written plain.
func plainTyped(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._:+-", c) >= 0) {
			return false
		}
	}
	return true
}
