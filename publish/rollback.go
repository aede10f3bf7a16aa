package publish

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// Rollback switches target back to the version kept before the current one
// and retires the current one: its metadata, its manifest and the payloads no
// remaining version names are removed by the next Publish, not at once, so a
// client that read the newer index just before the switch can still fetch
// the payloads it names. A second Rollback walks one version further back.
// Payloads whose bytes changed under the same path since that version are
// linked again from Options.Pool before the switch. Rollback fails with
// ErrNoPrevious when no older version is kept, with ErrNotPublished when
// target holds no published tree and with ErrBusy when the target is locked.
func Rollback(ctx context.Context, target string, o *Options) (Result, error) {
	r := newRun(target, o)
	res, err := r.rollback(ctx)
	res.Ops = int(r.ops.Load())
	if err != nil {
		return res, fmt.Errorf("rolling back %s: %w", target, err)
	}
	return res, nil
}

func (r *run) rollback(ctx context.Context) (Result, error) {
	var res Result
	if err := r.checkPublished(); err != nil {
		return res, err
	}
	l, err := r.lock(ctx)
	if err != nil {
		return res, err
	}
	defer l.Unlock() // releasing a flock of a file we only read cannot lose data
	st, err := readState(r.target)
	if err != nil {
		return res, err
	}
	if st, err = r.recover(st); err != nil {
		return res, err
	}
	if len(st.Versions) < 2 {
		return res, ErrNoPrevious
	}
	cur, prev := st.Versions[0], st.Versions[1]
	pm, err := readManifest(r.target, prev.ID)
	if err != nil {
		return res, err
	}
	cm, err := readManifestLines(r.target, cur.ID)
	if err != nil {
		r.log.Warn("publish: current manifest unreadable, checking every payload", "path", r.target, "err", err)
		cm = nil
	}
	for _, e := range pm.Entries {
		if err := r.checkTop(e); err != nil {
			return res, err
		}
	}
	if _, err := os.Stat(r.t.abs(versionPath(prev.ID))); err != nil {
		return res, fmt.Errorf("version %s: %w", prev.ID, err)
	}
	if res.Linked, res.Replaced, err = r.syncPayloads(ctx, r.pool, pm, cm); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	st.Pending = prev.ID
	if err := r.t.writeState(st); err != nil {
		return res, err
	}
	if err := r.switchTo(prev.ID, pm.Entries); err != nil {
		return res, r.undoSwitch(st, err)
	}
	next := state{Versions: st.Versions[1:], Retired: append([]stateVersion{cur}, st.Retired...)}
	if err := r.t.writeState(next); err != nil {
		return res, err
	}
	res.Version = prev.ID
	r.log.Debug("publish: rolled back", "path", r.target, "version", prev.ID, "retired", cur.ID)
	return res, nil
}

// checkPublished fails with ErrNotPublished unless target/.versions exists.
func (r *run) checkPublished() error {
	fi, err := os.Lstat(r.t.abs(versionsDir))
	if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.IsDir() {
		return ErrNotPublished
	}
	return err
}

// Versions lists target's kept metadata versions, newest (the current one)
// first. It takes no lock: a concurrent Publish may change the answer. It
// fails with ErrNotPublished when target holds no published tree.
func Versions(target string) ([]Version, error) {
	st, err := readState(target)
	if err != nil {
		return nil, fmt.Errorf("listing versions of %s: %w", target, err)
	}
	vs := make([]Version, len(st.Versions))
	for i, v := range st.Versions {
		vs[i] = Version{ID: v.ID, Key: v.Key, Created: v.Created, Current: i == 0}
	}
	return vs, nil
}

// Unpublish removes the published tree at target under its lock: the
// metadata symlinks, every payload a kept or leftover manifest names, the
// directories left empty, .versions, and target itself when nothing else is
// left in it. Files publish did not create stay (and are logged). It fails
// with ErrNotPublished when target holds no published tree and with ErrBusy
// when the target is locked.
func Unpublish(ctx context.Context, target string, o *Options) error {
	r := newRun(target, o)
	if err := r.unpublish(ctx); err != nil {
		return fmt.Errorf("unpublishing %s: %w", target, err)
	}
	return nil
}

func (r *run) unpublish(ctx context.Context) error {
	if err := r.checkPublished(); err != nil {
		return err
	}
	l, err := r.lock(ctx)
	if err != nil {
		return err
	}
	defer l.Unlock() // releasing a flock of a file we only read cannot lose data
	if err := r.removeStaleLinks(nil); err != nil {
		return err
	}
	des, err := os.ReadDir(r.t.abs(versionsDir))
	if err != nil {
		return fmt.Errorf("reading %s: %w", versionsDir, err)
	}
	paths := map[string]bool{}
	for _, de := range des {
		id, ok := strings.CutSuffix(de.Name(), ".manifest")
		if !ok || checkID(id) != nil {
			continue
		}
		m, err := readManifest(r.target, id)
		if err != nil {
			r.log.Warn("publish: manifest unreadable; its payloads stay", "version", id, "err", err)
			continue
		}
		for _, it := range m.Items {
			paths[it.Path] = true
		}
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	slices.Sort(sorted)
	var dirs []string
	for i, p := range sorted {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ok, err := r.t.removePayload(p)
		if err != nil {
			return err
		}
		if ok {
			dirs = append(dirs, parentOf(p))
		}
	}
	if err := r.t.pruneDirs(dirs); err != nil {
		return err
	}
	// The lock file goes with .versions; the lock stays held until Unlock.
	r.t.op()
	if err := os.RemoveAll(r.t.abs(versionsDir)); err != nil {
		return fmt.Errorf("removing %s: %w", versionsDir, err)
	}
	r.t.op()
	if err := os.Remove(r.target); err != nil {
		left, _ := os.ReadDir(r.target) // only for the log line
		r.log.Warn("publish: target kept: it holds files publish did not create", "path", r.target, "entries", len(left))
	}
	return nil
}
