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
	va, ea := semver.NewVersion(a)
	vb, eb := semver.NewVersion(b)
	switch {
	case ea != nil && eb != nil:
		return strings.Compare(a, b)
	case ea != nil:
		return -1
	case eb != nil:
		return 1
	}
	if c := va.Compare(vb); c != 0 {
		return c
	}
	return 0
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
