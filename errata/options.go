package errata

import (
	"context"
	"fmt"
)

// Default bounds of Options.
const (
	DefaultMaxAdvisoryBytes = 8 << 20
	DefaultMaxTotalBytes    = 4 << 30
	DefaultMaxAdvisories    = 1 << 20
	maxDepth                = 32 // element / value nesting inside one advisory
)

// Options configure the readers. A nil *Options means the defaults.
type Options struct {
	// Source is stored in every Advisory.Source read (for example
	// "updateinfo:baseos" or "osv:AlmaLinux").
	Source string
	// MaxAdvisoryBytes bounds one advisory: an updateinfo <update>, an
	// OSV document or array element, a zip entry. Default 8 MiB. An
	// oversized updateinfo <update> is skipped; an oversized OSV document
	// is fatal for a stream and skipped in a directory or zip.
	MaxAdvisoryBytes int64
	// MaxTotalBytes bounds the (decompressed) bytes read from a directory
	// or zip. Default 4 GiB.
	MaxTotalBytes int64
	// MaxAdvisories bounds the number of advisories (and of zip entries or
	// files). Default 1Mi.
	MaxAdvisories int
	// Each, when set, receives every advisory as it is read and the
	// reader returns nil instead of collecting them; an error from Each
	// stops the read and is returned as is.
	Each func(Advisory) error
	// OnSkip, when set, is told about every advisory skipped for being
	// malformed or too large. Nil skips silently.
	OnSkip func(*SkipError)
}

// settings is Options with defaults filled in, plus the collector.
type settings struct {
	Options
	out []Advisory
	n   int
}

func newSettings(o *Options) *settings {
	s := &settings{}
	if o != nil {
		s.Options = *o
	}
	if s.MaxAdvisoryBytes <= 0 {
		s.MaxAdvisoryBytes = DefaultMaxAdvisoryBytes
	}
	if s.MaxTotalBytes <= 0 {
		s.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if s.MaxAdvisories <= 0 {
		s.MaxAdvisories = DefaultMaxAdvisories
	}
	return s
}

// emit hands a to Each or collects it.
func (s *settings) emit(ctx context.Context, a Advisory) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.n++
	if s.n > s.MaxAdvisories {
		return tooMany(s.MaxAdvisories)
	}
	if s.Source != "" {
		a.Source = s.Source
	}
	if s.Each != nil {
		return s.Each(a)
	}
	s.out = append(s.out, a)
	return nil
}

func (s *settings) skip(e *SkipError) {
	if s.OnSkip != nil {
		s.OnSkip(e)
	}
}

func tooMany(n int) error {
	return fmt.Errorf("reading advisories: more than %d: %w", n, ErrTooLarge)
}
