package helm_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/formats/helm"
)

// TestCompareSemVerSpec checks the precedence example of SemVer 2.0.0 §11 and
// the rules of the original's #120.
func TestCompareSemVerSpec(t *testing.T) {
	f := helm.New(nil)
	order := []string{
		"not-a-version",
		"0.9.0",
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
		"1.0.1", "1.2.0", "1.10.0", "v2.0.0", "10.0.0",
	}
	for i := range order {
		for j := range order {
			got := sign(f.Compare(order[i], order[j]))
			want := sign(i - j)
			if got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	for _, eq := range [][2]string{{"1.0.0+build.1", "1.0.0+build.2"}, {"v1.2.3", "1.2.3"}, {"1.0.0-1", "1.0.0-1+x"}} {
		if c := f.Compare(eq[0], eq[1]); c != 0 {
			t.Errorf("Compare(%q, %q) = %d, want 0 (build metadata and a leading v ignored)", eq[0], eq[1], c)
		}
	}
	shuffled := append([]string(nil), order...)
	sort.Strings(shuffled)
	sort.SliceStable(shuffled, func(i, j int) bool { return f.Compare(shuffled[i], shuffled[j]) < 0 })
	if strings.Join(shuffled, " ") != strings.Join(order, " ") {
		t.Errorf("sorted: %v", shuffled)
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestMatchVersion(t *testing.T) {
	f := helm.New(nil)
	for _, c := range []struct {
		constraint, version string
		want                bool
	}{
		{">=1.2, <2", "1.2.0", true},
		{">=1.2, <2", "2.0.0", false},
		{">=1.2, <2", "1.5.0-rc.1", false}, // pre-releases only match constraints that name one
		{">=1.5.0-0", "1.5.0-rc.1", true},
		{"~1.4", "1.4.9", true},
		{"~1.4", "1.5.0", false},
		{"^2 || 3.x", "3.7.1", true},
		{"^2 || 3.x", "4.0.0", false},
		{"*", "0.0.1", true},
		{">=1", "garbage", false},
	} {
		got, err := f.MatchVersion(c.constraint, c.version)
		if err != nil || got != c.want {
			t.Errorf("MatchVersion(%q, %q) = %v, %v; want %v", c.constraint, c.version, got, err, c.want)
		}
	}
	if _, err := f.MatchVersion(">>1", "1.0.0"); err == nil {
		t.Error("MatchVersion accepted an invalid constraint")
	}
}
