package chantal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/snapshot"
)

// ViewInfo describes a configured view.
type ViewInfo struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Format      string `json:"format"`
	// Target is where "publish view" puts its latest state by default.
	Target string `json:"target"`
	// Members are the view's members in configuration order (repos, then
	// snapshots) with their current states; State is empty for a member
	// that was never synced or a snapshot that does not exist.
	Members []ViewMemberInfo `json:"members"`
	// Snapshots are the names of the view's snapshots.
	Snapshots []string `json:"snapshots,omitempty"`
}

// ViewMemberInfo is one member of a view or view snapshot.
type ViewMemberInfo struct {
	Repo      string    `json:"repo"`
	Snapshot  string    `json:"snapshot,omitempty"`
	State     string    `json:"state,omitempty"`
	StateTime time.Time `json:"state_time,omitzero"`
	Items     int       `json:"items"`
}

// ViewSnapshotInfo describes a view snapshot.
type ViewSnapshotInfo struct {
	View        string           `json:"view"`
	Name        string           `json:"name"`
	Format      string           `json:"format"`
	Description string           `json:"description,omitempty"`
	Created     time.Time        `json:"created"`
	Members     []ViewMemberInfo `json:"members"`
}

// Views describes every configured view, in configuration order.
func (m *Mirror) Views(ctx context.Context) ([]ViewInfo, error) {
	var out []ViewInfo
	for i := range m.cfg.Views {
		vi, err := m.ShowView(ctx, m.cfg.Views[i].Name)
		if err != nil {
			return nil, err
		}
		out = append(out, *vi)
	}
	return out, nil
}

// ShowView describes the configured view name with its members' current
// states and its snapshots.
func (m *Mirror) ShowView(ctx context.Context, name string) (*ViewInfo, error) {
	vc, err := m.viewConfig(name)
	if err != nil {
		return nil, err
	}
	vi := &ViewInfo{Name: vc.Name, Description: vc.Description, Target: m.viewRoot(vc) + "/latest"}
	if len(vc.Repos) > 0 {
		if rc, ok := m.cfg.Repository(vc.Repos[0]); ok {
			vi.Format = rc.Type
		}
	} else if len(vc.Snapshots) > 0 {
		if repo, _, err := splitRef("snapshot", vc.Snapshots[0]); err == nil {
			if rc, ok := m.cfg.Repository(repo); ok {
				vi.Format = rc.Type
			}
		}
	}
	err = m.view(ctx, func(tx *catalog.Tx) error {
		for _, id := range vc.Repos {
			mi := ViewMemberInfo{Repo: id}
			if r, err := tx.Repo(id); err == nil {
				if err := memberInfo(tx, &mi, r.State, repoStateTime(r)); err != nil {
					return err
				}
			} else if !errors.Is(err, catalog.ErrNotFound) {
				return err
			}
			vi.Members = append(vi.Members, mi)
		}
		for _, ref := range vc.Snapshots {
			repo, sn, err := splitRef("snapshot", ref)
			if err != nil {
				return err
			}
			mi := ViewMemberInfo{Repo: repo, Snapshot: sn}
			if s, err := tx.Snapshot(repo, sn); err == nil {
				if err := memberInfo(tx, &mi, s.State, s.StateTime); err != nil {
					return err
				}
			} else if !errors.Is(err, catalog.ErrNotFound) {
				return err
			}
			vi.Members = append(vi.Members, mi)
		}
		vss, err := tx.ViewSnapshots(vc.Name)
		for _, vs := range vss {
			vi.Snapshots = append(vi.Snapshots, vs.Name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return vi, nil
}

func memberInfo(tx *catalog.Tx, mi *ViewMemberInfo, id catalog.StateID, t time.Time) error {
	n, err := tx.StateLen(id)
	if err != nil {
		return err
	}
	mi.State, mi.StateTime, mi.Items = id.String(), t, n
	return nil
}

// ViewSnapshotRequest says which view snapshot to create.
type ViewSnapshotRequest struct {
	View string
	// Name is the snapshot's name or a template with {view}, {date} and
	// {datetime} (see SnapshotRequest.Name).
	Name        string
	Description string
}

// ViewSnapshot freezes every member of a view at once, in one catalog
// transaction: the record holds a reference on each member's state, so
// the view snapshot stays complete when repositories move on or member
// snapshots are deleted.
func (m *Mirror) ViewSnapshot(ctx context.Context, req ViewSnapshotRequest) (*ViewSnapshotInfo, error) {
	vc, err := m.viewConfig(req.View)
	if err != nil {
		return nil, err
	}
	now := m.now().UTC()
	name, err := snapshot.ExpandName(req.Name, now, map[string]string{"view": req.View})
	if err != nil {
		return nil, fmt.Errorf("view snapshot %s: %w", req.View, err)
	}
	var vs catalog.ViewSnapshot
	err = m.update(ctx, func(tx *catalog.Tx) error {
		members, err := viewMembers(tx, vc)
		if err != nil {
			return err
		}
		var format string
		for _, vm := range members {
			r, err := tx.Repo(vm.Repo)
			if err != nil {
				return err
			}
			if format == "" {
				format = r.Format
			} else if r.Format != format {
				return fmt.Errorf("member %s is %s, not %s: a view holds one format", memberName(vm), r.Format, format)
			}
		}
		vs = catalog.ViewSnapshot{View: req.View, Name: name, Format: format, Members: members, Created: now, Description: req.Description}
		return tx.PutViewSnapshot(vs)
	})
	if err != nil {
		return nil, fmt.Errorf("view snapshot %s/%s: %w", req.View, name, err)
	}
	info := viewSnapInfo(vs)
	return &info, nil
}

func viewSnapInfo(vs catalog.ViewSnapshot) ViewSnapshotInfo {
	info := ViewSnapshotInfo{View: vs.View, Name: vs.Name, Format: vs.Format, Description: vs.Description, Created: vs.Created}
	for _, vm := range vs.Members {
		info.Members = append(info.Members, ViewMemberInfo{Repo: vm.Repo, Snapshot: vm.Snapshot, State: vm.State.String(), StateTime: vm.StateTime})
	}
	return info
}

// ViewSnapshots lists the snapshots of view, or of every view when view is
// "", sorted by view and name.
func (m *Mirror) ViewSnapshots(ctx context.Context, view string) ([]ViewSnapshotInfo, error) {
	var out []ViewSnapshotInfo
	err := m.view(ctx, func(tx *catalog.Tx) error {
		vss, err := tx.ViewSnapshots(view)
		for _, vs := range vss {
			info := viewSnapInfo(vs)
			for i, vm := range vs.Members {
				n, err := tx.StateLen(vm.State)
				if err != nil {
					return err
				}
				info.Members[i].Items = n
			}
			out = append(out, info)
		}
		return err
	})
	return out, err
}
