package apt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errStanzaTooLong is returned by stanzaReader.next for a stanza longer than
// its limit; the reader has skipped it and can go on.
var errStanzaTooLong = errors.New("stanza too long")

// stanzaReader streams deb822 stanzas (paragraphs) out of a control file such
// as Packages or Sources without holding more than one stanza at a time.
// Paragraphs are separated by lines that are empty or hold only spaces and
// tabs, as apt itself reads them.
type stanzaReader struct {
	br   *bufio.Reader
	max  int
	buf  []byte
	line int
	// start is the line number where the last stanza began.
	start int
}

func newStanzaReader(r io.Reader, max int) *stanzaReader {
	return &stanzaReader{br: bufio.NewReaderSize(r, min(256<<10, max+16)), max: max}
}

// next returns the next stanza's bytes, each line ending in "\n", valid until
// the next call. It returns io.EOF after the last one.
func (s *stanzaReader) next() ([]byte, error) {
	s.buf = s.buf[:0]
	tooLong := false
	for {
		line, err := s.readLine()
		if len(line) > 0 {
			s.line++
			if blank(line) {
				if len(s.buf) > 0 || tooLong {
					break
				}
				continue
			}
			if len(s.buf) == 0 && !tooLong {
				s.start = s.line
			}
			if !tooLong && len(s.buf)+len(line)+1 > s.max {
				tooLong, s.buf = true, s.buf[:0]
			}
			if !tooLong {
				s.buf = append(s.buf, line...)
				if line[len(line)-1] != '\n' {
					s.buf = append(s.buf, '\n')
				}
			}
		}
		if err == io.EOF {
			if len(s.buf) == 0 && !tooLong {
				return nil, io.EOF
			}
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if tooLong {
		return nil, errStanzaTooLong
	}
	return s.buf, nil
}

// readLine returns one line including its "\n"; a line longer than the buffer
// is returned in full (the caller bounds the stanza).
func (s *stanzaReader) readLine() ([]byte, error) {
	line, err := s.br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	long := append([]byte(nil), line...)
	for err == bufio.ErrBufferFull {
		line, err = s.br.ReadSlice('\n')
		if len(long) <= s.max+1 {
			long = append(long, line...)
		}
	}
	return long, err
}

func blank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// A field is one "Name: value" of a stanza. Value is everything after the
// colon with the first line's leading blanks and the final newline removed;
// continuation lines keep their leading blank and are joined with "\n".
type field struct {
	Name, Value []byte
}

// fieldError describes a line of a stanza that is not a field.
type fieldError struct {
	line int
	why  string
}

func (e *fieldError) Error() string { return fmt.Sprintf("line %d of stanza: %s", e.line, e.why) }

// parseFields splits a stanza into its fields, in order. Comment lines
// (starting with "#") are skipped. A line that is neither a field nor a
// continuation, an invalid field name or a field given twice is an error.
func parseFields(raw []byte, out []field) ([]field, error) {
	out = out[:0]
	n := 0
	for len(raw) > 0 {
		n++
		var line []byte
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			line, raw = raw, nil
		}
		if blank(line) {
			return out, &fieldError{n, "blank line inside a stanza"}
		}
		switch line[0] {
		case ' ', '\t':
			if len(out) == 0 {
				return out, &fieldError{n, "continuation line before any field"}
			}
			f := &out[len(out)-1]
			// Values are sub-slices of raw: extend the last one over this line.
			f.Value = extend(f.Value, line)
			continue
		case '#':
			continue
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 || !validName(line[:i]) {
			return out, &fieldError{n, "not a field"}
		}
		name := line[:i]
		for _, f := range out {
			if bytes.EqualFold(f.Name, name) {
				return out, &fieldError{n, "field " + clip(string(name)) + " given twice"}
			}
		}
		v := bytes.TrimLeft(line[i+1:], " \t")
		out = append(out, field{Name: name, Value: v})
	}
	return out, nil
}

// extend returns v grown to also cover line, which follows it in the same
// buffer after one "\n" (or, if v is empty and was trimmed, after the colon).
func extend(v, line []byte) []byte {
	if len(v) == 0 {
		// "Name:" with an empty first line: the value starts with "\n".
		return append([]byte{'\n'}, line...)
	}
	// v and line are adjacent in the stanza buffer, separated by one "\n".
	if cap(v) >= len(v)+1+len(line) {
		ext := v[:len(v)+1+len(line)]
		if ext[len(v)] == '\n' && &ext[len(v)+1] == &line[0] {
			return ext
		}
	}
	nv := make([]byte, 0, len(v)+1+len(line))
	nv = append(nv, v...)
	nv = append(nv, '\n')
	return append(nv, line...)
}

// validName reports whether n is a deb822 field name: printable US-ASCII
// without colon and space, not starting with "#" or "-".
func validName(n []byte) bool {
	if len(n) == 0 || len(n) > 128 || n[0] == '#' || n[0] == '-' {
		return false
	}
	for _, c := range n {
		if c <= 0x20 || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// get returns the value of the field called name (case-insensitive), and
// whether it is present.
func get(fs []field, name string) ([]byte, bool) {
	for _, f := range fs {
		if len(f.Name) == len(name) && bytes.EqualFold(f.Name, []byte(name)) {
			return f.Value, true
		}
	}
	return nil, false
}

// writeField writes "Name: value\n" with value folded: every line after the
// first starts with one blank, a blank line becomes " .", and carriage
// returns and other control characters other than tab are dropped, so that no
// value can end the stanza or start a field.
func writeField(w *bufio.Writer, name string, value []byte) {
	w.WriteString(name)
	w.WriteByte(':')
	first := true
	for {
		var line []byte
		i := bytes.IndexByte(value, '\n')
		if i >= 0 {
			line, value = value[:i], value[i+1:]
		} else {
			line = value
		}
		if first {
			line = bytes.TrimLeft(line, " \t")
			if len(line) > 0 {
				w.WriteByte(' ')
				writeClean(w, line)
			}
			first = false
		} else {
			w.WriteByte('\n')
			line = clean(line)
			if blank(line) {
				w.WriteString(" .")
			} else {
				if line[0] != ' ' && line[0] != '\t' {
					w.WriteByte(' ')
				}
				w.Write(line)
			}
		}
		if i < 0 {
			break
		}
	}
	w.WriteByte('\n')
}

// clean returns b without control characters other than tab.
func clean(b []byte) []byte {
	if !bytes.ContainsFunc(b, isCtl) {
		return b
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if !isCtl(rune(c)) {
			out = append(out, c)
		}
	}
	return out
}

func isCtl(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

func writeClean(w *bufio.Writer, b []byte) {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			continue
		}
		w.WriteByte(c)
	}
}
