package helm

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Compare implements formats.Comparer in SemVer 2.0.0 order, as Helm sorts
// chart versions: an optional leading "v", a pre-release below its release,
// pre-release identifiers numeric-by-value below alphanumeric, build metadata
// ignored. A version that is not SemVer sorts below every valid one, and two
// invalid ones compare as strings. Versions equal in SemVer order but written
// differently ("1.0.0+a", "1.0.0+b") compare by their text, so the order is total.
func (f *Format) Compare(a, b string) int {
	va, _ := semver.NewVersion(a)
	vb, _ := semver.NewVersion(b)
	return compareParsed(a, b, va, vb)
}

// compareParsed is Compare with the versions already parsed (nil when not
// SemVer).
func compareParsed(a, b string, va, vb *semver.Version) int {
	switch {
	case va == nil && vb == nil:
		return strings.Compare(a, b)
	case va == nil:
		return -1
	case vb == nil:
		return 1
	}
	return va.Compare(vb)
}

// MatchVersion implements formats.VersionMatcher with Masterminds/semver
// constraints (">=1.2, <2", "~1.4", "^2 || 3.x"), the syntax Helm's --version
// uses. As there, a pre-release only matches a constraint that names one.
// A version that is not SemVer matches nothing.
func (f *Format) MatchVersion(constraint, version string) (bool, error) {
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return false, fmt.Errorf("parsing version constraint %q: %w", clip(constraint), err)
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return false, nil
	}
	return c.Check(v), nil
}
