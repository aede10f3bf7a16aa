package config

import (
	"errors"
	"strconv"
)

// ErrNoConfig is returned by Find when no configuration file exists in any of
// the places it looks. The wrapping error lists the places tried.
var ErrNoConfig = errors.New("config: no configuration file found")

// ErrInvalid matches (with errors.Is) every *Error: a configuration that is
// malformed or inconsistent. Load, Parse and Validate return it.
var ErrInvalid = errors.New("config: invalid configuration")

// An Error is one problem in a configuration file. Load, Parse and Validate
// return one *Error, or several joined with errors.Join.
type Error struct {
	File string // file name as given to Load or found by include; may be empty
	Line int    // 1-based; 0 when unknown
	Msg  string
	Err  error // underlying cause, if any (a read error, a regexp error …)
}

func (e *Error) Error() string {
	s := e.Msg
	switch {
	case e.File != "" && e.Line > 0:
		s = e.File + ":" + strconv.Itoa(e.Line) + ": " + s
	case e.File != "":
		s = e.File + ": " + s
	case e.Line > 0:
		s = "line " + strconv.Itoa(e.Line) + ": " + s
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes every *Error match ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// pos is where a value was written.
type pos struct {
	file string
	line int
}

// errorList collects *Error values.
type errorList []error

func (l *errorList) add(p pos, msg string, cause error) {
	*l = append(*l, &Error{File: p.file, Line: p.line, Msg: msg, Err: cause})
}

func (l errorList) err() error {
	switch len(l) {
	case 0:
		return nil
	case 1:
		return l[0]
	}
	return errors.Join(l...)
}
