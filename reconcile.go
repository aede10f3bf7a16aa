package chantal

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/fetch"
	"github.com/chantal-lite/chantal/internal/verify"
	"github.com/chantal-lite/chantal/pool"
)

// reconcile resolves each wanted item to a pool blob (downloading what is
// missing), then commits the new state in one transaction.
func (rs *repoSync) reconcile(ctx context.Context, want []wanted, files []formats.File, prefetched map[pool.Digest]int64, dryRun bool) error {
	m, id := rs.m, rs.rc.ID

	// Resolve digests of items upstream declares only by other checksums, and
	// learn which items the catalog already holds.
	known := make([]bool, len(want))
	var old *catalog.State
	if err := m.view(ctx, func(tx *catalog.Tx) error {
		for i := range want {
			w := &want[i]
			if w.stored {
				known[i] = true // storeItems just wrote it
				continue
			}
			if w.Digest.IsZero() {
				if algo, sum, err := verify.Strongest(w.Checksums); err == nil {
					if d, err := tx.ItemByChecksum(algo, sum); err == nil {
						w.Digest = d
					}
				}
			}
			if !w.Digest.IsZero() {
				ok, err := tx.HasItem(w.Digest)
				if err != nil {
					return err
				}
				known[i] = ok
			}
		}
		var err error
		if rs.exists {
			old, err = tx.State(rs.old.State)
		} else {
			old = &catalog.State{}
		}
		return err
	}); err != nil {
		return err
	}
	// Retention (retention.go) may keep what upstream dropped, or drop older versions.
	var err error
	if want, known, err = rs.retain(ctx, want, known, old); err != nil {
		return err
	}
	for i := range want {
		if known[i] {
			want[i].Fragments = nil // the catalog has them; free the memory
		}
	}

	// Fetch what the pool lacks.
	var missing []int
	absent := make([]bool, len(want)) // the pool was just found to lack the digest
	for i := range want {
		if want[i].Digest.IsZero() {
			missing = append(missing, i)
			continue
		}
		if _, ok := prefetched[want[i].Digest]; ok {
			continue // flushed into the pool by the prefetcher
		}
		ok, err := m.pool.Has(want[i].Digest)
		if err != nil {
			return err
		}
		if !ok {
			missing = append(missing, i)
			absent[i] = true
		}
	}
	for _, i := range missing {
		rs.res.Downloaded++
		rs.res.Bytes += want[i].Size
	}
	failed := make([]bool, len(want))
	if !dryRun {
		rs.res.Bytes = 0
		// What the prefetcher fetched during the scan counts as downloaded
		// (once per blob); it is in the pool, so not missing.
		for i := range want {
			if size, ok := prefetched[want[i].Digest]; ok {
				delete(prefetched, want[i].Digest)
				rs.res.Downloaded++
				rs.res.Bytes += size
				m.reporter.Report(Event{Kind: ItemAdded, Repo: id, Path: want[i].Path, Bytes: size})
			}
		}
		// Payloads are group-committed (pool.Batch): one flush per
		// flushItems or flushBytes makes them durable and visible, and only
		// then are they reported added, so a crash loses at most one group.
		batch := m.pool.NewBatch()
		defer func() {
			if err := batch.Discard(); err != nil {
				m.log.Warn("discarding download batch", "repo", id, "err", err)
			}
		}()
		type added struct {
			i    int
			size int64
		}
		var (
			mu        sync.Mutex
			unflushed []added
			pending   int64
		)
		flush := func(ctx context.Context, ready []added) error {
			if len(ready) == 0 {
				return nil
			}
			if err := batch.Flush(ctx); err != nil {
				return err
			}
			for _, a := range ready {
				m.reporter.Report(Event{Kind: ItemAdded, Repo: id, Path: want[a.i].Path, Bytes: a.size})
			}
			return nil
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(max(m.cfg.DownloadFor(rs.rc).Parallel, 1))
		for _, i := range missing {
			w := &want[i]
			g.Go(func() error {
				m.reporter.Report(Event{Kind: FetchStarted, Repo: id, Path: w.from, Total: w.Size})
				info, err := rs.download(gctx, w, batch, absent[i])
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					mu.Lock()
					failed[i] = true
					rs.res.Failed = append(rs.res.Failed, ItemError{Path: w.from, Err: err})
					mu.Unlock()
					m.reporter.Report(Event{Kind: ItemFailed, Repo: id, Path: w.from, Err: err})
					m.log.Warn("download failed", "repo", id, "path", w.from, "err", err)
					return nil
				}
				w.Digest = info.Digest
				mu.Lock()
				rs.res.Bytes += info.Size
				unflushed = append(unflushed, added{i, info.Size})
				pending += info.Size
				var ready []added
				if len(unflushed) >= flushItems || pending >= flushBytes {
					ready, unflushed, pending = unflushed, nil, 0
				}
				mu.Unlock()
				return flush(gctx, ready)
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if err := flush(ctx, unflushed); err != nil {
			return err
		}
		if err := rs.verifyPackages(ctx, want, old, failed); err != nil {
			return err
		}
		sort.Slice(rs.res.Failed, func(i, j int) bool { return rs.res.Failed[i].Path < rs.res.Failed[j].Path })
		if rs.mode == formats.ModeMirror && len(rs.res.Failed) > 0 {
			return rs.keepOldState(ctx)
		}
	}

	// Repo-level files: the ones Scan read are already in the pool.
	var keptFiles []catalog.File
	for _, f := range files {
		rs.mu.Lock()
		d, ok := rs.fetched[f.Path]
		absent := f.Optional && rs.absent[f.Path]
		rs.mu.Unlock()
		if absent && !ok {
			m.log.Debug("optional file absent upstream", "repo", id, "path", f.Path)
			continue
		}
		if !ok && !f.Digest.IsZero() {
			if has, err := m.pool.Has(f.Digest); err != nil {
				return err
			} else if has {
				d, ok = f.Digest, true
			}
		}
		if !ok {
			if dryRun {
				continue
			}
			info, err := rs.src.Download(ctx, m.pool, fetch.DownloadRequest{Path: f.Path, Size: f.Size, Checksums: f.Checksums, Digest: f.Digest})
			if f.Optional && errors.Is(err, fetch.ErrNotFound) {
				m.log.Debug("optional file absent upstream", "repo", id, "path", f.Path)
				continue
			}
			if err != nil {
				return fmt.Errorf("fetching %s: %w", f.Path, err)
			}
			d = info.Digest
			if f.Size == 0 {
				f.Size = info.Size
			}
		}
		keptFiles = append(keptFiles, catalog.File{Path: f.Path, Digest: d, Size: f.Size, Kind: f.Kind, Checksums: f.Checksums})
	}

	if !dryRun {
		cf, err := rs.companions(ctx, old, want, failed)
		if err != nil {
			return err
		}
		keptFiles = append(keptFiles, cf...)
		kf, err := rs.upstreamKeyFile(ctx, want, keptFiles)
		if err != nil {
			return err
		}
		keptFiles = append(keptFiles, kf...)
	}

	// Advisories of the repository's updateinfo (errata.go).
	var advisories *pendingAdvisories
	if !dryRun {
		if keptFiles, advisories, err = rs.advisories(ctx, old, keptFiles); err != nil {
			return err
		}
	}

	// The new state, and what changed.
	next := &catalog.State{Files: keptFiles}
	for i, w := range want {
		if failed[i] {
			continue
		}
		ref := catalog.Ref{Path: w.Path, Digest: w.Digest}
		if _, ok := rs.format.(formats.Companioner); ok && !dryRun {
			ref.Attrs = map[string]string{attrProbed: "1"}
		}
		next.Refs = append(next.Refs, ref)
	}
	next.Sort()
	if err := rs.changes(ctx, old, next, want); err != nil {
		return err
	}
	if dryRun {
		// A dry run cannot know digests it has not downloaded; report by path.
		return nil
	}
	return m.update(ctx, func(tx *catalog.Tx) error {
		if err := advisories.commit(tx); err != nil {
			return err
		}
		var items []catalog.Item
		for i, w := range want {
			if failed[i] || known[i] {
				continue
			}
			items = append(items, catalog.Item{
				Digest: w.Digest, Size: w.Size, Format: rs.format.Name(),
				Name: w.Name, Version: w.Version, Arch: w.Arch,
				Checksums: w.Checksums, Fields: w.Fields, Fragments: w.Fragments,
			})
		}
		if err := tx.PutItems(items); err != nil {
			return err
		}
		sid, err := tx.SetRepoState(id, next)
		if err != nil {
			return err
		}
		r := rs.old
		now := rs.m.now().UTC()
		if !rs.exists {
			r = catalog.Repo{ID: id, Created: now}
		}
		r.Format, r.Mode, r.Feed, r.Updated = rs.format.Name(), string(rs.mode), rs.rc.Feed, now
		if sid != r.State || r.Meta[stateTimeKey] == "" {
			rs.meta[stateTimeKey] = now.Truncate(time.Second).Format(time.RFC3339)
		} else {
			rs.meta[stateTimeKey] = r.Meta[stateTimeKey]
		}
		if len(rs.res.Failed) > 0 {
			// Forget upstream's top-level fingerprint so the next sync scans
			// again and retries what failed.
			delete(rs.meta, metaTopSHA)
			delete(rs.meta, metaETag)
			delete(rs.meta, metaLastMod)
		}
		// Every blob of the new state was just downloaded or found present.
		if gen, err := rs.m.pool.Generation(); err == nil {
			rs.meta[metaPoolGen] = strconv.FormatInt(gen, 10)
		}
		r.State = sid
		r.Meta = rs.meta
		if err := tx.PutRepo(r); err != nil {
			return err
		}
		rs.res.State = sid.String()
		return nil
	})
}

// changes fills the result's Added/Removed/Updated lists by comparing the
// old and new reference lists by path, pairing removals and additions of the
// same (name, arch) as updates.
func (rs *repoSync) changes(ctx context.Context, old, next *catalog.State, want []wanted) error {
	oldBy := make(map[string]pool.Digest, len(old.Refs))
	for _, r := range old.Refs {
		oldBy[r.Path] = r.Digest
	}
	byPath := make(map[string]*wanted, len(want))
	for i := range want {
		byPath[want[i].Path] = &want[i]
	}
	var added []Change // in next's order
	for _, r := range next.Refs {
		d, had := oldBy[r.Path]
		if had && (d == r.Digest || r.Digest.IsZero()) { // zero: a dry run's undownloaded item
			continue
		}
		w := byPath[r.Path]
		added = append(added, Change{Name: w.Name, Arch: w.Arch, New: w.Version, Path: r.Path})
	}
	var removedRefs []catalog.Ref
	if len(old.Refs) > 0 {
		nextBy := make(map[string]bool, len(next.Refs))
		for _, r := range next.Refs {
			nextBy[r.Path] = true
		}
		for _, r := range old.Refs {
			if !nextBy[r.Path] {
				removedRefs = append(removedRefs, r)
			}
		}
	}
	var removed []Change
	if len(removedRefs) > 0 {
		if err := rs.m.view(ctx, func(tx *catalog.Tx) error {
			for _, r := range removedRefs {
				c := Change{Path: r.Path, Name: r.Path}
				if it, err := tx.Item(r.Digest); err == nil {
					c.Name, c.Arch, c.Old = it.Name, it.Arch, it.Version
				} else if !errors.Is(err, catalog.ErrNotFound) {
					return err
				}
				removed = append(removed, c)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	// A removal and an addition of the same name and architecture are an
	// update: each removal pairs with the first addition left of its key.
	// A first sync removes nothing and skips this.
	if len(removed) > 0 {
		type key struct{ name, arch string }
		byKey := map[key][]int{}
		for i, c := range added {
			k := key{c.Name, c.Arch}
			byKey[k] = append(byKey[k], i)
		}
		paired := make([]bool, len(added))
		for _, c := range removed {
			k := key{c.Name, c.Arch}
			if is := byKey[k]; len(is) > 0 {
				u := added[is[0]]
				u.Old = c.Old
				byKey[k] = is[1:]
				paired[is[0]] = true
				rs.res.Updated = append(rs.res.Updated, u)
				continue
			}
			rs.res.Removed = append(rs.res.Removed, c)
		}
		kept := added[:0]
		for i, c := range added {
			if !paired[i] {
				kept = append(kept, c)
			}
		}
		added = kept
	}
	rs.res.Added = append(rs.res.Added, added...)
	sortChanges(rs.res.Added)
	sortChanges(rs.res.Removed)
	sortChanges(rs.res.Updated)
	return nil
}

func sortChanges(cs []Change) {
	slices.SortFunc(cs, func(a, b Change) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Arch, b.Arch), strings.Compare(a.Path, b.Path))
	})
}

// linkKind prefixes the Kind of companion files in the catalog: they are
// published like payloads (hard links) and not passed to Render.
const linkKind = formats.LinkKindPrefix

// splitLinks separates companion files from the repo-level files a format renders.
func splitLinks(all []formats.File) (files, links []formats.File) {
	for _, f := range all {
		if f.Kind == catalog.FileKindAdvisories {
			continue // state bookkeeping (errata.go), never published
		}
		if k, ok := strings.CutPrefix(f.Kind, linkKind); ok {
			f.Kind = k
			links = append(links, f)
			continue
		}
		files = append(files, f)
	}
	return files, links
}

// attrProbed marks a reference whose companions (a chart's .prov) were looked
// for, so later syncs do not probe upstream for them again.
const attrProbed = "companions"

// A sync's payload downloads are flushed to the pool in groups of at most
// flushItems blobs or flushBytes bytes.
const (
	flushItems = 1024
	flushBytes = 256 << 20
)

// download fetches one payload into the pool: through the repository's Source
// (group-committed in b), or through the format's RemoteFetcher for items that
// live elsewhere (stored at once). absent says the pool was just found to
// lack w.Digest.
func (rs *repoSync) download(ctx context.Context, w *wanted, b *pool.Batch, absent bool) (pool.Info, error) {
	cs := w.checksums()
	rf, ok := rs.format.(formats.RemoteFetcher)
	if !ok || w.Fields[formats.FieldRemote] != "true" {
		return rs.src.Download(ctx, rs.m.pool, fetch.DownloadRequest{Path: w.from, Size: w.Size, Checksums: cs, Digest: w.Digest, Absent: absent, Batch: b})
	}
	if _, _, err := verify.Strongest(cs); err != nil && w.Digest.IsZero() {
		return pool.Info{}, err
	}
	a := rs.rc.Auth
	rc, err := rf.FetchRemote(ctx, formats.RemoteRequest{
		Item: w.Item, Feed: rs.rc.Feed, Client: rs.src.HTTPClient(),
		Credentials: formats.Credentials{Username: a.Username, Password: a.Password, Token: a.Token},
		Params:      formatParams(rs.rc),
	})
	if err != nil {
		return pool.Info{}, err
	}
	defer rc.Close()
	var r io.Reader = rc
	if _, _, err := verify.Strongest(cs); err == nil {
		vr, err := verify.NewReader(rc, w.Size, cs)
		if err != nil {
			return pool.Info{}, err
		}
		r = vr
	}
	return rs.m.pool.Put(ctx, r, pool.PutRequest{Digest: w.Digest, Size: w.Size})
}

// companions fetches the companion files (a chart's .prov) of payloads that
// are new or were never probed, and carries over those of unchanged ones. A
// companion upstream does not have is simply absent; one that fails its check
// is dropped with a warning.
func (rs *repoSync) companions(ctx context.Context, old *catalog.State, want []wanted, failed []bool) ([]catalog.File, error) {
	cp, ok := rs.format.(formats.Companioner)
	if !ok {
		return nil, nil
	}
	oldRef := make(map[string]catalog.Ref, len(old.Refs))
	for _, r := range old.Refs {
		oldRef[r.Path] = r
	}
	oldFile := make(map[string]catalog.File, len(old.Files))
	for _, f := range old.Files {
		oldFile[f.Path] = f
	}
	var out []catalog.File
	for i := range want {
		w := &want[i]
		if failed[i] {
			continue
		}
		prev, had := oldRef[w.Path]
		unchanged := had && prev.Digest == w.Digest && prev.Attrs[attrProbed] != ""
		for _, c := range cp.Companions(w.Item, w.from) {
			if unchanged {
				if f, ok := oldFile[c.Path]; ok {
					out = append(out, f)
				}
				continue
			}
			max := c.MaxSize
			if max <= 0 {
				max = 1 << 20
			}
			resp, err := rs.src.Get(ctx, fetch.GetRequest{Path: c.From, MaxSize: max})
			if errors.Is(err, fetch.ErrNotFound) {
				continue
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				rs.m.log.Warn("companion not fetched", "repo", rs.rc.ID, "path", c.From, "err", err)
				continue
			}
			if c.Check != nil {
				if err := c.Check(resp.Data); err != nil {
					rs.m.log.Warn("companion refused", "repo", rs.rc.ID, "path", c.From, "err", err)
					continue
				}
			}
			info, err := rs.m.pool.Put(ctx, bytes.NewReader(resp.Data), pool.PutRequest{Digest: pool.Sum(resp.Data), Size: int64(len(resp.Data))})
			if err != nil {
				return nil, err
			}
			out = append(out, catalog.File{Path: c.Path, Digest: info.Digest, Size: info.Size, Kind: linkKind + c.Kind,
				Checksums: map[string]string{"sha256": info.Digest.String()}})
		}
	}
	return out, nil
}

// --- Package signatures, upstream keys and mirror consistency (rpm work) ---

// verifyPackages checks the own signature of payloads (verify.gpgcheck) with
// the repository's keys when the format is a PackageVerifier: every item new
// to the repository's state, or every item when the repository's settings
// changed since the last sync (gpgcheck or the keys may just have been
// turned on). A package that fails is recorded as a failed item and is not
// referenced by the new state (its blob goes at the next gc).
func (rs *repoSync) verifyPackages(ctx context.Context, want []wanted, old *catalog.State, failed []bool) error {
	pv, ok := rs.format.(formats.PackageVerifier)
	if !ok || !rs.rc.Verify.GPGCheck {
		return nil
	}
	kr, err := repoKeyring(&rs.rc.Verify)
	if err != nil {
		return err
	}
	keys := keyring{k: kr, now: rs.m.now}
	all := !rs.exists || rs.old.Meta[metaConfig] != rs.meta[metaConfig]
	inOld := make(map[pool.Digest]bool, len(old.Refs))
	for _, r := range old.Refs {
		inOld[r.Digest] = true
	}
	for i := range want {
		w := &want[i]
		if failed[i] || w.Digest.IsZero() || !all && inOld[w.Digest] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := rs.m.pool.Open(w.Digest)
		if err != nil {
			return fmt.Errorf("opening %s: %w", w.Path, err)
		}
		st, err := f.Stat()
		if err == nil {
			err = pv.VerifyPackage(ctx, f, st.Size(), keys)
		}
		f.Close()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			err = fmt.Errorf("%w: %w", ErrVerify, err)
			failed[i] = true
			rs.res.Failed = append(rs.res.Failed, ItemError{Path: w.from, Err: err})
			rs.m.reporter.Report(Event{Kind: ItemFailed, Repo: rs.rc.ID, Path: w.from, Err: err})
			rs.m.log.Warn("package signature refused", "repo", rs.rc.ID, "path", w.from, "err", err)
		}
	}
	return nil
}

// upstreamKeyFile publishes the repository's verify.keys, concatenated, at
// the format's UpstreamKeyPath beside the payloads (a hard-linked file like a
// companion), so that clients can check packages (and in mirror mode the
// upstream metadata signature). It never takes a path an item or another file
// uses; the metadata signing key stays at the published root as key.asc.
func (rs *repoSync) upstreamKeyFile(ctx context.Context, want []wanted, files []catalog.File) ([]catalog.File, error) {
	kp, ok := rs.format.(formats.KeyPublisher)
	if !ok || len(rs.rc.Verify.Keys) == 0 {
		return nil, nil
	}
	p := kp.UpstreamKeyPath(rs.rc.ID)
	for _, w := range want {
		if w.Path == p {
			rs.m.log.Warn("not publishing the upstream key: a payload has its path", "repo", rs.rc.ID, "path", p)
			return nil, nil
		}
	}
	for _, f := range files {
		if f.Path == p || p == "key.asc" {
			rs.m.log.Warn("not publishing the upstream key: a file has its path", "repo", rs.rc.ID, "path", p)
			return nil, nil
		}
	}
	var data []byte
	for _, k := range rs.rc.Verify.Keys {
		b, err := os.ReadFile(k)
		if err != nil {
			return nil, fmt.Errorf("reading verify.keys: %w", err)
		}
		data = append(data, b...)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			data = append(data, '\n')
		}
	}
	info, err := rs.m.pool.Put(ctx, bytes.NewReader(data), pool.PutRequest{Digest: pool.Sum(data), Size: int64(len(data))})
	if err != nil {
		return nil, err
	}
	return []catalog.File{{Path: p, Digest: info.Digest, Size: info.Size, Kind: linkKind + "upstream-key",
		Checksums: map[string]string{"sha256": info.Digest.String()}}}, nil
}

// keepOldState ends a mirror-mode sync in which payloads failed without
// committing a new state: mirror mode republishes upstream metadata byte for
// byte, which would name the missing payloads (a dangling primary). The
// current state stays published; upstream's fingerprint is forgotten so the
// next sync retries. The result lists the failures (ErrPartial).
func (rs *repoSync) keepOldState(ctx context.Context) error {
	if !rs.exists {
		return nil
	}
	rs.res.State = rs.old.State.String()
	return rs.m.update(ctx, func(tx *catalog.Tx) error {
		r, err := tx.Repo(rs.rc.ID)
		if err != nil {
			return err
		}
		if r.Meta != nil {
			delete(r.Meta, metaTopSHA)
			delete(r.Meta, metaETag)
			delete(r.Meta, metaLastMod)
		}
		return tx.PutRepo(r)
	})
}

// A prefetcher downloads payloads while the scan is still going: the scan of
// a large index and the catalog writes run mostly on one core, the downloads
// on the others. It takes only items a sync is sure to want (no retention
// policy, no filter that looks at all items, a digest declared, not a remote
// item), ignores failures (reconcile fetches what is still missing and
// reports it) and group-commits like reconcile, flushing in a goroutine of
// its own so the downloads go on meanwhile. reconcile counts what it
// fetched (finish).
type prefetcher struct {
	rs    *repoSync
	batch *pool.Batch
	jobs  jobQueue
	wg    sync.WaitGroup
	// flushes takes groups of downloads to flush to the flusher; one may
	// wait while another flushes, then the downloads wait.
	flushes chan []fetched
	flusher sync.WaitGroup

	mu        sync.Mutex
	unflushed []fetched
	pending   int64
	done      map[pool.Digest]int64 // size of what was fetched and flushed
	err       error                 // the first flush error
}

// fetched is a prefetched blob waiting for its flush.
type fetched struct {
	digest pool.Digest
	size   int64
}

// prefetchJob is one payload to fetch. Its strings are copies: a job must
// not keep a scanned item's metadata alive.
type prefetchJob struct {
	from      string
	size      int64
	digest    pool.Digest
	checksums formats.Checksums
	// absent: fetch without looking into the pool first (see add).
	absent bool
}

// jobQueue is the prefetcher's queue of payloads: unbounded, so that the
// scan (which queues each batch once it is staged) never waits for the
// downloads, and the staged items go into the catalog while payloads still
// download, not after the last one. A job is 72 bytes (its path is the
// slimmed item's), a quarter of what the sync keeps per item anyway.
type jobQueue struct {
	mu     sync.Mutex
	cond   sync.Cond
	jobs   []prefetchJob
	head   int
	closed bool
}

func (q *jobQueue) init() { q.cond.L = &q.mu }

func (q *jobQueue) push(j prefetchJob) {
	q.mu.Lock()
	if q.head > 1024 && q.head*2 > len(q.jobs) { // drop what was taken
		q.jobs = q.jobs[:copy(q.jobs, q.jobs[q.head:])]
		q.head = 0
	}
	q.jobs = append(q.jobs, j)
	q.mu.Unlock()
	q.cond.Signal()
}

// pop waits for a job; it returns false once the queue is closed and empty.
func (q *jobQueue) pop() (prefetchJob, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.jobs) && !q.closed {
		q.cond.Wait()
	}
	if q.head == len(q.jobs) {
		return prefetchJob{}, false
	}
	j := q.jobs[q.head]
	q.jobs[q.head] = prefetchJob{} // let its strings go
	q.head++
	return j, true
}

// close ends the queue: pop returns what is left, then false.
func (q *jobQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// newPrefetcher starts the download goroutines, or returns nil when the
// repository's settings leave nothing safe to prefetch.
func (rs *repoSync) newPrefetcher(ctx context.Context) *prefetcher {
	if pol := rs.rc.Retention.Policy; pol != "" && pol != config.RetentionMirror || postFilters(rs.rc) {
		return nil
	}
	p := &prefetcher{rs: rs, batch: rs.m.pool.NewBatch(),
		flushes: make(chan []fetched, 1), done: map[pool.Digest]int64{}}
	p.jobs.init()
	for range prefetchWorkers(rs.m.cfg.DownloadFor(rs.rc).Parallel) {
		p.wg.Go(func() { p.work(ctx) })
	}
	p.flusher.Go(func() {
		for ready := range p.flushes {
			p.flush(ctx, ready)
		}
	})
	return p
}

// prefetchWorkers is how many goroutines prefetch with parallel downloads
// allowed: twice as many, so that while parallel of them hold the Source's
// request slots (which cap the requests in flight at parallel), the others
// create their next file or close and park their last one. With one worker
// per slot, a slot stayed empty during that file work: a fifth to a third of
// the time with 4 small payloads in flight.
func prefetchWorkers(parallel int) int {
	return 2 * max(parallel, 1)
}

// add queues w's payload, unless it is not for prefetching. A payload
// whose item is new to the catalog (w.fresh) is fetched without a look into
// the pool first: payloads enter the pool with their items (the catalog
// keeps an item while a state references it), so the pool holds such a
// blob only when an item was pruned and its blob not yet collected. Then
// the download is wasted but harmless: the batch keeps the blob already in
// place. A first sync saves an lstat of a missing file per payload.
func (p *prefetcher) add(ctx context.Context, w *wanted) {
	if p == nil || w.Digest.IsZero() || w.Fields[formats.FieldRemote] == "true" {
		return
	}
	j := prefetchJob{from: w.from, size: w.Size, digest: w.Digest, absent: w.fresh}
	if !w.stored {
		j.from = strings.Clone(w.from) // slim copies it otherwise
	}
	// Without checksums, a slimmed item verifies the SHA-256 of its digest
	// (slim dropped it as redundant); so does a job without checksums.
	if len(w.Checksums) > 0 || !w.stored {
		algo, sum, err := verify.Strongest(w.Checksums)
		if err != nil {
			return // reconcile reports it
		}
		if algo != "sha256" || sum != w.Digest.String() {
			j.checksums = formats.Checksums{algo: strings.Clone(sum)}
		}
	}
	if ctx.Err() == nil {
		p.jobs.push(j)
	}
}

func (p *prefetcher) work(ctx context.Context) {
	m := p.rs.m
	for {
		j, ok := p.jobs.pop()
		if !ok {
			return
		}
		if ctx.Err() != nil {
			continue // drain
		}
		if !j.absent {
			if ok, err := m.pool.Has(j.digest); err != nil || ok {
				continue
			}
		}
		cs := j.checksums
		if cs == nil {
			cs = formats.Checksums{"sha256": j.digest.String()}
		}
		info, err := p.rs.src.Download(ctx, m.pool, fetch.DownloadRequest{Path: j.from, Size: j.size, Checksums: cs, Digest: j.digest, Absent: true, Batch: p.batch})
		if err != nil {
			m.log.Debug("prefetch failed; reconcile retries", "repo", p.rs.rc.ID, "path", j.from, "err", err)
			continue
		}
		p.mu.Lock()
		p.unflushed = append(p.unflushed, fetched{j.digest, info.Size})
		p.pending += info.Size
		var ready []fetched
		if len(p.unflushed) >= flushItems || p.pending >= flushBytes {
			ready, p.unflushed, p.pending = p.unflushed, nil, 0
		}
		p.mu.Unlock()
		if ready != nil {
			p.flushes <- ready
		}
	}
}

// flush makes ready durable and records them as done.
func (p *prefetcher) flush(ctx context.Context, ready []fetched) {
	if len(ready) == 0 {
		return
	}
	err := p.batch.Flush(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if p.err == nil {
			p.err = err
		}
		return
	}
	for _, f := range ready {
		p.done[f.digest] = f.size
	}
}

// finish stops taking work, waits for the downloads, flushes them and ends
// the batch (what failed to flush is discarded: reconcile fetches it again).
// It returns what was fetched, by digest.
func (p *prefetcher) finish(ctx context.Context) map[pool.Digest]int64 {
	if p == nil {
		return nil
	}
	p.jobs.close()
	p.wg.Wait()
	close(p.flushes)
	p.flusher.Wait()
	p.flush(ctx, p.unflushed)
	if err := p.batch.Discard(); err != nil {
		p.rs.m.log.Warn("discarding prefetch batch", "repo", p.rs.rc.ID, "err", err)
	}
	if p.err != nil {
		p.rs.m.log.Warn("prefetch flush failed; reconcile fetches again", "repo", p.rs.rc.ID, "err", p.err)
	}
	return p.done
}
