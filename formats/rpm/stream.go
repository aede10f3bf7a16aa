package rpm

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
)

// recorder feeds an xml.Decoder byte by byte (as an io.ByteReader, so the
// decoder adds no buffering of its own) and keeps the bytes from offset base on,
// so that the raw text of an element can be cut out by Decoder.InputOffset.
type recorder struct {
	r    *bufio.Reader
	buf  []byte
	base int64 // stream offset of buf[0]
	max  int64
	err  error
}

func (r *recorder) ReadByte() (byte, error) {
	if r.err != nil {
		return 0, r.err
	}
	c, err := r.r.ReadByte()
	if err != nil {
		return 0, err
	}
	if int64(len(r.buf)) >= r.max {
		r.err = fmt.Errorf("%w: one element is longer than %d bytes", ErrTooLarge, r.max)
		return 0, r.err
	}
	r.buf = append(r.buf, c)
	return c, nil
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

// drop forgets the bytes before stream offset off.
func (r *recorder) drop(off int64) {
	k := off - r.base
	if k <= 0 {
		return
	}
	if k > int64(len(r.buf)) {
		k = int64(len(r.buf))
	}
	n := copy(r.buf, r.buf[k:])
	r.buf = r.buf[:n]
	r.base += k
}

// slice returns a copy of the bytes between stream offsets from and to.
func (r *recorder) slice(from, to int64) []byte {
	if from < r.base || to-r.base > int64(len(r.buf)) || from > to {
		return nil
	}
	return append([]byte(nil), r.buf[from-r.base:to-r.base]...)
}

// elemStream walks the children named "package" of a metadata document's root
// element and decodes each into a value while keeping its verbatim bytes.
type elemStream struct {
	name     string
	dec      *xml.Decoder
	rec      *recorder
	depth    int
	rootSeen bool
	done     bool
}

func newElemStream(r io.Reader, name string, maxHeld int64) *elemStream {
	rec := &recorder{r: bufio.NewReaderSize(r, 64<<10), max: maxHeld}
	d := xml.NewDecoder(rec)
	d.Strict = true
	return &elemStream{name: name, dec: d, rec: rec}
}

// next decodes the next <package> child of the root into v and returns its
// verbatim bytes, or io.EOF after the root element ends.
func (s *elemStream) next(v any) ([]byte, error) {
	if s.done {
		return nil, io.EOF
	}
	for {
		off := s.dec.InputOffset()
		s.rec.drop(off)
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
				raw := s.rec.slice(off, s.dec.InputOffset())
				if raw == nil {
					return nil, fmt.Errorf("parsing %s: %w: lost track of element bytes", s.name, ErrMalformed)
				}
				return raw, nil
			}
			if s.depth >= 1 {
				// Unknown child of the root: skip it whole.
				if err := s.dec.Skip(); err != nil {
					return nil, s.wrap(err)
				}
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

func (s *elemStream) wrap(err error) error {
	if s.rec.err != nil {
		return fmt.Errorf("parsing %s: %w", s.name, s.rec.err)
	}
	if _, ok := err.(*xml.SyntaxError); ok {
		return fmt.Errorf("parsing %s: %w: %v", s.name, ErrMalformed, err)
	}
	return fmt.Errorf("parsing %s: %w", s.name, err)
}
