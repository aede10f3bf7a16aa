package chantal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/fetch"
	"github.com/chantal-lite/chantal/internal/verify"
	"github.com/chantal-lite/chantal/pool"
)

// SyncRequest selects the repositories to sync.
type SyncRequest struct {
	// Repos are repository ids; empty with All syncs every enabled repository.
	Repos []string
	All   bool
	// DryRun computes what a sync would change without downloading payloads or
	// changing the catalog.
	DryRun bool
	// Wait makes a sync of a repository another process is syncing wait for it,
	// instead of failing with ErrBusy.
	Wait bool
}

// SyncResult reports a Sync, one entry per repository in request order.
type SyncResult struct {
	Repos []RepoSyncResult
}

// Err returns nil when every repository synced completely; otherwise the
// repository errors joined, wrapping ErrPartial when items failed.
func (r *SyncResult) Err() error {
	var errs []error
	for _, rr := range r.Repos {
		if rr.Err != nil {
			errs = append(errs, rr.Err)
		} else if len(rr.Failed) > 0 {
			errs = append(errs, &RepoError{Op: "sync", Repo: rr.Repo, Err: fmt.Errorf("%w: %d of %d items failed", ErrPartial, len(rr.Failed), rr.Wanted)})
		}
	}
	return errors.Join(errs...)
}

// Change is one package a sync adds, removes or updates.
type Change struct {
	Name, Arch string
	// Old and New are versions; Old is empty for an addition, New for a removal.
	Old, New string
	Path     string
}

// RepoSyncResult reports one repository's sync.
type RepoSyncResult struct {
	Repo string
	// Unchanged is set when upstream's top-level metadata had not changed and
	// every referenced blob was present: nothing was scanned or downloaded.
	Unchanged bool
	DryRun    bool
	// Wanted is the number of items the filters kept.
	Wanted int
	// Added, Removed and Updated are what the repository's state gained, lost or
	// moved to another version, by (name, arch).
	Added, Removed, Updated []Change
	// Downloaded counts payloads fetched (or, in a dry run, to fetch) and Bytes their size.
	Downloaded int
	Bytes      int64
	// Failed lists payloads that could not be fetched; the rest were synced.
	Failed []ItemError
	// State is the id of the repository's state after the sync.
	State    string
	Started  time.Time
	Finished time.Time
	// Err is set when the repository's sync failed as a whole.
	Err error
}

// Sync fetches upstream metadata for each requested repository, applies
// filters, downloads missing payloads in parallel and commits the new state in
// one short catalog transaction. Repositories are synced one after another; a
// failure of one does not stop the others. The returned error is non-nil only
// for a bad request (unknown repository); per-repository and per-item failures
// are in the result (see SyncResult.Err).
func (m *Mirror) Sync(ctx context.Context, req SyncRequest) (*SyncResult, error) {
	ids, err := m.selectRepos(req.Repos, req.All)
	if err != nil {
		return nil, err
	}
	res := &SyncResult{}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		rr := m.syncRepo(ctx, id, req)
		res.Repos = append(res.Repos, rr)
	}
	return res, nil
}

func (m *Mirror) selectRepos(ids []string, all bool) ([]string, error) {
	if all && len(ids) > 0 {
		return nil, errors.New("name repositories or use all, not both")
	}
	if !all {
		if len(ids) == 0 {
			return nil, errors.New("no repository named (use all to sync every enabled repository)")
		}
		for _, id := range ids {
			if _, err := m.repoConfig(id); err != nil {
				return nil, err
			}
		}
		return ids, nil
	}
	var out []string
	for i := range m.cfg.Repositories {
		r := &m.cfg.Repositories[i]
		if r.IsEnabled() && r.Mode != config.ModeHosted {
			out = append(out, r.ID)
		}
	}
	return out, nil
}

// repoSync carries one repository's sync through its steps.
type repoSync struct {
	m      *Mirror
	rc     *config.Repository
	format formats.Format
	mode   formats.Mode
	src    *fetch.Source
	res    *RepoSyncResult
	old    catalog.Repo
	exists bool
	meta   map[string]string
	// checkedPool is set when unchanged checked every blob of the state.
	checkedPool bool
	// fetched maps upstream path → digest of metadata already in the pool.
	mu      sync.Mutex
	fetched map[string]pool.Digest
	// absent holds optional upstream paths prefetchFiles found missing.
	absent map[string]bool
}

func (m *Mirror) syncRepo(ctx context.Context, id string, req SyncRequest) (rr RepoSyncResult) {
	rr = RepoSyncResult{Repo: id, DryRun: req.DryRun, Started: m.now().UTC()}
	m.reporter.Report(Event{Kind: SyncStarted, Repo: id})
	defer func() {
		rr.Finished = m.now().UTC()
		m.reporter.Report(Event{Kind: SyncDone, Repo: id, Err: rr.Err})
	}()
	fail := func(op string, err error) RepoSyncResult {
		var re *RepoError
		if !errors.As(err, &re) {
			err = &RepoError{Op: op, Repo: id, Err: err}
		}
		rr.Err = err
		return rr
	}
	rc, err := m.repoConfig(id)
	if err != nil {
		return fail("sync", err)
	}
	if rc.Mode == config.ModeHosted {
		return fail("sync", errors.New("hosted repositories have no upstream; use package upload"))
	}
	f, err := m.formats.Lookup(rc.Type)
	if err != nil {
		return fail("sync", err)
	}
	mode, err := formats.ParseMode(rc.Mode)
	if err != nil {
		return fail("sync", err)
	}
	repoLock, err := m.lockRepo(ctx, id, req.Wait)
	if err != nil {
		return fail("sync", err)
	}
	defer repoLock.Unlock()
	if !req.DryRun {
		poolLock, err := m.lockPool(ctx, false, true)
		if err != nil {
			return fail("sync", err)
		}
		defer poolLock.Unlock()
	}
	src, err := m.source(rc)
	if err != nil {
		return fail("sync", err)
	}
	rs := &repoSync{m: m, rc: rc, format: f, mode: mode, src: src, res: &rr, fetched: map[string]pool.Digest{}, absent: map[string]bool{}}
	if err := m.view(ctx, func(tx *catalog.Tx) error {
		r, err := tx.Repo(id)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil
		}
		rs.old, rs.exists = r, err == nil
		return err
	}); err != nil {
		return fail("sync", err)
	}
	var run *catalog.SyncRun
	if !req.DryRun {
		run = &catalog.SyncRun{Repo: id, Started: rr.Started, Status: "running"}
		if err := m.update(ctx, func(tx *catalog.Tx) error {
			if !rs.exists {
				now := m.now().UTC()
				if err := tx.PutRepo(catalog.Repo{ID: id, Format: f.Name(), Mode: string(mode), Feed: rc.Feed, Created: now, Updated: now}); err != nil {
					return err
				}
				rs.old, rs.exists = catalog.Repo{ID: id, Created: now}, true
			}
			return tx.PutSyncRun(run)
		}); err != nil {
			return fail("sync", err)
		}
	}
	err = rs.run(ctx, req.DryRun)
	if run != nil {
		run.Finished = m.now().UTC()
		run.Added, run.Removed, run.Updated = len(rr.Added), len(rr.Removed), len(rr.Updated)
		run.Bytes = rr.Bytes
		for _, fe := range rr.Failed {
			run.Errors = append(run.Errors, fe.Error())
		}
		switch {
		case err != nil:
			run.Status = "failed"
			run.Errors = append(run.Errors, err.Error())
		case rr.Unchanged:
			run.Status = "unchanged"
		case len(rr.Failed) > 0:
			run.Status = "partial"
		default:
			run.Status = "success"
		}
		// Record the outcome even when ctx was cancelled.
		if uerr := m.update(context.WithoutCancel(ctx), func(tx *catalog.Tx) error { return tx.PutSyncRun(run) }); uerr != nil && err == nil {
			err = uerr
		}
	}
	if err != nil {
		return fail("sync", err)
	}
	return rr
}

// configKey fingerprints the settings that change what a sync keeps, so that a
// changed filter defeats the unchanged-upstream fast path.
func configKey(rc *config.Repository) string {
	b, _ := json.Marshal(struct { // marshalling plain config structs cannot fail
		Type, Feed, Mode string
		Filters          config.Filters
		APT              config.APT
		Verify           string `json:",omitempty"`
	}{rc.Type, rc.Feed, rc.Mode, rc.Filters, rc.APT, pkgVerifyKey(rc)})
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// pkgVerifyKey is the part of configKey for package verification and the
// published upstream key; empty (configKey unchanged) when neither applies.
func pkgVerifyKey(rc *config.Repository) string {
	if !rc.Verify.GPGCheck && len(rc.Verify.Keys) == 0 {
		return ""
	}
	return verifyKey(&rc.Verify)
}

const (
	metaTopSHA  = "top.sha256"
	metaETag    = "top.etag"
	metaLastMod = "top.last_modified"
	metaConfig  = "config"
	metaTopPath = "top.path"
	metaPoolGen = "pool.generation"
)

func (rs *repoSync) run(ctx context.Context, dryRun bool) error {
	m, id := rs.m, rs.rc.ID
	rs.meta = map[string]string{metaConfig: configKey(rs.rc)}
	sreq := formats.ScanRequest{Source: rs, Mode: rs.mode, Params: formatParams(rs.rc), Logger: m.log.With("repo", id, "format", rs.format.Name())}

	var topFiles []formats.File
	if tl, ok := rs.format.(formats.TopLeveler); ok {
		topPath, sigPath, err := tl.TopLevel(ctx, sreq)
		if err != nil {
			return err
		}
		conditional := func(p string) fetch.GetRequest {
			greq := fetch.GetRequest{Path: p}
			if rs.exists && rs.old.Meta[metaConfig] == rs.meta[metaConfig] && rs.old.Meta[metaTopPath] == p {
				greq.ETag, greq.LastModified = rs.old.Meta[metaETag], rs.old.Meta[metaLastMod]
			}
			return greq
		}
		greq := conditional(topPath)
		resp, err := rs.src.Get(ctx, greq)
		if alt, ok := rs.format.(formats.AlternateTopLeveler); ok && errors.Is(err, fetch.ErrNotFound) {
			if topPath, sigPath, err = alt.AlternateTopLevel(ctx, sreq); err != nil {
				return err
			}
			greq = conditional(topPath)
			resp, err = rs.src.Get(ctx, greq)
		}
		if err != nil {
			return fmt.Errorf("fetching %s: %w", topPath, err)
		}
		rs.meta[metaTopPath] = topPath
		if resp.NotModified {
			if ok, err := rs.unchanged(ctx); err != nil || ok {
				if ok && rs.checkedPool && !dryRun {
					err = rs.saveMeta(ctx)
				}
				return err
			}
			// Something is missing locally: fetch unconditionally.
			greq.ETag, greq.LastModified = "", ""
			if resp, err = rs.src.Get(ctx, greq); err != nil {
				return fmt.Errorf("fetching %s: %w", topPath, err)
			}
		}
		top := &formats.TopLevel{Path: topPath, Data: resp.Data}
		sum := sha256.Sum256(resp.Data)
		rs.meta[metaTopSHA] = hex.EncodeToString(sum[:])
		rs.meta[metaETag], rs.meta[metaLastMod] = resp.ETag, resp.LastModified
		if rs.exists && rs.old.Meta[metaTopSHA] == rs.meta[metaTopSHA] && rs.old.Meta[metaConfig] == rs.meta[metaConfig] {
			if ok, err := rs.unchanged(ctx); err != nil || ok {
				if ok && !dryRun {
					err = rs.saveMeta(ctx)
				}
				return err
			}
		}
		if sigPath != "" {
			sresp, err := rs.src.Get(ctx, fetch.GetRequest{Path: sigPath, MaxSize: 1 << 20})
			switch {
			case errors.Is(err, fetch.ErrNotFound):
			case err != nil:
				return fmt.Errorf("fetching %s: %w", sigPath, err)
			default:
				top.Signature = sresp.Data
			}
		}
		if err := rs.verify(ctx, top, sigPath); err != nil {
			return err
		}
		// Mirror mode republishes the top-level metadata (and its signature)
		// byte for byte; other modes regenerate it.
		if !dryRun && rs.mode == formats.ModeMirror {
			tf, err := rs.keep(ctx, topPath, resp.Data)
			if err != nil {
				return err
			}
			topFiles = append(topFiles, tf)
			if top.Signature != nil {
				sf, err := rs.keep(ctx, sigPath, top.Signature)
				if err != nil {
					return err
				}
				sf.Kind = "signature"
				topFiles = append(topFiles, sf)
			}
		}
		sreq.Top = top
	}

	var want []wanted
	var files []formats.File
	keep, err := itemFilter(rs.rc, rs.format)
	if err != nil {
		return err
	}
	// The dependency closure needs every item, with its fragments (where the
	// format reads dependencies): no filtering or early storing then.
	storeEarly := !dryRun
	if rs.rc.Filters.FilterWithDeps {
		keep, storeEarly = nil, false
	}
	prefiltered := keep != nil
	lay, _ := rs.format.(formats.Layouter)
	if rs.mode == formats.ModeMirror {
		lay = nil
	}
	// Scanned items are staged in batches (catalog.Stage: records spooled,
	// the memory they held freed) by a goroutine of their own while the scan
	// goes on (one batch at a time, in order), and written to the catalog in
	// digest order once the scan is done.
	var batch []wanted
	pending := 0
	var stage *catalog.Stage
	if storeEarly {
		if stage, err = catalog.NewStage(filepath.Dir(m.catalogPath())); err != nil {
			return err
		}
		defer func() {
			if cerr := stage.Close(); cerr != nil {
				m.log.Warn("removing the item spool", "repo", id, "err", cerr)
			}
		}()
	}
	// Payloads download while the scan goes on, when that is safe: the
	// storer hands each batch to the prefetcher once it is staged.
	pctx, stopPrefetch := context.WithCancel(ctx)
	defer stopPrefetch()
	var pf *prefetcher
	if storeEarly {
		pf = rs.newPrefetcher(pctx)
	}
	st := &storer{rs: rs, stage: stage, pf: pf, pctx: pctx}
	// handOver collects the batch in flight and starts writing batch.
	handOver := func() error {
		stored, err := st.wait()
		want = append(want, stored...)
		if err != nil {
			return err
		}
		st.start(ctx, batch)
		batch, pending = nil, 0
		return nil
	}
	err = rs.format.Scan(ctx, sreq, func(e formats.Entry) error {
		switch {
		case e.Item != nil:
			if keep != nil && !keep(e.Item) {
				return nil
			}
			w := wanted{Item: *e.Item, from: e.Item.Path}
			if lay != nil {
				w.Path = lay.PublishPath(w.Item)
			}
			if !storeEarly {
				want = append(want, w)
				return nil
			}
			batch = append(batch, w)
			for _, f := range w.Fragments {
				pending += len(f)
			}
			if len(batch) >= itemBatch || pending >= itemBatchBytes {
				return handOver()
			}
		case e.File != nil:
			if e.File.MirrorOnly && rs.mode != formats.ModeMirror {
				return nil
			}
			files = append(files, *e.File)
		}
		return nil
	})
	if err == nil && storeEarly && len(batch) > 0 {
		err = handOver() // the last batch too, so that its payloads are prefetched
	}
	stored, serr := st.wait()
	want = append(append(want, stored...), batch...)
	prefetching := pf != nil
	defer func() {
		if prefetching { // failed before reconcile
			stopPrefetch()
			pf.finish(ctx)
		}
	}()
	if err != nil {
		return fmt.Errorf("scanning upstream: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("scanning upstream: %w", serr)
	}
	if stage != nil {
		// While the prefetcher downloads.
		if err := stage.Commit(ctx, updater(m.update)); err != nil {
			return fmt.Errorf("storing items: %w", err)
		}
	}
	if want, err = rs.filter(ctx, want, prefiltered); err != nil {
		return err
	}
	want = rs.layout(want)
	rs.res.Wanted = len(want)
	m.reporter.Report(Event{Kind: ScanDone, Repo: id, Total: int64(len(want))})
	files = mergeFiles(files, topFiles)
	var fileFetch sync.WaitGroup
	if storeEarly {
		fileFetch.Go(func() { rs.prefetchFiles(ctx, files) })
	}
	prefetched := pf.finish(ctx)
	prefetching = false
	fileFetch.Wait()
	return rs.reconcile(ctx, want, files, prefetched, dryRun)
}

// itemBatch is how many scanned items are staged at once, at most.
const itemBatch = 2000

// itemBatchBytes bounds the verbatim metadata of one batch, which is held
// until the batch is staged: 2 MiB is about 400 RPM packages with primary,
// filelists and other, or 1,800 Debian stanzas.
const itemBatchBytes = 2 << 20

// storer stages batches of scanned items (storeItems) in a goroutine of its
// own, one batch at a time, so that work overlaps the scan, and then queues
// their payloads in the prefetcher (if any).
type storer struct {
	rs    *repoSync
	stage *catalog.Stage
	pf    *prefetcher
	pctx  context.Context  // the prefetcher's
	done  chan storeResult // the batch in flight; nil when none is
}

type storeResult struct {
	batch []wanted
	err   error
}

// start hands batch over to a new goroutine; the caller must not touch it
// until wait returns it. Call wait first if a batch is in flight.
func (s *storer) start(ctx context.Context, batch []wanted) {
	done := make(chan storeResult, 1)
	s.done = done
	go func() {
		err := s.rs.storeItems(ctx, s.stage, batch)
		if err == nil {
			for i := range batch {
				s.pf.add(s.pctx, &batch[i])
			}
		}
		done <- storeResult{batch, err}
	}()
}

// wait returns the batch in flight (stored and slimmed, unless err) once it
// is written; nothing when none is.
func (s *storer) wait() ([]wanted, error) {
	if s.done == nil {
		return nil, nil
	}
	r := <-s.done
	s.done = nil
	return r.batch, r.err
}

// storeItems stages the scanned items whose digest upstream declares and the
// catalog does not hold (they are fresh), for stage's Commit at the end of
// the scan, and slims them in memory (see slim), so a large upstream's
// verbatim metadata is not held until the end of the sync. Item records are
// content-addressed: one that ends up unreferenced (a download failed, the
// sync was interrupted) is removed by GC.
func (rs *repoSync) storeItems(ctx context.Context, stage *catalog.Stage, batch []wanted) error {
	var put []catalog.Item
	err := rs.m.view(ctx, func(tx *catalog.Tx) error {
		for i := range batch {
			it := &batch[i].Item
			if it.Digest.IsZero() {
				continue
			}
			ok, err := tx.HasItem(it.Digest)
			if err != nil {
				return err
			}
			batch[i].fresh = !ok
			if ok {
				continue
			}
			put = append(put, catalog.Item{
				Digest: it.Digest, Size: it.Size, Format: rs.format.Name(),
				Name: it.Name, Version: it.Version, Arch: it.Arch,
				Checksums: it.Checksums, Fields: it.Fields, Fragments: it.Fragments,
			})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := stage.Add(put); err != nil {
		return err
	}
	_, keepFields := rs.format.(formats.RemoteFetcher)
	if _, ok := rs.format.(formats.Companioner); ok {
		keepFields = true
	}
	for i := range batch {
		if !batch[i].Digest.IsZero() {
			batch[i].slim(keepFields)
		}
	}
	return nil
}

// slim reduces an item the catalog now holds to what the rest of a sync
// reads: paths, identity, size, digest and the checksum a download verifies.
// Its strings are copied out of the scanned metadata (formats may share the
// memory of a fragment, as apt does), the fragments and, unless keepFields
// (formats that read an item again after the scan: remote fetches,
// companions), the fields are dropped. The publish path was computed while
// the fields were there. Checksums shrink to the strongest one, and to none
// when that is the SHA-256 of Digest (download restores it).
func (w *wanted) slim(keepFields bool) {
	w.stored = true
	w.Fragments = nil
	if !keepFields {
		w.Fields = nil
	}
	if algo, sum, err := verify.Strongest(w.Checksums); err == nil {
		if algo == "sha256" && sum == w.Digest.String() {
			w.Checksums = nil
		} else {
			w.Checksums = formats.Checksums{algo: strings.Clone(sum)}
		}
	}
	// One new allocation for every string of the item (concatenation copies).
	samePath := w.from == w.Path
	var all string
	if samePath {
		all = w.Path + w.Name + w.Version + w.Arch
	} else {
		all = w.Path + w.Name + w.Version + w.Arch + w.from
	}
	// Concatenating a single non-empty part returns that part itself.
	all = strings.Clone(all)
	cut := func(s string) string {
		v := all[:len(s)]
		all = all[len(s):]
		return v
	}
	w.Path = cut(w.Path)
	w.Name, w.Version, w.Arch = cut(w.Name), cut(w.Version), cut(w.Arch)
	if samePath {
		w.from = w.Path
	} else {
		w.from = cut(w.from)
	}
}

// checksums returns what a download of w verifies: its declared checksums,
// or the SHA-256 of its digest when slim dropped them.
func (w *wanted) checksums() formats.Checksums {
	if len(w.Checksums) == 0 && !w.Digest.IsZero() {
		return formats.Checksums{"sha256": w.Digest.String()}
	}
	return w.Checksums
}

// unchanged reports whether every blob of the current state is in the pool, so
// that an unchanged upstream needs no further work.
func (rs *repoSync) unchanged(ctx context.Context) (bool, error) {
	if !rs.exists {
		return false, nil
	}
	// Blobs leave the pool only through Remove (gc), which moves the pool's
	// generation: at the generation of the last full check, they are all there.
	gen, err := rs.m.pool.Generation()
	if err != nil {
		return false, err
	}
	if g := strconv.FormatInt(gen, 10); rs.old.Meta[metaPoolGen] != g {
		var st *catalog.State
		if err := rs.m.view(ctx, func(tx *catalog.Tx) error {
			var err error
			st, err = tx.State(rs.old.State)
			return err
		}); err != nil {
			return false, err
		}
		for _, r := range st.Refs {
			if ok, err := rs.m.pool.Has(r.Digest); err != nil || !ok {
				return false, err
			}
		}
		for _, f := range st.Files {
			if ok, err := rs.m.pool.Has(f.Digest); err != nil || !ok {
				return false, err
			}
		}
		rs.meta[metaPoolGen] = g
		rs.checkedPool = true
	}
	rs.res.Unchanged = true
	rs.res.State = rs.old.State.String()
	return true, nil
}

func (rs *repoSync) saveMeta(ctx context.Context) error {
	return rs.m.update(ctx, func(tx *catalog.Tx) error {
		r, err := tx.Repo(rs.rc.ID)
		if err != nil {
			return err
		}
		if r.Meta == nil {
			r.Meta = map[string]string{}
		}
		for k, v := range rs.meta {
			r.Meta[k] = v
		}
		return tx.PutRepo(r)
	})
}

// keep stores fetched metadata bytes in the pool and describes them as a File.
func (rs *repoSync) keep(ctx context.Context, p string, data []byte) (formats.File, error) {
	info, err := rs.m.pool.Put(ctx, bytes.NewReader(data), pool.PutRequest{Digest: pool.Sum(data), Size: int64(len(data))})
	if err != nil {
		return formats.File{}, fmt.Errorf("storing %s: %w", p, err)
	}
	rs.mu.Lock()
	rs.fetched[p] = info.Digest
	rs.mu.Unlock()
	return formats.File{Path: p, Size: info.Size, Digest: info.Digest, Kind: "top", Checksums: formats.Checksums{"sha256": info.Digest.String()}}, nil
}

// prefetchFiles downloads the repository-level files the scan listed but
// did not read (mirror mode's uncompressed and xz indexes: tens of MB for a
// large APT component) while the prefetcher finishes the last payloads,
// instead of one after another once it is done. It takes files with a
// declared digest and size, one path per digest; reconcile uses what it
// fetched (rs.fetched), skips optional files it found absent (rs.absent)
// and fetches, or reports, the rest.
func (rs *repoSync) prefetchFiles(ctx context.Context, files []formats.File) {
	var wg sync.WaitGroup
	seen := map[pool.Digest]bool{}
	for _, f := range files {
		if f.Digest.IsZero() || f.Size <= 0 || seen[f.Digest] {
			continue
		}
		seen[f.Digest] = true
		rs.mu.Lock()
		_, done := rs.fetched[f.Path]
		rs.mu.Unlock()
		if done {
			continue
		}
		wg.Go(func() {
			info, err := rs.src.Download(ctx, rs.m.pool, fetch.DownloadRequest{Path: f.Path, Size: f.Size, Checksums: f.Checksums, Digest: f.Digest})
			if f.Optional && errors.Is(err, fetch.ErrNotFound) {
				rs.mu.Lock()
				rs.absent[f.Path] = true
				rs.mu.Unlock()
				return
			}
			if err != nil {
				rs.m.log.Debug("file prefetch failed; reconcile retries", "repo", rs.rc.ID, "path", f.Path, "err", err)
				return
			}
			rs.mu.Lock()
			rs.fetched[f.Path] = info.Digest
			rs.mu.Unlock()
		})
	}
	wg.Wait()
}

// Open implements formats.Source for Scan: unverified streaming.
func (rs *repoSync) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	return rs.src.Open(ctx, p)
}

// OpenFile implements formats.VerifyingSource: the file is downloaded into the
// pool, verified against its declared checksum, and read from there, so the
// bytes parsed are the bytes kept.
func (rs *repoSync) OpenFile(ctx context.Context, f formats.File) (io.ReadCloser, error) {
	info, err := rs.src.Download(ctx, rs.m.pool, fetch.DownloadRequest{Path: f.Path, Size: f.Size, Checksums: f.Checksums, Digest: f.Digest})
	if err != nil {
		return nil, err
	}
	rs.mu.Lock()
	rs.fetched[f.Path] = info.Digest
	rs.mu.Unlock()
	return rs.m.pool.Open(info.Digest)
}

func mergeFiles(files, top []formats.File) []formats.File {
	seen := map[string]int{}
	out := make([]formats.File, 0, len(files)+len(top))
	for _, f := range append(append([]formats.File(nil), files...), top...) {
		if i, ok := seen[f.Path]; ok {
			if out[i].Digest.IsZero() {
				out[i].Digest = f.Digest
			}
			continue
		}
		seen[f.Path] = len(out)
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// wanted is an item the filters kept, with the upstream path it is fetched
// from (Item.Path is where it is published).
type wanted struct {
	formats.Item
	from string
	// stored is set when the catalog holds the item (storeItems) and the
	// item was slimmed.
	stored bool
	// fresh is set when storeItems found the item new to the catalog: its
	// payload is almost surely not in the pool (see prefetcher.add).
	fresh bool
}

// filter applies the repository's filters to the scanned items: with
// prefiltered, the per-item filters already ran during the scan (and slimmed
// items no longer have the fields they read), so only the version filters
// remain.
func (rs *repoSync) filter(ctx context.Context, want []wanted, prefiltered bool) ([]wanted, error) {
	if prefiltered && !postFilters(rs.rc) {
		return want, nil
	}
	items := make([]formats.Item, len(want))
	for i := range want {
		items[i] = want[i].Item
		items[i].Path = want[i].from
	}
	idx, err := selectItems(ctx, rs.rc, rs.format, items, prefiltered)
	if err != nil {
		return nil, err
	}
	out := want[:0]
	for _, i := range idx {
		out = append(out, want[i]) // i >= len(out): nothing is overwritten before it is read
	}
	clear(want[len(out):])
	return out, nil
}

// layout keeps one item per published path (the first; upstream listing one
// path twice is reported in the log) and sorts them by path.
func (rs *repoSync) layout(want []wanted) []wanted {
	seen := make(map[string]bool, len(want))
	out := want[:0]
	for _, w := range want {
		if seen[w.Path] {
			rs.m.log.Warn("upstream lists a path twice; keeping the first", "repo", rs.rc.ID, "path", w.Path)
			continue
		}
		seen[w.Path] = true
		out = append(out, w)
	}
	clear(want[len(out):])
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
