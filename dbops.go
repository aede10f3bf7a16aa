package chantal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/pool"
)

// DBStats summarises the catalog: record counts and what deduplication saves.
type DBStats struct {
	Repos, Items, Snapshots, ViewSnapshots, States, SyncRuns int
	// Views is the number of configured views (views live in the configuration).
	Views int
	// Advisories is the number of advisory (errata) records.
	Advisories int
	// ItemBytes is the sum of every item's size.
	ItemBytes int64
	// ReferencedBytes is the sum, over every holder of a state (repository,
	// snapshot, view snapshot member), of the sizes of the items and files the
	// state references: what one copy per holder would store.
	ReferencedBytes int64
	// UniqueBytes is the size of the distinct blobs those states reference.
	UniqueBytes int64
	// SavedBytes is ReferencedBytes - UniqueBytes: what deduplication saves.
	SavedBytes int64
	// CatalogBytes is the size of the catalog file.
	CatalogBytes int64
	// PoolBlobs and PoolBytes count the blobs in the pool.
	PoolBlobs int
	PoolBytes int64
}

// DBStats counts the catalog's records, the bytes deduplication saves and the
// pool's blobs.
func (m *Mirror) DBStats(ctx context.Context) (*DBStats, error) {
	st := &DBStats{Views: len(m.cfg.Views)}
	err := m.view(ctx, func(tx *catalog.Tx) error {
		cs, err := tx.Stats()
		if err != nil {
			return err
		}
		st.Repos, st.Items, st.Snapshots, st.States, st.SyncRuns = cs.Repos, cs.Items, cs.Snapshots, cs.States, cs.SyncRuns
		st.ItemBytes, st.CatalogBytes = cs.ItemBytes, cs.FileSize
		holders := map[catalog.StateID]int64{}
		repos, err := tx.Repos()
		if err != nil {
			return err
		}
		for _, r := range repos {
			holders[r.State]++
		}
		snaps, err := tx.Snapshots("")
		if err != nil {
			return err
		}
		for _, s := range snaps {
			holders[s.State]++
		}
		vss, err := tx.ViewSnapshots("")
		if err != nil {
			return err
		}
		st.ViewSnapshots = len(vss)
		for _, vs := range vss {
			for _, mb := range vs.Members {
				holders[mb.State]++
			}
		}
		if err := tx.WalkAdvisories(func(catalog.AdvisoryRecord) error {
			st.Advisories++
			return nil
		}); err != nil {
			return err
		}
		sizes := make(map[pool.Digest]int64, cs.Items)
		if err := tx.WalkItems(func(it catalog.Item) error {
			sizes[it.Digest] = it.Size
			return nil
		}); err != nil {
			return err
		}
		unique := map[pool.Digest]struct{}{}
		for id, n := range holders {
			if id.IsZero() {
				continue
			}
			var sum int64
			err := tx.WalkState(id, func(r catalog.Ref) error {
				sum += sizes[r.Digest]
				if _, ok := unique[r.Digest]; !ok {
					unique[r.Digest] = struct{}{}
					st.UniqueBytes += sizes[r.Digest]
				}
				return nil
			})
			if err != nil {
				return err
			}
			files, err := tx.StateFiles(id)
			if err != nil {
				return err
			}
			for _, f := range files {
				sum += f.Size
				if _, ok := unique[f.Digest]; !ok {
					unique[f.Digest] = struct{}{}
					st.UniqueBytes += f.Size
				}
			}
			st.ReferencedBytes += n * sum
		}
		st.SavedBytes = st.ReferencedBytes - st.UniqueBytes
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = m.pool.Walk(ctx, func(info pool.Info) error {
		st.PoolBlobs++
		st.PoolBytes += info.Size
		return nil
	})
	return st, err
}

// VerifyDBRequest configures VerifyDB.
type VerifyDBRequest struct {
	// Rehash also re-hashes every pool blob (VerifyPool), in parallel.
	Rehash bool
	// Parallel is the number of blobs checked at once; 0 means the number of
	// configured download workers (at least 4 for the existence check).
	Parallel int
}

// maxMissing bounds the missing blobs VerifyDBResult lists.
const maxMissing = 1000

// VerifyDBResult reports VerifyDB. OK says whether everything checked out.
type VerifyDBResult struct {
	// Catalog is the catalog's own consistency report.
	Catalog *catalog.VerifyReport
	// LiveBlobs is the number of distinct blobs the catalog references.
	LiveBlobs int
	// Missing lists up to 1000 referenced blobs absent from the pool;
	// MissingCount counts all of them.
	Missing      []pool.Digest
	MissingCount int
	// Pool is the re-hash result when Rehash was requested.
	Pool *VerifyPoolResult
}

// OK reports whether the catalog is consistent, every referenced blob is in
// the pool and (with Rehash) no blob is corrupt.
func (r *VerifyDBResult) OK() bool {
	return r.Catalog.OK() && r.MissingCount == 0 && (r.Pool == nil || len(r.Pool.Corrupt) == 0)
}

// VerifyDB checks the catalog (catalog.Tx.Verify: records decode, states are
// sorted, unique and match their IDs, references resolve, counts add up) and
// that every blob a state references exists in the pool; with Rehash it also
// re-hashes the pool. Problems are reported in the result, not as errors.
func (m *Mirror) VerifyDB(ctx context.Context, req VerifyDBRequest) (*VerifyDBResult, error) {
	res := &VerifyDBResult{}
	var live []pool.Digest
	err := m.view(ctx, func(tx *catalog.Tx) error {
		var err error
		if res.Catalog, err = tx.Verify(ctx); err != nil {
			return err
		}
		return tx.LiveDigests(func(d pool.Digest) error {
			live = append(live, d)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("verify catalog: %w", err)
	}
	res.LiveBlobs = len(live)
	par := req.Parallel
	if par <= 0 {
		par = max(m.cfg.Download.Parallel, 4)
	}
	// Group the blobs by pool directory and list each directory once: one
	// getdents per few hundred blobs instead of one stat per blob.
	byDir := map[string][]pool.Digest{}
	for _, d := range live {
		dir := filepath.Dir(m.pool.Path(d))
		byDir[dir] = append(byDir[dir], d)
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for dir, ds := range byDir {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			present := map[string]bool{}
			ents, err := os.ReadDir(dir)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			for _, e := range ents {
				if e.Type().IsRegular() {
					present[e.Name()] = true
				}
			}
			for _, d := range ds {
				if !present[filepath.Base(m.pool.Path(d))] {
					mu.Lock()
					res.MissingCount++
					if len(res.Missing) < maxMissing {
						res.Missing = append(res.Missing, d)
					}
					mu.Unlock()
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("verify catalog: check pool: %w", err)
	}
	slices.SortFunc(res.Missing, func(a, b pool.Digest) int { return bytes.Compare(a[:], b[:]) })
	if res.MissingCount > 0 {
		// Blobs vanished behind the pool's back: make the next syncs of
		// unchanged upstreams check their blobs and fetch what is gone.
		if err := m.pool.MarkChanged(); err != nil {
			return nil, err
		}
	}
	if req.Rehash {
		pr, err := m.VerifyPool(ctx, VerifyPoolRequest{Parallel: req.Parallel})
		if err != nil {
			return nil, err
		}
		res.Pool = pr
	}
	return res, nil
}

// vacuumWait is how long Vacuum and ImportCatalog wait for another process's
// catalog transaction before failing with catalog.ErrLocked.
const vacuumWait = 5 * time.Second

// Vacuum compacts the catalog into a new file and swaps it in atomically
// (catalog.Vacuum). It fails with catalog.ErrLocked if another process holds
// the catalog for more than a few seconds, and with ErrBusy while a sync,
// upload, publish or GC uses the pool: their next transaction would otherwise
// wait for the vacuum.
func (m *Mirror) Vacuum(ctx context.Context) (*catalog.VacuumResult, error) {
	l, err := m.lockPool(ctx, true, false)
	if err != nil {
		return nil, fmt.Errorf("vacuum catalog: %w", err)
	}
	defer l.Unlock()
	return catalog.Vacuum(ctx, m.catalogPath(), &catalog.VacuumOptions{Timeout: min(m.lockWait, vacuumWait), NoSync: m.noSync, Logger: m.log})
}

// ExportCatalog writes the whole catalog to w as versioned JSON Lines (see
// catalog.ExportFormat) from one consistent read transaction. Together with a
// copy of the pool directory it is a complete backup.
func (m *Mirror) ExportCatalog(ctx context.Context, w io.Writer) (catalog.ExportCounts, error) {
	var n catalog.ExportCounts
	err := m.view(ctx, func(tx *catalog.Tx) error {
		var err error
		n, err = tx.Export(ctx, w)
		return err
	})
	return n, err
}

// ImportCatalog loads an ExportCatalog file into this Mirror's catalog, which
// must be empty; importing the file the catalog already holds is a no-op
// success (see catalog.Import). It takes the pool lock so no sync or publish
// runs meanwhile.
func (m *Mirror) ImportCatalog(ctx context.Context, r io.Reader) (*catalog.ImportResult, error) {
	l, err := m.lockPool(ctx, true, false)
	if err != nil {
		return nil, fmt.Errorf("import catalog: %w", err)
	}
	defer l.Unlock()
	res, err := catalog.Import(ctx, m.catalogPath(), r, &catalog.ImportOptions{Timeout: min(m.lockWait, vacuumWait), NoSync: m.noSync, Logger: m.log})
	if errors.Is(err, catalog.ErrExists) {
		return nil, fmt.Errorf("%w (the data directory %s already has a catalog)", err, m.dir)
	}
	return res, err
}
