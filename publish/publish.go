// Package publish writes a repository's published tree: payload files as hard
// links from the pool, and metadata rendered by a formats.Format into a
// staging directory and switched in atomically.
//
// # Layout
//
// A published target directory looks like this:
//
//	<target>/Packages/h/hello-1.0-1.x86_64.rpm   payloads at their Item.Path (hard links into the pool)
//	<target>/repodata -> .versions/<id>/repodata  one symlink per top-level rendered entry
//	<target>/.versions/<id>/                      a rendered metadata version
//	<target>/.versions/<id>.manifest              its key, time, entries and payload list
//	<target>/.versions/state.json                 kept versions, newest (current) first
//	<target>/.versions/.lock                      flock held by Publish, Rollback, Unpublish
//
// Publish renders into .versions/<id>.tmp/, fsyncs it and renames it to
// .versions/<id>/, then switches each top-level symlink by creating
// .<name>.new and renaming it over <name>. A client therefore always resolves
// a complete version: never a missing, half-written or mixed index. When a
// format renders several top-level entries they are switched in reverse
// lexical order (for example key.asc before index.yaml).
//
// # Payloads
//
// Publishing costs in proportion to the change. The new item list is compared
// with the current version's manifest: only new paths and paths whose digest
// changed are touched, each by linking the blob to a temp name beside it and
// renaming that over the path, so a published file is never rewritten in
// place. Unchanged paths are not even looked at. Payloads are linked before
// the metadata switch. A payload is removed only when the last kept version
// whose manifest names it is pruned (as Debian's archive treats pool/ and
// dists/). Files in the tree that no manifest ever named (for example the
// payloads linked by a publish that failed before its switch, or files put
// there by hand) are left alone.
//
// Every path publish derives from its input (Item.Path, paths rendered into
// the Sink, manifest entries) is confined to the target: absolute paths, "."
// and ".." elements, backslashes, NUL and a first element starting with a dot
// are refused before anything is written, and no symlink is followed on the
// way to a payload.
package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/atomicfile"
	"github.com/chantal-lite/chantal/internal/lock"
	"github.com/chantal-lite/chantal/pool"
)

// DefaultKeepVersions is the number of previous metadata versions kept for
// rollback when Request.KeepVersions is zero.
const DefaultKeepVersions = 3

// Options configure Publish, Rollback and Unpublish. A nil *Options means defaults.
type Options struct {
	// Logger receives debug and warning logs; nil means silent.
	Logger *slog.Logger
	// NoSync skips every fsync. Only for tests and benchmarks.
	NoSync bool
	// Pool is used by Rollback to restore payloads whose bytes changed under
	// the same path since the version rolled back to (upstream repackaging).
	// When it is nil, such a rollback fails before changing anything.
	Pool *pool.Store
}

// Request says what Publish publishes where.
type Request struct {
	// Target is the published directory; it is created if missing.
	Target string
	// Format renders the metadata.
	Format formats.Format
	// Render, when set, is called instead of Format.Render with the same
	// request: the caller renders from data of its own (chantal renders
	// unchanged segments of a repository from its cache, and Items then
	// carry only what linking needs, Path and Digest).
	Render func(ctx context.Context, req formats.RenderRequest) error
	// Mode is passed to Render.
	Mode formats.Mode
	// Items are the payloads. Item.Path is the published path relative to
	// Target and Item.Digest the blob in Pool. The order does not matter.
	Items []formats.Item
	// Files are the repo-level files passed to Render.
	Files []formats.File
	// Links are files published like payloads (hard links from Pool, immutable,
	// kept while a kept version names them) but not passed to Render: a
	// chart's .prov provenance beside the chart.
	Links []formats.File
	// Pool holds every Item's and File's blob.
	Pool *pool.Store
	// Params are the format's per-repository settings, passed to Render.
	Params map[string]string
	// Now is the time written into metadata, used in the version id and
	// recorded as the version's creation time. Publish never reads the clock.
	Now time.Time
	// Signer, when not nil, is passed to Render to sign the metadata.
	Signer formats.Signer
	// Key identifies what is published (for example a state id plus a hash of
	// the parameters). When it equals the current version's Key, Publish does
	// nothing and reports Result.Unchanged. An empty Key always publishes.
	Key string
	// KeepVersions is how many previous metadata versions are kept for
	// rollback: 0 means DefaultKeepVersions, a negative number keeps none.
	KeepVersions int
}

// Result says what Publish or Rollback did.
type Result struct {
	// Version is the id of the current version afterwards.
	Version string
	// Unchanged is true when Request.Key equalled the current version's Key.
	Unchanged bool
	// Linked counts payloads linked at a path that had none; Replaced counts
	// payloads renamed over a path whose bytes changed.
	Linked, Replaced int
	// Removed counts payloads removed because no kept version names them.
	Removed int
	// MetadataFiles counts the files Render wrote.
	MetadataFiles int
	// Ops counts the file-system mutations performed (directory and file
	// creations, links, renames, symlinks, removals); it grows with the size
	// of the change, not with the size of the repository.
	Ops int
}

// Version describes one kept metadata version of a target.
type Version struct {
	// ID is the version's directory name below <target>/.versions; ids of
	// versions published in later seconds sort later.
	ID string
	// Key is the Request.Key the version was published with.
	Key string
	// Created is the Request.Now the version was published with.
	Created time.Time
	// Current is true for the version the target's symlinks point at.
	Current bool
}

// run is one operation on one target.
type run struct {
	target string
	log    *slog.Logger
	sync   bool
	pool   *pool.Store // Options.Pool
	ops    atomic.Int64
	t      *tree
}

func newRun(target string, o *Options) *run {
	r := &run{target: filepath.Clean(target), log: slog.New(slog.DiscardHandler), sync: true}
	if o != nil {
		if o.Logger != nil {
			r.log = o.Logger
		}
		r.sync = !o.NoSync
		r.pool = o.Pool
	}
	r.t = newTree(r.target, r.sync, &r.ops)
	return r
}

// lock takes the target's lock without waiting.
func (r *run) lock(ctx context.Context) (*lock.Lock, error) {
	l, err := lock.Acquire(ctx, lock.Request{Path: r.t.abs(lockFile)})
	if errors.Is(err, lock.ErrBusy) {
		return nil, ErrBusy
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Publish publishes req.Items and the metadata req.Format renders for them at
// req.Target, as described in the package documentation. When it fails
// before the switch, the live tree is unchanged; payloads it linked stay as
// unreferenced files. It fails with ErrBusy when the target is locked, and
// with a PathError for a path it refuses to write.
func Publish(ctx context.Context, req Request, o *Options) (Result, error) {
	r := newRun(req.Target, o)
	res, err := r.publish(ctx, req)
	res.Ops = int(r.ops.Load())
	if err != nil {
		return res, fmt.Errorf("publishing %s: %w", req.Target, err)
	}
	return res, nil
}

func (r *run) publish(ctx context.Context, req Request) (Result, error) {
	var res Result
	switch {
	case req.Target == "":
		return res, errors.New("no target")
	case req.Format == nil:
		return res, errors.New("no format")
	case req.Pool == nil:
		return res, errors.New("no pool")
	}
	all := req.Items
	if len(req.Links) > 0 {
		all = make([]formats.Item, 0, len(req.Items)+len(req.Links))
		all = append(all, req.Items...)
		for _, f := range req.Links {
			all = append(all, formats.Item{Path: f.Path, Digest: f.Digest, Size: f.Size})
		}
	}
	items, err := checkItems(all)
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if _, err := os.Lstat(r.target); errors.Is(err, fs.ErrNotExist) {
		r.t.op()
		if err := os.MkdirAll(r.target, dirMode); err != nil {
			return res, fmt.Errorf("creating target: %w", err)
		}
	}
	if err := r.t.mkdirAll(versionsDir); err != nil {
		return res, err
	}
	l, err := r.lock(ctx)
	if err != nil {
		return res, err
	}
	defer l.Unlock() // releasing a flock of a file we only read cannot lose data

	st, err := readState(r.target)
	if err != nil && !errors.Is(err, ErrNotPublished) {
		return res, err
	}
	if st, err = r.recover(st); err != nil {
		return res, err
	}
	if req.Key != "" && len(st.Versions) > 0 && st.Versions[0].Key == req.Key {
		r.log.Debug("publish: unchanged", "path", r.target, "version", st.Versions[0].ID)
		return Result{Version: st.Versions[0].ID, Unchanged: true}, nil
	}

	keep := req.KeepVersions
	if keep == 0 {
		keep = DefaultKeepVersions
	}
	keep = max(keep, 0)
	// The manifests of the versions this publish will drop are read while
	// the metadata renders (dropVersions reads them itself if this fails).
	var dropIDs []string
	for _, v := range st.Retired {
		dropIDs = append(dropIDs, v.ID)
	}
	for _, v := range st.Versions[min(keep, len(st.Versions)):] {
		dropIDs = append(dropIDs, v.ID)
	}
	dropc := make(chan map[string]*manifest, 1)
	go func() {
		pre := map[string]*manifest{}
		for _, id := range dropIDs {
			if m, err := readManifestLines(r.target, id); err == nil {
				pre[id] = m
			}
		}
		dropc <- pre
	}()
	// The current manifest is read while the metadata renders.
	curc := make(chan *manifest, 1)
	go func() {
		if len(st.Versions) == 0 {
			curc <- &manifest{} // first publish: nothing is there yet
			return
		}
		cur, err := readManifestLines(r.target, st.Versions[0].ID)
		if err != nil {
			r.log.Warn("publish: current manifest unreadable, checking every payload", "path", r.target, "err", err)
			cur = nil
		}
		curc <- cur
	}()

	id := newID(req.Now, req.Key, st)
	m := &manifest{ID: id, Key: req.Key, Created: req.Now, Items: items}
	stage := versionPath(id) + ".tmp"
	// The manifest's item lines, written later and compared with the
	// current version's, are encoded while the metadata renders.
	linesc := make(chan struct{})
	go func() {
		m.itemLines()
		close(linesc)
	}()
	sink, err := r.render(ctx, req, stage, m)
	<-linesc
	cur := <-curc
	if err != nil {
		return res, r.dropStage(stage, err)
	}
	res.MetadataFiles = sink.count()

	// Nothing in the live tree has changed yet; refuse conflicts now.
	tops := map[string]bool{}
	prevTop := ""
	for _, it := range items { // sorted: a top-level name's items are together
		if t := topName(it.Path); t != prevTop {
			tops[t], prevTop = true, t
		}
	}
	for _, e := range m.Entries {
		if tops[e] {
			sink.release()
			return res, r.dropStage(stage, &PathError{Path: e, Reason: "rendered metadata and a payload share a top-level name", Err: ErrConflict})
		}
		if err := r.checkTop(e); err != nil {
			sink.release()
			return res, r.dropStage(stage, err)
		}
	}

	// The rendered files are fsynced and the manifest is written while the
	// payloads are linked.
	syncc := make(chan error, 1)
	go func() { syncc <- sink.sync() }()
	synced := sync.OnceValue(func() error { return <-syncc })
	manc := make(chan error, 1)
	go func() { manc <- r.t.writeManifest(m) }()
	fail := func(err error) (Result, error) {
		synced()
		if <-manc == nil {
			r.t.op()
			os.Remove(r.t.abs(manifestPath(id))) // best effort: err is the one to report
		}
		return res, r.dropStage(stage, err)
	}
	res.Linked, res.Replaced, err = r.syncPayloads(ctx, req.Pool, m, cur)
	if err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := synced(); err != nil {
		return fail(err)
	}
	if r.sync {
		for _, d := range sink.dirs() {
			if err := atomicfile.Sync(sink.t.abs(d)); err != nil {
				return fail(fmt.Errorf("syncing staged metadata: %w", err))
			}
		}
	}
	if err := <-manc; err != nil {
		return res, r.dropStage(stage, err)
	}
	r.t.op()
	if err := os.Rename(r.t.abs(stage), r.t.abs(versionPath(id))); err != nil {
		return res, r.dropStage(stage, fmt.Errorf("renaming staged metadata: %w", err))
	}
	if r.sync {
		if err := atomicfile.Sync(r.t.abs(versionsDir)); err != nil {
			return res, fmt.Errorf("syncing %s: %w", versionsDir, err)
		}
	}

	// The switch. From here on the context is not consulted: finishing is
	// cheaper and safer than stopping half-way.
	st.Pending = id
	if err := r.t.writeState(st); err != nil {
		return res, err
	}
	if err := r.switchTo(id, m.Entries); err != nil {
		return res, r.undoSwitch(st, err)
	}
	next := state{Versions: append([]stateVersion{{ID: id, Key: req.Key, Created: req.Now}}, st.Versions...)}
	var dropped []string
	for _, v := range st.Retired {
		dropped = append(dropped, v.ID)
	}
	for _, v := range next.Versions[min(keep+1, len(next.Versions)):] {
		dropped = append(dropped, v.ID)
	}
	next.Versions = next.Versions[:min(keep+1, len(next.Versions))]
	if err := r.t.writeState(next); err != nil {
		return res, err
	}
	res.Version = id
	r.log.Debug("publish: switched", "path", r.target, "version", id, "linked", res.Linked, "replaced", res.Replaced)
	res.Removed, err = r.dropVersions(dropped, next.Versions, m, <-dropc)
	return res, err
}

// checkItems checks the items' paths and digests and returns them as manifest
// items sorted by path.
func checkItems(in []formats.Item) ([]manifestItem, error) {
	items := make([]manifestItem, 0, len(in))
	for _, it := range in {
		if err := checkPath(it.Path); err != nil {
			return nil, err
		}
		if it.Digest.IsZero() {
			return nil, fmt.Errorf("item %q has no digest", it.Path)
		}
		items = append(items, manifestItem{Path: it.Path, Digest: it.Digest})
	}
	byPath := func(a, b manifestItem) int { return strings.Compare(a.Path, b.Path) }
	if !slices.IsSortedFunc(items, byPath) {
		slices.SortFunc(items, byPath)
	}
	// No item may be another item's directory. The paths that start with
	// a given one form one run in sorted order, so a stack of the earlier
	// paths that are prefixes of the current one (each a prefix of the
	// next) is all there is to look at: one that is not a prefix of this
	// path is no prefix of any later one either. Only the top can be this
	// path's directory; a lower one would have been the top's.
	var prefixes []string
	for i, it := range items {
		if i > 0 && items[i-1].Path == it.Path {
			return nil, &PathError{Path: it.Path, Reason: "two items share the path", Err: ErrConflict}
		}
		for len(prefixes) > 0 && !strings.HasPrefix(it.Path, prefixes[len(prefixes)-1]) {
			prefixes = prefixes[:len(prefixes)-1]
		}
		if n := len(prefixes); n > 0 {
			if d := prefixes[n-1]; it.Path[len(d)] == '/' {
				return nil, &PathError{Path: d, Reason: "an item's path is another item's directory", Err: ErrConflict}
			}
		}
		prefixes = append(prefixes, it.Path)
	}
	return items, nil
}

// newID returns the id of a version published at now with key: the UTC time
// to the second and 8 hex digits of the key's SHA-256, with a "-<n>" suffix
// when a kept version already has that id.
func newID(now time.Time, key string, st state) string {
	h := sha256.Sum256([]byte(key))
	base := now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(h[:4])
	taken := map[string]bool{}
	for _, v := range slices.Concat(st.Versions, st.Retired) {
		taken[v.ID] = true
	}
	id := base
	for n := 2; taken[id]; n++ {
		id = base + "-" + strconv.Itoa(n)
	}
	return id
}

// render runs the format into the staging directory stage and fills in
// m.Entries.
func (r *run) render(ctx context.Context, req Request, stage string, m *manifest) (*stagingSink, error) {
	r.t.op()
	if err := os.RemoveAll(r.t.abs(stage)); err != nil {
		return nil, fmt.Errorf("clearing staging directory: %w", err)
	}
	if err := r.t.mkdirAll(stage); err != nil {
		return nil, err
	}
	sink := newStagingSink(newTree(r.t.abs(stage), r.sync, &r.ops))
	// Render sees the items by path; the caller's slice is copied only
	// when it has to be sorted.
	byPath := func(a, b formats.Item) int { return strings.Compare(a.Path, b.Path) }
	ritems := req.Items
	if !slices.IsSortedFunc(ritems, byPath) {
		ritems = slices.Clone(ritems)
		slices.SortStableFunc(ritems, byPath)
	}
	render := req.Format.Render
	if req.Render != nil {
		render = req.Render
	}
	err := render(ctx, formats.RenderRequest{
		Sink:  sink,
		Mode:  req.Mode,
		Items: ritems,
		Files: req.Files,
		Open: func(_ context.Context, d pool.Digest) (io.ReadCloser, error) {
			return req.Pool.Open(d)
		},
		Params: req.Params,
		Now:    req.Now,
		Signer: req.Signer,
		Logger: r.log,
	})
	if left := sink.closeLeftovers(); err == nil && len(left) > 0 {
		err = fmt.Errorf("render left %d file(s) unclosed, first %s", len(left), left[0])
	}
	if err != nil {
		sink.release()
		return nil, fmt.Errorf("rendering %s metadata: %w", req.Format.Name(), err)
	}
	des, err := os.ReadDir(r.t.abs(stage))
	if err != nil {
		sink.release()
		return nil, fmt.Errorf("reading staged metadata: %w", err)
	}
	if len(des) == 0 {
		sink.release()
		return nil, fmt.Errorf("rendering %s metadata: no file rendered", req.Format.Name())
	}
	for _, de := range des {
		m.Entries = append(m.Entries, de.Name())
	}
	slices.Sort(m.Entries)
	return sink, nil
}

// dropStage removes the staging directory after err and returns err.
func (r *run) dropStage(stage string, err error) error {
	r.t.op()
	if rerr := os.RemoveAll(r.t.abs(stage)); rerr != nil {
		r.log.Warn("publish: removing staging directory", "path", stage, "err", rerr)
	}
	return err
}

// isOurs reports whether the top-level name is a symlink publish made.
func (r *run) isOurs(name string) (exists, ours bool, err error) {
	fi, err := os.Lstat(r.t.abs(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return true, false, nil
	}
	dest, err := os.Readlink(r.t.abs(name))
	if err != nil {
		return true, false, err
	}
	return true, strings.HasPrefix(dest, versionsDir+"/"), nil
}

// checkTop refuses a top-level name occupied by something publish did not make.
func (r *run) checkTop(name string) error {
	exists, ours, err := r.isOurs(name)
	if err != nil {
		return err
	}
	if exists && !ours {
		return &PathError{Path: name, Reason: "rendered top-level entry exists and was not made by publish", Err: ErrConflict}
	}
	return nil
}

// syncPayloads links every item of next whose path is new or whose digest
// changed relative to cur (read by readManifestLines). A nil cur means the
// current manifest is unknown: each path is then checked with lstat, and
// kept when it is a hard link of its blob (or, with no pool to compare
// against, any regular file).
func (r *run) syncPayloads(ctx context.Context, p *pool.Store, next, cur *manifest) (linked, replaced int, err error) {
	items := next.Items
	place := func(i int, existed bool) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		it := items[i]
		if p == nil {
			return fmt.Errorf("restoring %s needs Options.Pool: its bytes differ from the current version's", it.Path)
		}
		link := r.t.linkPayload
		if cur != nil && !existed {
			link = r.t.linkNew
		}
		if err := link(p, it.Digest, it.Path); err != nil {
			return err
		}
		if existed {
			replaced++
		} else {
			linked++
		}
		return nil
	}
	if cur != nil {
		// Only the items the current version lacks are touched.
		err = compareItems(cur, next, place, nil)
	} else {
		for i, it := range items {
			if i%256 == 0 {
				if err = ctx.Err(); err != nil {
					break
				}
			}
			keep, exists, verr := r.verifyPayload(p, it)
			if verr != nil {
				err = verr
				break
			}
			if keep {
				continue
			}
			if err = place(i, exists); err != nil {
				break
			}
		}
	}
	if err != nil {
		return linked, replaced, err
	}
	return linked, replaced, r.t.syncDirty()
}

// verifyPayload checks a payload without a manifest to trust: keep reports
// that it is in place, exists that something is at its path.
func (r *run) verifyPayload(p *pool.Store, it manifestItem) (keep, exists bool, err error) {
	if err := r.t.checkDirs(parentOf(it.Path)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, false, nil
		}
		return false, false, err
	}
	fi, err := os.Lstat(r.t.abs(it.Path))
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	if !fi.Mode().IsRegular() {
		return false, true, nil
	}
	if p == nil {
		return true, true, nil
	}
	bi, err := os.Stat(p.Path(it.Digest))
	return err == nil && os.SameFile(fi, bi), true, nil
}

// switchTo points every top-level entry of version id at it, in reverse
// lexical order, each by renaming a fresh symlink over the old one; then it
// removes the symlinks into .versions that version id does not have.
func (r *run) switchTo(id string, entries []string) error {
	for i := len(entries) - 1; i >= 0; i-- {
		name := entries[i]
		if err := r.checkTop(name); err != nil {
			return err
		}
		tmp := r.t.abs("." + name + ".new")
		dest := versionPath(id) + "/" + name
		r.t.op()
		err := os.Symlink(dest, tmp)
		if errors.Is(err, fs.ErrExist) { // a leftover of an interrupted switch
			r.t.op()
			if err := os.Remove(tmp); err != nil {
				return fmt.Errorf("removing stale .%s.new: %w", name, err)
			}
			r.t.op()
			err = os.Symlink(dest, tmp)
		}
		if err != nil {
			return fmt.Errorf("switching %s: %w", name, err)
		}
		r.t.op()
		if err := os.Rename(tmp, r.t.abs(name)); err != nil {
			return fmt.Errorf("switching %s: %w", name, err)
		}
	}
	if err := r.removeStaleLinks(entries); err != nil {
		return err
	}
	if r.sync {
		return atomicfile.Sync(r.target)
	}
	return nil
}

// removeStaleLinks removes the target's top-level symlinks into .versions
// (including .<name>.new leftovers) whose name is not in keep.
func (r *run) removeStaleLinks(keep []string) error {
	des, err := os.ReadDir(r.target)
	if err != nil {
		return fmt.Errorf("reading target: %w", err)
	}
	for _, de := range des {
		if de.Type()&fs.ModeSymlink == 0 || slices.Contains(keep, de.Name()) {
			continue
		}
		if _, ours, err := r.isOurs(de.Name()); err != nil || !ours {
			continue
		}
		r.t.op()
		if err := os.Remove(r.t.abs(de.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing stale link %s: %w", de.Name(), err)
		}
	}
	return nil
}

// undoSwitch is called when a switch failed half-way: it switches back to
// the current version and returns err.
func (r *run) undoSwitch(st state, err error) error {
	if _, rerr := r.recover(st); rerr != nil {
		return errors.Join(err, fmt.Errorf("switching back: %w", rerr))
	}
	return err
}

// recover finishes what an interrupted operation left: with a pending
// switch it switches back to the current version, and it drops every
// version in .versions that st does not keep (leftover staging directories,
// versions pruned or pending before a crash), with their payloads.
func (r *run) recover(st state) (state, error) {
	if st.Pending != "" {
		r.log.Warn("publish: finishing an interrupted switch", "path", r.target, "version", st.Pending)
		if len(st.Versions) > 0 {
			m, err := readManifest(r.target, st.Versions[0].ID)
			if err != nil {
				return st, err
			}
			if err := r.switchTo(st.Versions[0].ID, m.Entries); err != nil {
				return st, err
			}
		} else if err := r.removeStaleLinks(nil); err != nil {
			return st, err
		}
		st.Pending = ""
		if err := r.t.writeState(st); err != nil {
			return st, err
		}
	}
	des, err := os.ReadDir(r.t.abs(versionsDir))
	if err != nil {
		return st, fmt.Errorf("reading %s: %w", versionsDir, err)
	}
	kept := map[string]bool{}
	for _, v := range slices.Concat(st.Versions, st.Retired) {
		kept[v.ID] = true
	}
	names := map[string]bool{}
	for _, de := range des {
		names[de.Name()] = true
	}
	var orphans []string
	for _, de := range des {
		name := de.Name()
		if name == ".lock" || name == "state.json" || kept[name] || kept[strings.TrimSuffix(name, ".manifest")] {
			continue
		}
		if id, ok := strings.CutSuffix(name, ".manifest"); ok && checkID(id) == nil {
			orphans = append(orphans, id) // dropVersions removes its directory too
			continue
		}
		if names[name+".manifest"] && checkID(name) == nil {
			continue
		}
		r.log.Warn("publish: removing leftover", "path", versionsDir+"/"+name)
		r.t.op()
		if err := os.RemoveAll(r.t.abs(versionsDir + "/" + name)); err != nil {
			return st, fmt.Errorf("removing leftover %s: %w", name, err)
		}
	}
	if len(orphans) > 0 {
		r.log.Warn("publish: dropping versions no state keeps", "path", r.target, "versions", orphans)
		if _, err := r.dropVersions(orphans, st.Versions, nil, nil); err != nil {
			return st, err
		}
	}
	return st, nil
}

// dropVersions removes the payloads that versions ids name and no version of
// kept names, then the versions' directories and manifests, then the
// directories left empty. newest, when not nil, is the manifest of the
// version just published (one of kept); dropping may hold the manifests of
// ids, read by readManifestLines.
func (r *run) dropVersions(ids []string, kept []stateVersion, newest *manifest, dropping map[string]*manifest) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	// Paths the new version names are kept without reading the other kept
	// manifests: in the common case (the new version still names what the
	// dropped one did) no other manifest is read at all, and the dropped
	// one's lines are compared with the new items without decoding them.
	next := newest
	if next == nil {
		next = &manifest{}
	}
	var candidates []string
	for _, id := range ids {
		m := dropping[id]
		var err error
		if m == nil {
			m, err = readManifestLines(r.target, id)
		}
		var gone []string
		if err == nil {
			err = compareItems(m, next, nil, func(p string) error {
				gone = append(gone, p)
				return nil
			})
		}
		if err != nil {
			r.log.Warn("publish: dropped version has no readable manifest; its payloads stay", "version", id, "err", err)
			continue
		}
		candidates = append(candidates, gone...)
	}
	removed := 0
	if len(candidates) > 0 {
		named, err := r.namedPaths(kept, newest)
		if err != nil {
			r.log.Warn("publish: a kept manifest is unreadable; no payload removed", "err", err)
		} else {
			var dirs []string
			for _, p := range candidates {
				if named[p] {
					continue
				}
				named[p] = true // once
				ok, err := r.t.removePayload(p)
				if err != nil {
					return removed, err
				}
				if ok {
					removed++
					dirs = append(dirs, parentOf(p))
				}
			}
			if err := r.t.pruneDirs(dirs); err != nil {
				return removed, err
			}
		}
	}
	for _, id := range ids {
		for _, p := range []string{versionPath(id), manifestPath(id)} {
			r.t.op()
			if err := os.RemoveAll(r.t.abs(p)); err != nil {
				return removed, fmt.Errorf("removing version %s: %w", id, err)
			}
		}
	}
	r.t.dirty[versionsDir] = true
	return removed, r.t.syncDirty()
}

// namedPaths returns the set of payload paths the versions name.
func (r *run) namedPaths(vs []stateVersion, known *manifest) (map[string]bool, error) {
	named := map[string]bool{}
	for _, v := range vs {
		m := known
		if m == nil || m.ID != v.ID {
			var err error
			if m, err = readManifest(r.target, v.ID); err != nil {
				return nil, err
			}
		}
		for _, it := range m.Items {
			named[it.Path] = true
		}
	}
	return named, nil
}
