package lines_test

import (
	"fmt"
	"testing"

	"github.com/chantal-lite/chantal/formats/formattest"
	testformat "github.com/chantal-lite/chantal/formats/formattest/lines"
)

func upstream() *formattest.MemFS {
	fs := &formattest.MemFS{}
	pkgs := map[string][]byte{}
	for i := 0; i < 5; i++ {
		p := fmt.Sprintf("pkgs/p%d-1.%d.noarch.pkg", i, i)
		pkgs[p] = []byte(fmt.Sprintf("payload %d", i))
		fs.Put(p, pkgs[p])
	}
	fs.Put(testformat.Index, testformat.Build(pkgs, func(p string) (string, string, string) {
		var i int
		fmt.Sscanf(p, "pkgs/p%d-", &i)
		return fmt.Sprintf("p%d", i), fmt.Sprintf("1.%d", i), "noarch"
	}))
	return fs
}

func TestConformance(t *testing.T) {
	formattest.Run(t, testformat.Format{}, formattest.Fixture{Upstream: upstream(), MinItems: 5})
}

func TestCompare(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"1.0", "1.0", 0}, {"1.2", "1.10", -1}, {"2", "1.9", 1}, {"1", "1.0", 0}} {
		if got := (testformat.Format{}).Compare(c.a, c.b); got != c.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
