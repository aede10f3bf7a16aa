package config

import "regexp"

// A Matcher decides whether a name passes include and exclude regular
// expressions: an empty include list admits every name, and a name that
// matches any exclude expression is refused. Expressions are searched
// (unanchored) in the name; write ^ and $ to anchor them.
type Matcher struct {
	include, exclude []*regexp.Regexp
}

// CompileMatcher compiles include and exclude expressions (RE2 syntax).
func CompileMatcher(include, exclude []string) (*Matcher, error) {
	m := &Matcher{}
	for _, l := range []struct {
		src []string
		dst *[]*regexp.Regexp
	}{{include, &m.include}, {exclude, &m.exclude}} {
		for _, s := range l.src {
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, err
			}
			*l.dst = append(*l.dst, re)
		}
	}
	return m, nil
}

// Matcher compiles the lists as regular expressions. For a Config returned
// by Load or Parse the error is always nil.
func (l IncludeExclude) Matcher() (*Matcher, error) { return CompileMatcher(l.Include, l.Exclude) }

// Match reports whether name passes. A nil Matcher admits everything.
func (m *Matcher) Match(name string) bool {
	if m == nil {
		return true
	}
	for _, re := range m.exclude {
		if re.MatchString(name) {
			return false
		}
	}
	if len(m.include) == 0 {
		return true
	}
	for _, re := range m.include {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}
