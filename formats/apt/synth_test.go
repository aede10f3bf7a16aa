package apt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/formats/formattest"
)

// syntheticRepo builds an unsigned dists/x/ tree with the given indexes
// (paths relative to dists/x/) and a Release listing them.
func syntheticRepo(t testing.TB, idx map[string]string) *formattest.MemFS {
	t.Helper()
	m := &formattest.MemFS{}
	var ps []string
	for p := range idx {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	var b strings.Builder
	b.WriteString("Suite: x\nCodename: x\nComponents: main\nArchitectures: amd64\nSHA256:\n")
	for _, p := range ps {
		s := sha256.Sum256([]byte(idx[p]))
		fmt.Fprintf(&b, " %s %d %s\n", hex.EncodeToString(s[:]), len(idx[p]), p)
		m.Put("dists/x/"+p, []byte(idx[p]))
	}
	m.Put("dists/x/Release", []byte(b.String()))
	return m
}
