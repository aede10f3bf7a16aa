package chantal

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/pool"
)

// GCRequest configures a garbage collection of the pool.
type GCRequest struct {
	// DryRun reports what would be removed and removes nothing.
	DryRun bool
	// Grace is the least age of an unreferenced blob before it is removed: 0
	// means the configured storage.gc_grace, a negative value means no grace.
	Grace time.Duration
}

// GCResult reports a GC.
type GCResult struct {
	DryRun bool
	// Blobs is the number of blobs in the pool before the GC, Live those some
	// state references.
	Blobs, Live int
	// Removed blobs (or, in a dry run, removable) and their bytes.
	Removed      int
	RemovedBytes int64
	// Young unreferenced blobs kept because they are inside the grace window.
	Young int
	// PrunedItems are catalog item records no state referenced any more.
	PrunedItems int
	// TempRemoved counts stale partial downloads removed.
	TempRemoved int
	// CacheRemoved counts render cache entries no publish used for a week.
	CacheRemoved int
}

// GC removes pool blobs that no repository, snapshot or view state references
// and that are older than the grace window. It takes the pool lock
// exclusively, so it never runs while a sync or publish writes or links blobs;
// it fails with ErrBusy instead of waiting.
func (m *Mirror) GC(ctx context.Context, req GCRequest) (*GCResult, error) {
	l, err := m.lockPool(ctx, true, false)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	grace := req.Grace
	if grace == 0 {
		grace = m.cfg.Storage.GCGrace.Duration
	}
	if grace < 0 {
		grace = 0
	}
	res := &GCResult{DryRun: req.DryRun}
	live := map[pool.Digest]bool{}
	collect := func(tx *catalog.Tx) error {
		return tx.LiveDigests(func(d pool.Digest) error {
			live[d] = true
			return nil
		})
	}
	if req.DryRun {
		err = m.view(ctx, collect)
	} else {
		err = m.update(ctx, func(tx *catalog.Tx) error {
			n, err := tx.PruneItems()
			if err != nil {
				return err
			}
			res.PrunedItems = n
			return collect(tx)
		})
	}
	if err != nil {
		return nil, err
	}
	cutoff := m.now().Add(-grace)
	err = m.pool.Walk(ctx, func(info pool.Info) error {
		res.Blobs++
		if live[info.Digest] {
			res.Live++
			return nil
		}
		if info.ModTime.After(cutoff) {
			res.Young++
			return nil
		}
		if !req.DryRun {
			if err := m.pool.Remove(info.Digest); err != nil && !errors.Is(err, pool.ErrNotFound) {
				return err
			}
		}
		res.Removed++
		res.RemovedBytes += info.Size
		return nil
	})
	if err != nil {
		return res, err
	}
	if !req.DryRun {
		n, err := m.pool.CleanTemp(ctx, max(grace, 24*time.Hour))
		res.TempRemoved = n
		if err != nil {
			return res, err
		}
		if res.CacheRemoved, err = m.renderCache().prune(ctx, m.now().Add(-renderCacheAge)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// PoolStats summarises the pool.
type PoolStats struct {
	Blobs int
	Bytes int64
}

// Stats summarises the catalog and the pool.
type Stats struct {
	Catalog catalog.Stats
	Pool    PoolStats
}

// Stats reads catalog counters and walks the pool.
func (m *Mirror) Stats(ctx context.Context) (*Stats, error) {
	st := &Stats{}
	if err := m.view(ctx, func(tx *catalog.Tx) error {
		var err error
		st.Catalog, err = tx.Stats()
		return err
	}); err != nil {
		return nil, err
	}
	err := m.pool.Walk(ctx, func(info pool.Info) error {
		st.Pool.Blobs++
		st.Pool.Bytes += info.Size
		return nil
	})
	return st, err
}

// VerifyPoolRequest configures VerifyPool.
type VerifyPoolRequest struct {
	// Parallel is the number of blobs hashed at once; 0 means the number of
	// configured download workers.
	Parallel int
}

// VerifyPoolResult reports VerifyPool.
type VerifyPoolResult struct {
	Checked int
	Bytes   int64
	// Corrupt lists blobs whose bytes do not hash to their name.
	Corrupt []pool.Digest
}

// VerifyPool re-hashes every blob in parallel, reporting VerifyProgress events.
func (m *Mirror) VerifyPool(ctx context.Context, req VerifyPoolRequest) (*VerifyPoolResult, error) {
	var infos []pool.Info
	var total int64
	if err := m.pool.Walk(ctx, func(info pool.Info) error {
		infos = append(infos, info)
		total += info.Size
		return nil
	}); err != nil {
		return nil, err
	}
	par := req.Parallel
	if par <= 0 {
		par = max(m.cfg.Download.Parallel, 1)
	}
	res := &VerifyPoolResult{}
	var mu sync.Mutex
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for _, info := range infos {
		g.Go(func() error {
			err := m.pool.Verify(gctx, info.Digest)
			var dm *pool.DigestMismatchError
			switch {
			case errors.As(err, &dm):
				mu.Lock()
				res.Corrupt = append(res.Corrupt, info.Digest)
				mu.Unlock()
			case errors.Is(err, pool.ErrNotFound): // removed meanwhile
			case err != nil:
				return err
			}
			n := done.Add(info.Size)
			mu.Lock()
			res.Checked++
			res.Bytes += info.Size
			mu.Unlock()
			m.reporter.Report(Event{Kind: VerifyProgress, Path: info.Digest.String(), Bytes: n, Total: total})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	sort.Slice(res.Corrupt, func(i, j int) bool { return res.Corrupt[i].String() < res.Corrupt[j].String() })
	return res, nil
}

// RepoInfo describes a configured repository and what the catalog holds of it.
type RepoInfo struct {
	ID, Type, Mode, Feed string
	Enabled              bool
	// Synced is false until the first sync or upload.
	Synced bool
	State  string
	Items  int
	Files  int
	Bytes  int64
	// StateTime is when the state last changed.
	StateTime time.Time
	// LastSync is the newest sync run, if any.
	LastSync *catalog.SyncRun
}

// Repos lists every configured repository, in configuration order.
func (m *Mirror) Repos(ctx context.Context) ([]RepoInfo, error) {
	out := make([]RepoInfo, 0, len(m.cfg.Repositories))
	err := m.view(ctx, func(tx *catalog.Tx) error {
		for i := range m.cfg.Repositories {
			ri, err := m.repoInfo(tx, m.cfg.Repositories[i].ID, false)
			if err != nil {
				return err
			}
			out = append(out, ri)
		}
		return nil
	})
	return out, err
}

// Repo describes one repository, with its size in bytes.
func (m *Mirror) Repo(ctx context.Context, id string) (RepoInfo, error) {
	if _, err := m.repoConfig(id); err != nil {
		return RepoInfo{}, err
	}
	var ri RepoInfo
	err := m.view(ctx, func(tx *catalog.Tx) error {
		var err error
		ri, err = m.repoInfo(tx, id, true)
		return err
	})
	return ri, err
}

func (m *Mirror) repoInfo(tx *catalog.Tx, id string, sizes bool) (RepoInfo, error) {
	rc, _ := m.cfg.Repository(id) // callers pass configured ids
	mode := rc.Mode
	if mode == "" {
		mode = "filtered"
	}
	ri := RepoInfo{ID: id, Type: rc.Type, Mode: mode, Feed: rc.Feed, Enabled: rc.IsEnabled()}
	r, err := tx.Repo(id)
	if errors.Is(err, catalog.ErrNotFound) {
		return ri, nil
	}
	if err != nil {
		return ri, err
	}
	ri.Synced = r.Meta[stateTimeKey] != ""
	ri.State = r.State.String()
	ri.StateTime = m.stateTime(r)
	// Counts come from the state record; only a size total walks the refs.
	if ri.Items, err = tx.StateLen(r.State); err != nil {
		return ri, err
	}
	files, err := tx.StateFiles(r.State)
	if err != nil {
		return ri, err
	}
	ri.Files = len(files)
	if sizes {
		if err := tx.WalkState(r.State, func(ref catalog.Ref) error {
			if it, err := tx.Item(ref.Digest); err == nil {
				ri.Bytes += it.Size
			}
			return nil
		}); err != nil {
			return ri, err
		}
		for _, f := range files {
			ri.Bytes += f.Size
		}
	}
	runs, err := tx.SyncRuns(id, 1)
	if err != nil {
		return ri, err
	}
	if len(runs) > 0 {
		ri.LastSync = &runs[0]
	}
	return ri, nil
}

// History returns a repository's sync runs, newest first; limit ≤ 0 means all.
func (m *Mirror) History(ctx context.Context, id string, limit int) ([]catalog.SyncRun, error) {
	if _, err := m.repoConfig(id); err != nil {
		return nil, err
	}
	var runs []catalog.SyncRun
	err := m.view(ctx, func(tx *catalog.Tx) error {
		var err error
		runs, err = tx.SyncRuns(id, limit)
		return err
	})
	return runs, err
}
