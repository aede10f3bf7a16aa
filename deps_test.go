package chantal_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/formats"
	testformat "github.com/chantal-lite/chantal/formats/formattest/lines"
)

// depsFormat is the lines format where "pN" depends on "p(N+1)", read from
// each item's fragment, as apt reads Depends from its stanza.
type depsFormat struct{ testformat.Format }

func (depsFormat) AddDependencies(ctx context.Context, items []formats.Item, keep []bool) error {
	byName := map[string]int{}
	for i, it := range items {
		byName[it.Name] = i
	}
	for changed := true; changed; {
		changed = false
		for i, it := range items {
			if !keep[i] {
				continue
			}
			line := it.Fragments["line"]
			if len(line) == 0 {
				return errors.New("an item's fragment is gone before the dependency closure")
			}
			var n int
			if _, err := fmt.Sscanf(strings.Fields(string(line))[3], "p%d", &n); err != nil {
				continue
			}
			if j, ok := byName[fmt.Sprintf("p%d", n+1)]; ok && !keep[j] && n < 3 {
				keep[j], changed = true, true
			}
		}
	}
	return nil
}

// TestFilterWithDepsOnALargeUpstream: with more items than one catalog
// batch, the dependency closure still sees every item's fragment.
func TestFilterWithDepsOnALargeUpstream(t *testing.T) {
	up := newUpstream(t)
	for i := range 2500 {
		up.add(fmt.Sprintf("p%d", i), "1.0")
	}
	m := testMirror(t, up.srv.URL, `    filters:
      patterns: {include: ["^p1$"]}
      filter_with_deps: true`, chantal.WithFormats(depsFormat{}))
	rr := mustSync(t, m, chantal.SyncRequest{Repos: []string{"r1"}})
	if rr.Err != nil {
		t.Fatal(rr.Err)
	}
	var got []string
	for _, c := range rr.Added {
		got = append(got, c.Name)
	}
	if strings.Join(got, " ") != "p1 p2 p3" {
		t.Fatalf("kept %v, want p1 and its dependencies p2, p3", got)
	}
}
