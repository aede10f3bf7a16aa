package errata

import (
	"slices"
	"strings"
	"time"
)

// Criteria select advisories; Filter keeps those matching every set field.
// The zero value matches every advisory that is not withdrawn.
type Criteria struct {
	// Types keeps advisories of any of these types; empty keeps all.
	Types []Type
	// MinSeverity keeps advisories at least this severe; SeverityNone
	// keeps all.
	MinSeverity Severity
	// CVEs keeps advisories naming at least one of these (any case).
	CVEs []string
	// IDs keeps advisories whose ID is one of these (exact).
	IDs []string
	// IssuedSince keeps advisories issued at or after it; IssuedBefore
	// those issued strictly before it. Zero times do not restrict.
	IssuedSince  time.Time
	IssuedBefore time.Time
	// IncludeWithdrawn keeps advisories that were withdrawn upstream.
	IncludeWithdrawn bool
}

// Match reports whether a satisfies c.
func (c *Criteria) Match(a *Advisory) bool {
	switch {
	case !c.IncludeWithdrawn && !a.Withdrawn.IsZero():
		return false
	case len(c.Types) > 0 && !slices.Contains(c.Types, a.Type):
		return false
	case a.Severity < c.MinSeverity:
		return false
	case len(c.IDs) > 0 && !slices.Contains(c.IDs, a.ID):
		return false
	case !c.IssuedSince.IsZero() && a.Issued.Before(c.IssuedSince):
		return false
	case !c.IssuedBefore.IsZero() && !a.Issued.Before(c.IssuedBefore):
		return false
	}
	if len(c.CVEs) > 0 {
		have := a.CVEs()
		return slices.ContainsFunc(c.CVEs, func(s string) bool {
			_, ok := slices.BinarySearch(have, strings.ToUpper(strings.TrimSpace(s)))
			return ok
		})
	}
	return true
}

// Filter returns the advisories of advs that match c, in their order. advs
// is not modified.
func Filter(advs []Advisory, c Criteria) []Advisory {
	var out []Advisory
	for i := range advs {
		if c.Match(&advs[i]) {
			out = append(out, advs[i])
		}
	}
	return out
}

// ArchMatches reports whether a package an advisory lists for arch have
// applies to a package of arch want: equal, either empty, or noarch on either
// side; source packages only match "src".
func ArchMatches(have, want string) bool {
	switch {
	case have == want, have == "", want == "":
		return true
	case have == "src" || want == "src":
		return false
	case have == "noarch" || want == "noarch":
		return true
	}
	return false
}

// Fixes reports whether a package name at version (and arch; "" for any)
// includes the fix the advisory names: version is at or beyond one of the
// package's fixed versions (or a fixed binary's version) and the advisory
// does not call it affected (Affected). An advisory covering several
// distribution releases is judged over all of them; narrow it first with
// ForEcosystem. cmp orders versions of the package's ecosystem
// (RPM EVR, dpkg, SemVer ...) like strings.Compare.
func (a *Advisory) Fixes(name, version, arch string, cmp func(a, b string) int) bool {
	if a.Affected(name, version, cmp) {
		return false
	}
	for i := range a.Packages {
		p := &a.Packages[i]
		if !ArchMatches(p.Arch, arch) {
			continue
		}
		if p.Name == name && p.Fixes(version, cmp) {
			return true
		}
		for _, b := range p.Binaries {
			if b.Name == name && b.Version != "" && cmp(version, b.Version) >= 0 {
				return true
			}
		}
	}
	return false
}

// Fixes reports whether version of this package includes the fix: it is
// at or beyond a fixed version and not affected.
func (p *Package) Fixes(version string, cmp func(a, b string) int) bool {
	if p.Affected(version, cmp) {
		return false
	}
	for _, fv := range p.FixedVersions() {
		if cmp(version, fv) >= 0 {
			return true
		}
	}
	return false
}

// Affected reports whether the advisory says package name at version is
// affected: it is one of a matching package's explicit Versions or inside
// one of its ECOSYSTEM or SEMVER ranges (evaluated with cmp as the OSV
// schema describes). GIT ranges cannot be evaluated on versions and are
// ignored.
func (a *Advisory) Affected(name, version string, cmp func(a, b string) int) bool {
	for i := range a.Packages {
		p := &a.Packages[i]
		if p.Name == name && p.Affected(version, cmp) {
			return true
		}
	}
	return false
}

// Affected reports whether version is one of p's explicit Versions or in
// one of its ranges.
func (p *Package) Affected(version string, cmp func(a, b string) int) bool {
	for _, v := range p.Versions {
		if v == version || cmp(v, version) == 0 {
			return true
		}
	}
	for i := range p.Ranges {
		if p.Ranges[i].Includes(version, cmp) {
			return true
		}
	}
	return false
}

// eventVersion returns the version an event names and whether it is the
// "0" introduced event (before every version).
func eventVersion(e *Event) (v string, zero bool) {
	switch {
	case e.Introduced != "":
		return e.Introduced, e.Introduced == "0"
	case e.Fixed != "":
		return e.Fixed, false
	case e.LastAffected != "":
		return e.LastAffected, false
	}
	return e.Limit, false
}

// Includes reports whether version is in the range, following the OSV
// evaluation: events sorted by version, an introduced event opens the
// range, a fixed event (version >= fixed) or a last_affected event
// (version > last_affected) closes it; limit events, when present, bound
// the range from above ("*" is unbounded). GIT ranges report false.
func (r *Range) Includes(version string, cmp func(a, b string) int) bool {
	if r.Type == "GIT" || len(r.Events) == 0 {
		return false
	}
	evs := slices.Clone(r.Events)
	slices.SortStableFunc(evs, func(x, y Event) int {
		vx, zx := eventVersion(&x)
		vy, zy := eventVersion(&y)
		switch {
		case zx && zy:
			return 0
		case zx:
			return -1
		case zy:
			return 1
		}
		return cmp(vx, vy)
	})
	in := false
	limited, underLimit := false, false
	for i := range evs {
		e := &evs[i]
		switch {
		case e.Introduced != "":
			if e.Introduced == "0" || cmp(version, e.Introduced) >= 0 {
				in = true
			}
		case e.Fixed != "":
			if cmp(version, e.Fixed) >= 0 {
				in = false
			}
		case e.LastAffected != "":
			if cmp(version, e.LastAffected) > 0 {
				in = false
			}
		case e.Limit != "":
			limited = true
			if e.Limit == "*" || cmp(version, e.Limit) < 0 {
				underLimit = true
			}
		}
	}
	return in && (!limited || underLimit)
}

// ForEcosystem returns a copy of a that keeps only the packages of
// ecosystem (normalised: "rpm", "deb", "npm" ...) and, when release is not
// "", of that distribution release. Slices other than Packages are shared.
func (a *Advisory) ForEcosystem(ecosystem, release string) Advisory {
	c := *a
	c.Packages = nil
	for _, p := range a.Packages {
		if p.Ecosystem == ecosystem && (release == "" || p.DistroRelease == release) {
			c.Packages = append(c.Packages, p)
		}
	}
	return c
}
