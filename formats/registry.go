package formats

import (
	"fmt"
	"sort"
)

// Registry holds the formats a Mirror knows, by name. It is built once and
// read-only afterwards, so it is safe for concurrent use.
type Registry struct {
	byName map[string]Format
}

// NewRegistry returns a Registry of fs. Two formats with one name, an empty name
// or a nil format are errors.
func NewRegistry(fs ...Format) (*Registry, error) {
	r := &Registry{byName: make(map[string]Format, len(fs))}
	for _, f := range fs {
		if f == nil {
			return nil, fmt.Errorf("formats: nil format")
		}
		n := f.Name()
		if !validName(n) {
			return nil, fmt.Errorf("formats: invalid format name %q", n)
		}
		if _, dup := r.byName[n]; dup {
			return nil, fmt.Errorf("formats: format %q registered twice", n)
		}
		r.byName[n] = f
	}
	return r, nil
}

// Lookup returns the format called name, or an error wrapping ErrUnknownFormat.
func (r *Registry) Lookup(name string) (Format, error) {
	if r != nil {
		if f, ok := r.byName[name]; ok {
			return f, nil
		}
	}
	return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownFormat, name, r.Names())
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	ns := make([]string, 0, len(r.byName))
	for n := range r.byName {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func validName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ParseMode parses a repository mode; the empty string means ModeFiltered.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "":
		return ModeFiltered, nil
	case ModeMirror, ModeFiltered, ModeHosted:
		return Mode(s), nil
	}
	return "", fmt.Errorf("formats: unknown mode %q (want mirror, filtered or hosted)", s)
}
