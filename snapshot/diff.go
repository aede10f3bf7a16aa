package snapshot

import (
	"errors"
	"slices"
	"strings"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/formats"
)

// A Group is one (name, arch) whose references differ between two states.
type Group struct {
	Name string `json:"name"`
	Arch string `json:"arch"`
	// Old are the versions only the first state holds and New those only
	// the second holds, each sorted ascending in the format's version order
	// and without duplicates. A version in both means the same version with
	// other bytes, another path or other attributes.
	Old []string `json:"old,omitempty"`
	New []string `json:"new,omitempty"`
	// OldPaths and NewPaths are the differing references' paths, sorted.
	OldPaths []string `json:"old_paths,omitempty"`
	NewPaths []string `json:"new_paths,omitempty"`
}

// A Result is the difference between two states, grouped by (name, arch).
type Result struct {
	// Equal is set when both states have the same id; nothing was read.
	Equal bool `json:"equal"`
	// Added groups are (name, arch) pairs only the second state has
	// changes for; Removed only the first. Upgraded groups have a newest
	// New version above the newest Old one, Downgraded below. Changed
	// groups have the same newest version on both sides: rebuilt bytes, a
	// moved path or changed attributes.
	Added      []Group `json:"added"`
	Removed    []Group `json:"removed"`
	Upgraded   []Group `json:"upgraded"`
	Downgraded []Group `json:"downgraded"`
	Changed    []Group `json:"changed"`
	// FilesAdded, FilesRemoved and FilesChanged list repo-level file paths.
	FilesAdded   []string `json:"files_added,omitempty"`
	FilesRemoved []string `json:"files_removed,omitempty"`
	FilesChanged []string `json:"files_changed,omitempty"`
}

// Empty reports whether r holds no difference.
func (r *Result) Empty() bool {
	return len(r.Added)+len(r.Removed)+len(r.Upgraded)+len(r.Downgraded)+len(r.Changed)+
		len(r.FilesAdded)+len(r.FilesRemoved)+len(r.FilesChanged) == 0
}

type groupKey struct{ name, arch string }

type side struct {
	versions, paths []string
}

// Diff compares states a (old) and b (new). Equal ids answer at once;
// otherwise catalog.Tx.DiffStates walks only the chunks that differ and each
// differing reference's item is read once, so time and memory follow the
// size of the change. cmp orders versions; nil means byte order.
func Diff(tx *catalog.Tx, a, b catalog.StateID, cmp formats.Comparer) (*Result, error) {
	res := &Result{}
	if a == b || a.IsZero() && b.IsZero() {
		res.Equal = true
		return res, nil
	}
	olds := map[groupKey]*side{}
	news := map[groupKey]*side{}
	var order []groupKey
	seen := map[groupKey]bool{}
	note := func(m map[groupKey]*side, r *catalog.Ref) error {
		k := groupKey{name: r.Path}
		var version string
		it, err := tx.Item(r.Digest)
		switch {
		case err == nil:
			k, version = groupKey{it.Name, it.Arch}, it.Version
		case !errors.Is(err, catalog.ErrNotFound):
			return err
		}
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
		s := m[k]
		if s == nil {
			s = &side{}
			m[k] = s
		}
		s.versions = append(s.versions, version)
		s.paths = append(s.paths, r.Path)
		return nil
	}
	err := tx.DiffStates(a, b, func(o, n *catalog.Ref) error {
		if o != nil {
			if err := note(olds, o); err != nil {
				return err
			}
		}
		if n != nil {
			return note(news, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	compare := strings.Compare
	if cmp != nil {
		compare = cmp.Compare
	}
	for _, k := range order {
		g := Group{Name: k.name, Arch: k.arch}
		if s := olds[k]; s != nil {
			g.Old, g.OldPaths = sortedSet(s.versions, compare), sortedSet(s.paths, strings.Compare)
		}
		if s := news[k]; s != nil {
			g.New, g.NewPaths = sortedSet(s.versions, compare), sortedSet(s.paths, strings.Compare)
		}
		switch {
		case len(g.Old) == 0:
			res.Added = append(res.Added, g)
		case len(g.New) == 0:
			res.Removed = append(res.Removed, g)
		default:
			switch c := compare(g.New[len(g.New)-1], g.Old[len(g.Old)-1]); {
			case c > 0:
				res.Upgraded = append(res.Upgraded, g)
			case c < 0:
				res.Downgraded = append(res.Downgraded, g)
			default:
				res.Changed = append(res.Changed, g)
			}
		}
	}
	for _, gs := range [][]Group{res.Added, res.Removed, res.Upgraded, res.Downgraded, res.Changed} {
		slices.SortFunc(gs, func(x, y Group) int {
			if c := strings.Compare(x.Name, y.Name); c != 0 {
				return c
			}
			return strings.Compare(x.Arch, y.Arch)
		})
	}
	if err := diffFiles(tx, a, b, res); err != nil {
		return nil, err
	}
	return res, nil
}

// sortedSet sorts s by compare and drops entries that compare equal to
// their predecessor and are the same string.
func sortedSet(s []string, compare func(a, b string) int) []string {
	slices.SortStableFunc(s, func(x, y string) int {
		if c := compare(x, y); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	return slices.Compact(s)
}

// diffFiles compares the repo-level files of a and b by path and digest.
// States keep their files in the state record, so this reads no chunk.
func diffFiles(tx *catalog.Tx, a, b catalog.StateID, res *Result) error {
	fa, err := files(tx, a)
	if err != nil {
		return err
	}
	fb, err := files(tx, b)
	if err != nil {
		return err
	}
	i, j := 0, 0
	for i < len(fa) || j < len(fb) {
		switch {
		case j >= len(fb) || i < len(fa) && fa[i].Path < fb[j].Path:
			res.FilesRemoved = append(res.FilesRemoved, fa[i].Path)
			i++
		case i >= len(fa) || fb[j].Path < fa[i].Path:
			res.FilesAdded = append(res.FilesAdded, fb[j].Path)
			j++
		default:
			if fa[i].Digest != fb[j].Digest {
				res.FilesChanged = append(res.FilesChanged, fa[i].Path)
			}
			i++
			j++
		}
	}
	return nil
}

func files(tx *catalog.Tx, id catalog.StateID) ([]catalog.File, error) {
	return tx.StateFiles(id)
}
