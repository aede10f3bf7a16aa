package view

import (
	"slices"
	"strings"

	"github.com/chantal-lite/chantal/errata"
	"github.com/chantal-lite/chantal/formats"
)

// ErrataRequest is the input of an errata-filtered view: a base published
// in full, the members searched for the advisories' packages, and the
// advisories already selected (see errata.Criteria).
type ErrataRequest struct {
	Base    Member
	Members []Member
	// Advisories are the selected advisories, narrowed to the view's
	// ecosystem (errata.Advisory.ForEcosystem).
	Advisories []errata.Advisory
	// Compare orders versions of the view's format; nil means byte order.
	Compare func(a, b string) int
}

// ErrataFilter returns the base's items and files plus, from the members,
// the packages the advisories name: for an advisory package with an exact
// build (updateinfo), every member item of that name and architecture at
// exactly that version; for one with fixed versions only (OSV), the lowest
// member version of that name (or of one of its binaries) that the
// advisory says fixes it. The base wins collisions (see Merge); files come
// from the base only, so the caller adds the updateinfo of the selection.
func ErrataFilter(req ErrataRequest) *Merged {
	cmp := req.Compare
	if cmp == nil {
		cmp = strings.Compare
	}
	byName := map[string][]*formats.Item{}
	for mi := range req.Members {
		for ii := range req.Members[mi].Items {
			it := &req.Members[mi].Items[ii]
			byName[it.Name] = append(byName[it.Name], it)
			if src := it.Fields["source"]; src != "" && src != it.Name {
				byName[src] = append(byName[src], it) // advisories of Debian and Ubuntu name source packages
			}
		}
	}
	picked := map[string]bool{} // path
	var extra []formats.Item
	pick := func(it *formats.Item) {
		if !picked[it.Path] {
			picked[it.Path] = true
			extra = append(extra, *it)
		}
	}
	for ai := range req.Advisories {
		a := &req.Advisories[ai]
		for pi := range a.Packages {
			p := &a.Packages[pi]
			var names []string
			if p.Version != "" {
				evr := p.EVR()
				for _, it := range byName[p.Name] {
					if errata.ArchMatches(p.Arch, it.Arch) && cmp(it.Version, evr) == 0 {
						pick(it)
					}
				}
			} else {
				names = append(names, p.Name)
			}
			for _, b := range p.Binaries {
				names = append(names, b.Name)
			}
			for _, n := range names {
				// The lowest fixing version per architecture, every
				// package of that name (or source) at it.
				low := map[string]string{}
				for _, it := range byName[n] {
					if !errata.ArchMatches(p.Arch, it.Arch) || !a.Fixes(n, it.Version, it.Arch, cmp) {
						continue
					}
					if cur, ok := low[it.Arch]; !ok || cmp(it.Version, cur) < 0 {
						low[it.Arch] = it.Version
					}
				}
				for _, it := range byName[n] {
					if v, ok := low[it.Arch]; ok && cmp(it.Version, v) == 0 {
						pick(it)
					}
				}
			}
		}
	}
	slices.SortFunc(extra, func(a, b formats.Item) int { return strings.Compare(a.Path, b.Path) })
	base := req.Base
	merged := Merge([]Member{{Name: base.Name, Items: base.Items, Files: base.Files}, {Name: "errata", Items: extra}})
	return merged
}
