package rpm

import (
	"encoding/xml"
	"fmt"
	"io"
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
	if r.err != nil {
		return 0, r.err
	}
	// Everything in buf is read; buf[keep:] is held.
	held := int64(len(r.buf) - r.keep)
	if held >= r.max {
		r.err = fmt.Errorf("%w: one element is longer than %d bytes", ErrTooLarge, r.max)
		return 0, r.err
	}
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
type elemStream struct {
	name     string
	dec      *xml.Decoder
	rec      *recorder
	depth    int
	rootSeen bool
	done     bool
}

func newElemStream(r io.Reader, name string, maxHeld int64) *elemStream {
	rec := &recorder{src: r, max: maxHeld}
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
