package chantal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/publish"
	"github.com/chantal-lite/chantal/view"
)

// Publication kinds (PublicationInfo.Kind, PublishResult.Kind).
const (
	KindRepo         = "repo"
	KindSnapshot     = "snapshot"
	KindView         = "view"
	KindViewSnapshot = "view-snapshot"
)

// snapshotTarget is where a snapshot is published by default.
func (m *Mirror) snapshotTarget(repo, name string) string {
	return filepath.Join(m.published, "snapshots", repo, name)
}

// viewRoot is a view's directory below the published path.
func (m *Mirror) viewRoot(vc *config.View) string {
	if vc.PublishPath != "" {
		return filepath.Join(m.published, vc.PublishPath)
	}
	return filepath.Join(m.published, "views", vc.Name)
}

// snapshotJob loads a snapshot's frozen state.
func (m *Mirror) snapshotJob(ctx context.Context, ref string) (*pubJob, error) {
	repo, name, err := splitRef("snapshot", ref)
	if err != nil {
		return nil, err
	}
	rc, err := m.repoConfig(repo)
	if err != nil {
		return nil, err
	}
	j := &pubJob{kind: KindSnapshot, name: ref, repo: repo, rc: rc, target: m.snapshotTarget(repo, name)}
	err = m.view(ctx, func(tx *catalog.Tx) error {
		s, err := tx.Snapshot(repo, name)
		if err != nil {
			return err
		}
		r, err := tx.Repo(repo)
		if err != nil {
			return err
		}
		// The repository's recorded mode, so the frozen files are used as
		// they were kept (mirror mode kept upstream's indexes).
		if err := m.jobFormat(j, r.Mode); err != nil {
			return err
		}
		j.state, j.now = s.State, frozenTime(s.StateTime, s.Created)
		j.load = m.stateLoader(s.State)
		return nil
	})
	if err != nil {
		return nil, j.fail(err)
	}
	j.key = j.state.String()
	return j, nil
}

// viewConfig returns the configured view name.
func (m *Mirror) viewConfig(name string) (*config.View, error) {
	vc, ok := m.cfg.View(name)
	if !ok {
		return nil, fmt.Errorf("view %q: %w", name, ErrUnknownView)
	}
	return vc, nil
}

// ErrUnknownView is returned for a view the configuration does not name.
var ErrUnknownView = errors.New("unknown view")

// viewJob loads the current members of a view.
func (m *Mirror) viewJob(ctx context.Context, name string) (*pubJob, error) {
	vc, err := m.viewConfig(name)
	if err != nil {
		return nil, err
	}
	j := &pubJob{kind: KindView, name: name, target: filepath.Join(m.viewRoot(vc), "latest")}
	err = m.view(ctx, func(tx *catalog.Tx) error {
		members, err := viewMembers(tx, vc)
		if err != nil {
			return err
		}
		if err := m.loadMembers(tx, j, members); err != nil {
			return err
		}
		return m.applyErrataFilter(ctx, tx, j, vc)
	})
	if err != nil {
		return nil, j.fail(err)
	}
	return j, nil
}

// viewSnapshotJob loads a view snapshot's frozen members.
func (m *Mirror) viewSnapshotJob(ctx context.Context, ref string) (*pubJob, error) {
	vname, name, err := splitRef("view snapshot", ref)
	if err != nil {
		return nil, err
	}
	target := filepath.Join(m.published, "views", vname, "snapshots", name)
	if vc, ok := m.cfg.View(vname); ok {
		target = filepath.Join(m.viewRoot(vc), "snapshots", name)
	}
	j := &pubJob{kind: KindViewSnapshot, name: ref, target: target}
	err = m.view(ctx, func(tx *catalog.Tx) error {
		vs, err := tx.ViewSnapshot(vname, name)
		if err != nil {
			return err
		}
		if err := m.loadMembers(tx, j, vs.Members); err != nil {
			return err
		}
		if vc, ok := m.cfg.View(vname); ok {
			return m.applyErrataFilter(ctx, tx, j, vc)
		}
		return nil
	})
	if err != nil {
		return nil, j.fail(err)
	}
	return j, nil
}

// memberName is how a view member is named in reports.
func memberName(vm catalog.ViewMember) string {
	if vm.Snapshot != "" {
		return vm.Repo + "/" + vm.Snapshot
	}
	return vm.Repo
}

// viewMembers resolves a view's members to their current states, repos in
// configuration order first, then snapshots.
func viewMembers(tx *catalog.Tx, vc *config.View) ([]catalog.ViewMember, error) {
	var out []catalog.ViewMember
	for _, id := range vc.Repos {
		r, err := tx.Repo(id)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, fmt.Errorf("member %s was never synced or uploaded to", id)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, catalog.ViewMember{Repo: id, State: r.State, StateTime: repoStateTime(r)})
	}
	for _, ref := range vc.Snapshots {
		repo, name, err := splitRef("snapshot", ref)
		if err != nil {
			return nil, err
		}
		s, err := tx.Snapshot(repo, name)
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", ref, err)
		}
		out = append(out, catalog.ViewMember{Repo: repo, Snapshot: name, State: s.State, StateTime: orTime(s.StateTime, s.Created)})
	}
	if len(out) == 0 {
		return nil, errors.New("the view has no members")
	}
	return out, nil
}

// loadMembers merges the members' states into the job. A view renders in
// filtered mode with the format, parameters and signing key of its first
// member's repository; its metadata carries the newest member state time.
func (m *Mirror) loadMembers(tx *catalog.Tx, j *pubJob, members []catalog.ViewMember) error {
	rc, err := m.repoConfig(members[0].Repo)
	if err != nil {
		return err
	}
	j.rc, j.members = rc, members
	if err := m.jobFormat(j, config.ModeFiltered); err != nil {
		return err
	}
	var parts []view.Member
	var keys []string
	for _, vm := range members {
		r, err := tx.Repo(vm.Repo)
		if err != nil {
			return err
		}
		if r.Format != j.format.Name() {
			return fmt.Errorf("member %s is %s, not %s: a view holds one format", memberName(vm), r.Format, j.format.Name())
		}
		items, files, err := loadState(tx, vm.State)
		if err != nil {
			return fmt.Errorf("member %s: %w", memberName(vm), err)
		}
		parts = append(parts, view.Member{Name: memberName(vm), Items: items, Files: files})
		keys = append(keys, memberName(vm)+"="+vm.State.String())
		if vm.StateTime.After(j.now) {
			j.now = vm.StateTime
		}
	}
	if t, ok := sourceDateEpoch(); ok {
		j.now = t
	}
	j.now = j.now.UTC().Truncate(time.Second)
	merged := view.Merge(parts)
	j.items, j.files, j.collisions = merged.Items, merged.Files, merged.Collisions
	j.key = view.Key(keys)
	for _, c := range merged.Collisions {
		m.log.Warn("view member collision: later member's entry dropped", "view", j.name, "reason", c.Reason, "path", c.Path, "kept", c.Kept, "dropped", c.Dropped)
	}
	return nil
}

// recordPublish records a publish in the catalog, keeping the versions the
// target still keeps.
func (m *Mirror) recordPublish(ctx context.Context, j *pubJob, target string, res publish.Result) error {
	kept, err := publish.Versions(target)
	if err != nil {
		return err
	}
	return m.update(ctx, func(tx *catalog.Tx) error {
		p, err := tx.Publication(target)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			p = catalog.Publication{Target: target}
		case err != nil:
			return err
		}
		if res.Unchanged && len(p.Versions) > 0 && p.Versions[0].Version == res.Version {
			return nil
		}
		p.Kind, p.Name, p.Format = j.kind, j.name, j.format.Name()
		v := catalog.PublishedVersion{Version: res.Version, State: j.state, Members: j.members, Published: m.now().UTC(), StateTime: j.now}
		p.Versions = append([]catalog.PublishedVersion{v}, p.Versions...)
		p.Versions = slices.DeleteFunc(p.Versions, func(pv catalog.PublishedVersion) bool {
			return !slices.ContainsFunc(kept, func(k publish.Version) bool { return k.ID == pv.Version })
		})
		return tx.PutPublication(p)
	})
}

// PublicationInfo describes one published target.
type PublicationInfo struct {
	Target string `json:"target"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Format string `json:"format"`
	// Version, State, Published and StateTime describe the current version.
	Version   string    `json:"version"`
	State     string    `json:"state,omitempty"`
	Published time.Time `json:"published"`
	StateTime time.Time `json:"state_time"`
	// Versions counts the versions kept for rollback, the current included.
	Versions int `json:"versions"`
}

// Publications lists every recorded publish target, sorted by target.
func (m *Mirror) Publications(ctx context.Context) ([]PublicationInfo, error) {
	var out []PublicationInfo
	err := m.view(ctx, func(tx *catalog.Tx) error {
		ps, err := tx.Publications()
		for _, p := range ps {
			pi := PublicationInfo{Target: p.Target, Kind: p.Kind, Name: p.Name, Format: p.Format, Versions: len(p.Versions)}
			if len(p.Versions) > 0 {
				v := p.Versions[0]
				pi.Version, pi.Published, pi.StateTime = v.Version, v.Published, v.StateTime
				if !v.State.IsZero() {
					pi.State = v.State.String()
				}
			}
			out = append(out, pi)
		}
		return err
	})
	return out, err
}

// publishedPath resolves a target given on the command line: absolute, or
// relative to the published path.
func (m *Mirror) publishedPath(p string) (string, error) {
	if p == "" {
		return "", errors.New("no published path given")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(m.published, p)
	}
	return filepath.Abs(p)
}

func busy(err error) error {
	if errors.Is(err, publish.ErrBusy) {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return err
}

// Unpublish removes the published tree at path (absolute, or relative to
// the published path) and its catalog record. Only files publish created
// are removed.
func (m *Mirror) Unpublish(ctx context.Context, path string) error {
	target, err := m.publishedPath(path)
	if err != nil {
		return err
	}
	if err := publish.Unpublish(ctx, target, &publish.Options{Logger: m.log, NoSync: m.noSync, Pool: m.pool}); err != nil {
		return busy(err)
	}
	err = m.update(ctx, func(tx *catalog.Tx) error {
		if err := tx.DeletePublication(target); !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		return nil
	})
	return err
}

// Rollback switches the tree at path (absolute, or relative to the
// published path) back to the version published before the current one,
// atomically, and drops the current one. It fails with an error wrapping
// publish.ErrNoPrevious when no older version is kept.
func (m *Mirror) Rollback(ctx context.Context, path string) (*PublishResult, error) {
	target, err := m.publishedPath(path)
	if err != nil {
		return nil, err
	}
	poolLock, err := m.lockPool(ctx, false, true)
	if err != nil {
		return nil, err
	}
	defer poolLock.Unlock()
	res, err := publish.Rollback(ctx, target, &publish.Options{Logger: m.log, NoSync: m.noSync, Pool: m.pool})
	if err != nil {
		return nil, busy(err)
	}
	out := &PublishResult{Target: target, Version: res.Version, Linked: res.Linked, Replaced: res.Replaced, Removed: res.Removed, Ops: res.Ops}
	err = m.update(ctx, func(tx *catalog.Tx) error {
		p, err := tx.Publication(target)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		for len(p.Versions) > 0 && p.Versions[0].Version != res.Version {
			p.Versions = p.Versions[1:]
		}
		out.Kind, out.Name = p.Kind, p.Name
		if len(p.Versions) > 0 && !p.Versions[0].State.IsZero() {
			out.State = p.Versions[0].State.String()
		}
		return tx.PutPublication(p)
	})
	return out, err
}

// orTime returns t, or fallback when t is zero, in UTC to the second.
func orTime(t, fallback time.Time) time.Time {
	if t.IsZero() {
		t = fallback
	}
	return t.UTC().Truncate(time.Second)
}
