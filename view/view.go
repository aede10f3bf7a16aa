// Package view combines the items and repo-level files of several
// repositories or snapshots of one format into the input of one published
// repository.
//
// # Collision rule
//
// Members are taken in configuration order (a view's repos in the order
// listed, then its snapshots in the order listed). When two members hold an
// item at the same publish path, or an item of the same name, version and
// architecture (at any path), the first member's item is kept and the later
// one is dropped and reported as a Collision. Within one member nothing is
// dropped: what a member holds was already reconciled by its sync. Two
// members' repo-level files at the same path are kept once when their bytes
// are equal; otherwise the first member's file wins and the other is
// reported.
//
// # Repo-level files of one kind from several members
//
// Every member's files reach Format.Render, so each format decides what
// several files of one Kind mean. At the time of writing: rpm copies every
// comps, modules and other kept file (two with the same base name fail the
// render, which cannot happen for upstream's checksum-prefixed names) and
// merges every member's updateinfo into one (an advisory id several members
// list keeps the first member's copy), pruned to the published packages;
// apt and helm regenerate their indexes from the items and ignore member
// indexes. A view always renders in filtered mode, never verbatim.
package view

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/chantal-lite/chantal/formats"
)

// A Member is one member of a view with what it holds.
type Member struct {
	// Name identifies the member in reports: REPO or REPO/SNAPSHOT.
	Name  string
	Items []formats.Item
	Files []formats.File
}

// Collision reasons.
const (
	SamePath     = "path"     // two items at one publish path
	SameIdentity = "identity" // two items of one name, version and arch
	SameFile     = "file"     // two repo-level files at one path with other bytes
)

// A Collision is an item or file of a later member dropped for an earlier
// member's.
type Collision struct {
	Reason string `json:"reason"` // SamePath, SameIdentity or SameFile
	Path   string `json:"path"`   // the dropped item's or file's path
	// Name, Version and Arch identify the dropped item (empty for files).
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	Arch    string `json:"arch,omitempty"`
	// Kept is the member whose item or file stays (at KeptPath); Dropped the
	// member whose one was left out.
	Kept     string `json:"kept"`
	KeptPath string `json:"kept_path"`
	Dropped  string `json:"dropped"`
}

// Merged is the union of a view's members.
type Merged struct {
	Items      []formats.Item // sorted by Path
	Files      []formats.File // sorted by Path
	Collisions []Collision    // in member order, then path order
}

type identity struct{ name, version, arch string }

type owner struct {
	member string
	path   string
}

// KindAdvisories is the File.Kind of a state's advisory set
// (catalog.FileKindAdvisories): state bookkeeping that is never rendered,
// so Merge drops such files.
const KindAdvisories = "advisories"

// Merge unions members under the collision rule of the package
// documentation, dropping files of Kind KindAdvisories. Members' slices
// are not modified.
func Merge(members []Member) *Merged {
	n := 0
	for _, m := range members {
		n += len(m.Items)
	}
	out := &Merged{Items: make([]formats.Item, 0, n)}
	byPath := make(map[string]owner, n)
	byID := make(map[identity]owner, n)
	for _, m := range members {
		items := slices.Clone(m.Items)
		slices.SortStableFunc(items, func(a, b formats.Item) int { return strings.Compare(a.Path, b.Path) })
		// Identities count against later members only: registered after
		// the member's own items.
		mine := map[identity]owner{}
		for _, it := range items {
			id := identity{it.Name, it.Version, it.Arch}
			c := Collision{Path: it.Path, Name: it.Name, Version: it.Version, Arch: it.Arch, Dropped: m.Name}
			if o, ok := byPath[it.Path]; ok {
				c.Reason, c.Kept, c.KeptPath = SamePath, o.member, o.path
				out.Collisions = append(out.Collisions, c)
				continue
			}
			if o, ok := byID[id]; ok && it.Name != "" {
				c.Reason, c.Kept, c.KeptPath = SameIdentity, o.member, o.path
				out.Collisions = append(out.Collisions, c)
				continue
			}
			if _, ok := mine[id]; !ok && it.Name != "" {
				mine[id] = owner{m.Name, it.Path}
			}
			byPath[it.Path] = owner{m.Name, it.Path}
			out.Items = append(out.Items, it)
		}
		for id, o := range mine {
			byID[id] = o
		}
	}
	slices.SortStableFunc(out.Items, func(a, b formats.Item) int { return strings.Compare(a.Path, b.Path) })

	files := map[string]int{} // path → index in out.Files
	fileOwner := map[string]string{}
	for _, m := range members {
		for _, f := range m.Files {
			if f.Kind == KindAdvisories {
				continue
			}
			if i, ok := files[f.Path]; ok {
				if out.Files[i].Digest != f.Digest {
					out.Collisions = append(out.Collisions, Collision{Reason: SameFile, Path: f.Path, Kept: fileOwner[f.Path], KeptPath: f.Path, Dropped: m.Name})
				}
				continue
			}
			files[f.Path] = len(out.Files)
			fileOwner[f.Path] = m.Name
			out.Files = append(out.Files, f)
		}
	}
	slices.SortStableFunc(out.Files, func(a, b formats.File) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Key combines the identities of a view's member states (for example
// catalog state ids, in member order) into one identity of the view's
// content: equal keys mean the view publishes the same thing.
func Key(memberStates []string) string {
	h := sha256.New()
	for _, s := range memberStates {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
