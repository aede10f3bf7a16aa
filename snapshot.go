package chantal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/publish"
	"github.com/chantal-lite/chantal/snapshot"
)

// ErrInUse is wrapped by the *snapshot.InUseError DeleteSnapshot returns for
// a snapshot that is published or frozen in a view snapshot.
var ErrInUse = snapshot.ErrInUse

// SnapshotRequest says which snapshot to create.
type SnapshotRequest struct {
	Repo string
	// Name is the snapshot's name, or a template: {repo}, {date}
	// (YYYY-MM-DD) and {datetime} (YYYYMMDDTHHMMSSZ) expand with the
	// Mirror's clock in UTC, so "{repo}-{date}" names a daily snapshot.
	Name        string
	Description string
}

// SnapshotInfo describes a snapshot.
type SnapshotInfo struct {
	Repo        string    `json:"repo"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	State       string    `json:"state"`
	Created     time.Time `json:"created"`
	// StateTime is the time its published metadata carries.
	StateTime time.Time `json:"state_time"`
	Items     int       `json:"items"`
	Files     int       `json:"files"`
	// Published lists the targets it is published at; UsedBy the view
	// snapshots (VIEW/NAME) that froze it.
	Published []string `json:"published,omitempty"`
	UsedBy    []string `json:"used_by,omitempty"`
}

// splitRef splits "A/B" into its two tokens.
func splitRef(what, s string) (string, string, error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok || a == "" || b == "" || strings.Contains(b, "/") {
		return "", "", fmt.Errorf("%s %q: want %s", what, s, map[string]string{"snapshot": "REPO/NAME", "view snapshot": "VIEW/NAME"}[what])
	}
	return a, b, nil
}

// repoStateTime is when a repository's state last changed (without the
// SOURCE_DATE_EPOCH override of stateTime).
func repoStateTime(r catalog.Repo) time.Time {
	if t, err := time.Parse(time.RFC3339, r.Meta[stateTimeKey]); err == nil {
		return t.UTC()
	}
	return r.Updated.UTC().Truncate(time.Second)
}

// frozenTime is the time metadata published from a frozen state carries:
// $SOURCE_DATE_EPOCH when set, else t, else fallback.
func frozenTime(t, fallback time.Time) time.Time {
	if e, ok := sourceDateEpoch(); ok {
		return e
	}
	if t.IsZero() {
		t = fallback
	}
	return t.UTC().Truncate(time.Second)
}

// Snapshot freezes a repository's current state (its items and its
// repo-level files) under a name. It costs one catalog record whatever the
// size of the repository.
func (m *Mirror) Snapshot(ctx context.Context, req SnapshotRequest) (*SnapshotInfo, error) {
	if _, err := m.repoConfig(req.Repo); err != nil {
		return nil, err
	}
	now := m.now().UTC()
	name, err := snapshot.ExpandName(req.Name, now, map[string]string{"repo": req.Repo})
	if err != nil {
		return nil, &RepoError{Op: "snapshot", Repo: req.Repo, Err: err}
	}
	var s catalog.Snapshot
	err = m.update(ctx, func(tx *catalog.Tx) error {
		r, err := tx.Repo(req.Repo)
		if errors.Is(err, catalog.ErrNotFound) {
			return snapshot.ErrNoState
		}
		if err != nil {
			return err
		}
		s, err = snapshot.Create(tx, snapshot.CreateRequest{
			Repo: req.Repo, Name: name, Description: req.Description, Created: now, StateTime: repoStateTime(r),
		})
		return err
	})
	if err != nil {
		return nil, &RepoError{Op: "snapshot", Repo: req.Repo, Err: err}
	}
	info := snapInfo(s)
	return &info, nil
}

func snapInfo(s catalog.Snapshot) SnapshotInfo {
	return SnapshotInfo{Repo: s.Repo, Name: s.Name, Description: s.Description, State: s.State.String(), Created: s.Created, StateTime: s.StateTime}
}

// fillSnapInfo adds counts and uses to info.
func fillSnapInfo(tx *catalog.Tx, s catalog.Snapshot, info *SnapshotInfo) error {
	n, err := tx.StateLen(s.State)
	if err != nil {
		return err
	}
	fs, err := tx.StateFiles(s.State)
	if err != nil {
		return err
	}
	info.Items, info.Files = n, len(fs)
	use, err := snapshot.Uses(tx, s.Repo, s.Name)
	if err != nil || use == nil {
		return err
	}
	info.Published, info.UsedBy = use.Published, use.ViewSnapshots
	return nil
}

// Snapshots lists the snapshots of repo, or of every repository when repo
// is "", sorted by repository and name.
func (m *Mirror) Snapshots(ctx context.Context, repo string) ([]SnapshotInfo, error) {
	var out []SnapshotInfo
	err := m.view(ctx, func(tx *catalog.Tx) error {
		ss, err := tx.Snapshots(repo)
		if err != nil {
			return err
		}
		for _, s := range ss {
			info := snapInfo(s)
			if err := fillSnapInfo(tx, s, &info); err != nil {
				return err
			}
			out = append(out, info)
		}
		return nil
	})
	return out, err
}

// ShowSnapshot describes snapshot ref ("REPO/NAME").
func (m *Mirror) ShowSnapshot(ctx context.Context, ref string) (*SnapshotInfo, error) {
	repo, name, err := splitRef("snapshot", ref)
	if err != nil {
		return nil, err
	}
	var info SnapshotInfo
	err = m.view(ctx, func(tx *catalog.Tx) error {
		s, err := tx.Snapshot(repo, name)
		if err != nil {
			return err
		}
		info = snapInfo(s)
		return fillSnapInfo(tx, s, &info)
	})
	if err != nil {
		return nil, err
	}
	return &info, nil
}

// ContentItem is one item of a state, as listed by SnapshotContent.
type ContentItem struct {
	Path    string `json:"path"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
	Size    int64  `json:"size"`
	Digest  string `json:"sha256"`
}

// SnapshotContent lists the items of snapshot ref ("REPO/NAME"), or of a
// repository's current state when ref is a bare REPO, sorted by path.
func (m *Mirror) SnapshotContent(ctx context.Context, ref string) ([]ContentItem, error) {
	var out []ContentItem
	err := m.view(ctx, func(tx *catalog.Tx) error {
		id, _, err := resolveState(tx, ref)
		if err != nil {
			return err
		}
		return tx.WalkState(id, func(r catalog.Ref) error {
			c := ContentItem{Path: r.Path, Digest: r.Digest.String()}
			if it, err := tx.Item(r.Digest); err == nil {
				c.Name, c.Version, c.Arch, c.Size = it.Name, it.Version, it.Arch, it.Size
			} else if !errors.Is(err, catalog.ErrNotFound) {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// resolveState returns the state ref names ("REPO/NAME" for a snapshot, a
// bare "REPO" for the repository's current state) and the repository.
func resolveState(tx *catalog.Tx, ref string) (catalog.StateID, catalog.Repo, error) {
	if !strings.Contains(ref, "/") {
		r, err := tx.Repo(ref)
		if err != nil {
			return catalog.StateID{}, catalog.Repo{}, err
		}
		return r.State, r, nil
	}
	repo, name, err := splitRef("snapshot", ref)
	if err != nil {
		return catalog.StateID{}, catalog.Repo{}, err
	}
	s, err := tx.Snapshot(repo, name)
	if err != nil {
		return catalog.StateID{}, catalog.Repo{}, err
	}
	r, err := tx.Repo(repo)
	return s.State, r, err
}

// CopySnapshot copies snapshot from ("REPO/A") to to ("REPO/B", possibly of
// another repository of the same format): promotion. The copy shares the
// state and its state time, so both publish the same bytes.
func (m *Mirror) CopySnapshot(ctx context.Context, from, to string) (*SnapshotInfo, error) {
	fr, fn, err := splitRef("snapshot", from)
	if err != nil {
		return nil, err
	}
	tr, tn, err := splitRef("snapshot", to)
	if err != nil {
		return nil, err
	}
	var s catalog.Snapshot
	err = m.update(ctx, func(tx *catalog.Tx) error {
		var err error
		s, err = snapshot.Copy(tx, snapshot.CopyRequest{FromRepo: fr, From: fn, ToRepo: tr, To: tn, Created: m.now()})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("copy snapshot %s to %s: %w", from, to, err)
	}
	info := snapInfo(s)
	return &info, nil
}

// DeleteSnapshotRequest says which snapshot to delete.
type DeleteSnapshotRequest struct {
	Ref string // REPO/NAME
	// Force deletes a snapshot that is published (its published trees are
	// unpublished first) or frozen in a view snapshot (which keeps its own
	// reference on the state and stays complete).
	Force bool
}

// DeleteSnapshot deletes a snapshot. Without Force it fails with an
// error wrapping ErrInUse (a *snapshot.InUseError) while the snapshot is
// published or frozen in a view snapshot. Items and blobs stay for GC.
func (m *Mirror) DeleteSnapshot(ctx context.Context, req DeleteSnapshotRequest) error {
	repo, name, err := splitRef("snapshot", req.Ref)
	if err != nil {
		return err
	}
	var use *snapshot.InUseError
	if err := m.view(ctx, func(tx *catalog.Tx) error {
		if _, err := tx.Snapshot(repo, name); err != nil {
			return err
		}
		use, err = snapshot.Uses(tx, repo, name)
		return err
	}); err != nil {
		return fmt.Errorf("delete snapshot %s: %w", req.Ref, err)
	}
	if use != nil && !req.Force {
		return fmt.Errorf("delete snapshot %s: %w", req.Ref, use)
	}
	if use != nil {
		for _, t := range use.Published {
			if err := m.Unpublish(ctx, t); err != nil && !errors.Is(err, publish.ErrNotPublished) {
				return fmt.Errorf("delete snapshot %s: %w", req.Ref, err)
			}
		}
	}
	err = m.update(ctx, func(tx *catalog.Tx) error {
		_, err := snapshot.Delete(tx, snapshot.DeleteRequest{Repo: repo, Name: name, Force: req.Force})
		return err
	})
	if err != nil {
		return fmt.Errorf("delete snapshot %s: %w", req.Ref, err)
	}
	return nil
}

// DiffResult is the difference between two states, grouped by (name, arch)
// in the format's version order.
type DiffResult struct {
	A      string `json:"a"`
	B      string `json:"b"`
	StateA string `json:"state_a"`
	StateB string `json:"state_b"`
	Format string `json:"format"`
	snapshot.Result
	// Errata lists, per upgraded (name, arch), the advisories the upgrade
	// applies (errata.go: new ≥ a fixed version > old).
	Errata []UpgradeErrata `json:"errata,omitempty"`
}

// Diff compares a with b, each "REPO/NAME" (a snapshot) or a bare "REPO" (the
// repository's current state). Equal states answer from their ids; otherwise
// the cost follows the size of the change.
func (m *Mirror) Diff(ctx context.Context, a, b string) (*DiffResult, error) {
	res := &DiffResult{A: a, B: b}
	err := m.view(ctx, func(tx *catalog.Tx) error {
		sa, ra, err := resolveState(tx, a)
		if err != nil {
			return err
		}
		sb, rb, err := resolveState(tx, b)
		if err != nil {
			return err
		}
		if ra.Format != rb.Format {
			return fmt.Errorf("%s is %s and %s is %s: compare states of one format", a, ra.Format, b, rb.Format)
		}
		res.StateA, res.StateB, res.Format = sa.String(), sb.String(), ra.Format
		var cmp formats.Comparer
		if f, err := m.formats.Lookup(ra.Format); err == nil {
			cmp, _ = f.(formats.Comparer)
		}
		r, err := snapshot.Diff(tx, sa, sb, cmp)
		if err != nil {
			return err
		}
		res.Result = *r
		return m.diffErrata(tx, ra, rb, sa, sb, res)
	})
	if err != nil {
		return nil, fmt.Errorf("diff %s %s: %w", a, b, err)
	}
	return res, nil
}
