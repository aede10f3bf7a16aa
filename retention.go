package chantal

import (
	"context"
	"fmt"
	"strconv"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/formats"
)

// retain applies the repository's retention policy to what a sync wants:
//
//   - mirror (default): the state follows upstream; nothing is added.
//   - keep-all: items upstream (or a filter) dropped stay in the state.
//   - newest-only, keep-last-n: per (name, arch), the newest 1 or keep_count
//     versions among the old state's items and upstream's are kept, in the
//     format's version order; the rest leave the state (and upstream items
//     that lose are not downloaded).
//
// Kept old items are in the catalog, so they are marked known; an old item
// whose blob left the pool cannot be fetched again and is not kept.
// Snapshots are never touched: they hold their own states.
func (rs *repoSync) retain(ctx context.Context, want []wanted, known []bool, old *catalog.State) ([]wanted, []bool, error) {
	pol := rs.rc.Retention.Policy
	if pol == "" || pol == config.RetentionMirror {
		return want, known, nil
	}
	n := 1
	switch pol {
	case config.RetentionKeepAll:
		n = 0
	case config.RetentionKeepLastN:
		n = rs.rc.Retention.KeepCount
	}
	var cmp formats.Comparer
	if n > 0 {
		c, ok := rs.format.(formats.Comparer)
		if !ok {
			return nil, nil, fmt.Errorf("retention %s needs a version order, which format %s lacks", pol, rs.format.Name())
		}
		cmp = c
	}
	paths := make(map[string]bool, len(want))
	for _, w := range want {
		paths[w.Path] = true
	}
	var extra []wanted
	if err := rs.m.view(ctx, func(tx *catalog.Tx) error {
		for _, r := range old.Refs {
			if paths[r.Path] {
				continue // upstream still lists the path (maybe with new bytes: those win)
			}
			it, err := tx.Item(r.Digest)
			if err != nil {
				return fmt.Errorf("retention: %w", err)
			}
			extra = append(extra, wanted{Item: formats.Item{
				Path: r.Path, Size: it.Size, Digest: it.Digest, Checksums: it.Checksums,
				Name: it.Name, Version: it.Version, Arch: it.Arch, Fields: it.Fields,
			}})
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	for _, w := range extra {
		if ok, err := rs.m.pool.Has(w.Digest); err != nil {
			return nil, nil, err
		} else if !ok {
			rs.m.log.Warn("retention: kept item's blob is gone from the pool; dropping it", "repo", rs.rc.ID, "path", w.Path)
			continue
		}
		want = append(want, w)
		known = append(known, true)
	}
	if n == 0 {
		return want, known, nil
	}
	items := make([]formats.Item, len(want))
	for i := range want {
		items[i] = want[i].Item
		items[i].Fragments = nil
		items[i].Path = strconv.Itoa(i) // latestN keeps items; find them again by index
	}
	keep := map[string]bool{}
	for _, it := range latestN(items, n, cmp) {
		keep[it.Path] = true
	}
	var outW []wanted
	var outK []bool
	for i := range want {
		if keep[strconv.Itoa(i)] {
			outW = append(outW, want[i])
			outK = append(outK, known[i])
		}
	}
	return outW, outK, nil
}
