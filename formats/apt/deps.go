package apt

import (
	"context"
	"strings"

	"github.com/chantal-lite/chantal/formats"
)

// relation is one alternative of a dependency: a package name with an
// optional version constraint.
type relation struct {
	name, op, version string
}

// parseRelations splits a Depends-style value into groups of alternatives,
// dropping architecture qualifiers (":any"), architecture restrictions
// ("[amd64]") and build profiles ("<!nocheck>").
func parseRelations(v string) [][]relation {
	var out [][]relation
	for group := range strings.SplitSeq(v, ",") {
		var alts []relation
		for alt := range strings.SplitSeq(group, "|") {
			alt = stripQualifiers(alt)
			var r relation
			if i := strings.IndexByte(alt, '('); i >= 0 {
				c := strings.TrimSuffix(strings.TrimSpace(alt[i+1:]), ")")
				alt = alt[:i]
				for _, op := range []string{"<<", "<=", ">=", ">>", "=", "<", ">"} {
					if strings.HasPrefix(c, op) {
						r.op, r.version = op, strings.TrimSpace(c[len(op):])
						break
					}
				}
			}
			r.name = strings.TrimSpace(alt)
			if i := strings.IndexByte(r.name, ':'); i >= 0 {
				r.name = r.name[:i]
			}
			if r.name != "" {
				alts = append(alts, r)
			}
		}
		if len(alts) > 0 {
			out = append(out, alts)
		}
	}
	return out
}

// stripQualifiers drops architecture restrictions ("[amd64]") and build
// profiles ("<!nocheck>") outside the version constraint's parentheses.
func stripQualifiers(s string) string {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '[', '<':
			if depth == 0 {
				return s[:i]
			}
		}
	}
	return s
}

func (r relation) satisfiedBy(version string) bool {
	if r.op == "" {
		return true
	}
	c := CompareVersions(version, r.version)
	switch r.op {
	case "<<", "<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case ">>", ">":
		return c > 0
	}
	return false
}

// AddDependencies implements formats.DependencyResolver: it extends the
// selection with the Depends and Pre-Depends closure of the selected binary
// packages within items. For each dependency the first alternative that some
// item satisfies (by name and version, or by a Provides) is followed, unless
// an already selected item satisfies one of the alternatives.
func (f *Format) AddDependencies(ctx context.Context, items []formats.Item, keep []bool) error {
	type provider struct {
		i       int
		version string // "" for an unversioned Provides
	}
	by := map[string][]provider{}
	fs := []field{}
	rels := make([][][]relation, len(items))
	for i := range items {
		it := &items[i]
		if it.Arch == "source" {
			continue
		}
		by[it.Name] = append(by[it.Name], provider{i, it.Version})
		var err error
		if fs, err = parseFields(it.Fragments[FragmentStanza], fs); err != nil {
			continue
		}
		if v, ok := get(fs, "Provides"); ok {
			for _, g := range parseRelations(string(v)) {
				for _, r := range g {
					pv := ""
					if r.op == "=" {
						pv = r.version
					}
					by[r.name] = append(by[r.name], provider{i, pv})
				}
			}
		}
		for _, n := range []string{"Pre-Depends", "Depends"} {
			if v, ok := get(fs, n); ok {
				rels[i] = append(rels[i], parseRelations(string(v))...)
			}
		}
	}
	matches := func(r relation) []int {
		var out []int
		for _, p := range by[r.name] {
			if r.op != "" && (p.version == "" || !r.satisfiedBy(p.version)) {
				continue
			}
			out = append(out, p.i)
		}
		return out
	}
	var work []int
	for i := range items {
		if keep[i] {
			work = append(work, i)
		}
	}
	for n := 0; len(work) > 0; n++ {
		if n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		i := work[len(work)-1]
		work = work[:len(work)-1]
	groups:
		for _, g := range rels[i] {
			for _, r := range g {
				for _, j := range matches(r) {
					if keep[j] {
						continue groups
					}
				}
			}
			for _, r := range g {
				if m := matches(r); len(m) > 0 {
					for _, j := range m {
						if !keep[j] {
							keep[j] = true
							work = append(work, j)
						}
					}
					break
				}
			}
		}
	}
	return nil
}
