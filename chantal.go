// Package chantal mirrors package repositories (RPM, APT, Helm and plugin
// formats) for offline and air-gapped sites.
//
// A Mirror syncs upstream repositories into one content-addressed pool, records
// what each repository holds in an embedded catalog, and publishes static trees
// that stock clients (dnf, apt, helm) consume:
//
//	m, err := chantal.Open("/var/lib/chantal-lite", chantal.WithConfig(cfg))
//	if err != nil { ... }
//	defer m.Close()
//	res, err := m.Sync(ctx, chantal.SyncRequest{Repos: []string{"epel9"}})
//	pub, err := m.Publish(ctx, chantal.PublishRequest{Repo: "epel9"})
//
// The chantal-lite command is a thin shell over this package; every operation
// it offers is one method here.
package chantal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/lock"
	"github.com/chantal-lite/chantal/pool"
)

// Mirror is an opened chantal-lite data directory: the catalog, the pool, the
// signing keys and the configuration. It is safe for concurrent use. The catalog
// file is opened only for the duration of each short transaction, so several
// processes can use one data directory at once (syncs of different repositories,
// read commands during a sync).
type Mirror struct {
	dir       string
	published string
	cfg       *config.Config
	pool      *pool.Store
	formats   *formats.Registry
	log       *slog.Logger
	reporter  Reporter
	now       func() time.Time
	transport http.RoundTripper
	lockWait  time.Duration
	noSync    bool
}

type options struct {
	cfg       *config.Config
	formats   []formats.Format
	replace   bool
	log       *slog.Logger
	reporter  Reporter
	now       func() time.Time
	transport http.RoundTripper
	lockWait  time.Duration
	published string
	noSync    bool
}

// An Option configures Open.
type Option func(*options) error

// WithConfig sets the configuration: repositories, views, storage and download
// settings. Without it the Mirror knows no repositories.
func WithConfig(c *config.Config) Option {
	return func(o *options) error {
		if c == nil {
			return errors.New("chantal: WithConfig(nil)")
		}
		o.cfg = c
		return nil
	}
}

// WithLogger sets the logger; the default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("chantal: WithLogger(nil)")
		}
		o.log = l
		return nil
	}
}

// WithReporter sets the receiver of progress events; the default drops them.
func WithReporter(r Reporter) Option {
	return func(o *options) error {
		if r == nil {
			return errors.New("chantal: WithReporter(nil)")
		}
		o.reporter = r
		return nil
	}
}

// WithFormats adds formats to DefaultFormats; a format with the name of a
// default one replaces it.
func WithFormats(fs ...formats.Format) Option {
	return func(o *options) error {
		o.formats = append(o.formats, fs...)
		return nil
	}
}

// WithOnlyFormats makes fs the only formats the Mirror knows.
func WithOnlyFormats(fs ...formats.Format) Option {
	return func(o *options) error {
		o.formats = append([]formats.Format(nil), fs...)
		o.replace = true
		return nil
	}
}

// WithClock sets the clock used for timestamps in the catalog and in published
// metadata (for reproducible output); the default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("chantal: WithClock(nil)")
		}
		o.now = now
		return nil
	}
}

// WithTransport sets the HTTP transport used for upstream requests, for
// embedding programs with special networking and for tests. TLS, proxy and auth
// settings of the configuration are applied by the default transport only.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		o.transport = rt
		return nil
	}
}

// WithLockWait sets how long a catalog transaction waits for another process's
// transaction to end before failing with catalog.ErrLocked (default 30s).
func WithLockWait(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("chantal: WithLockWait(%v): must be positive", d)
		}
		o.lockWait = d
		return nil
	}
}

// WithPublishedPath overrides storage.published_path.
func WithPublishedPath(dir string) Option {
	return func(o *options) error {
		o.published = dir
		return nil
	}
}

// WithNoSync skips fsync in the pool and catalog. It is for tests and
// benchmarks only: a crash may then lose data.
func WithNoSync() Option {
	return func(o *options) error {
		o.noSync = true
		return nil
	}
}

// DefaultFormats returns the built-in formats.
func DefaultFormats() []formats.Format {
	return defaultFormats()
}

// Open opens (creating if needed) the data directory dir: catalog.db, pool/,
// keys/ and locks/. An empty dir means the configuration's storage.base_path.
func Open(dir string, opts ...Option) (*Mirror, error) {
	o := options{
		log:      slog.New(slog.DiscardHandler),
		reporter: nopReporter{},
		now:      time.Now,
		lockWait: 30 * time.Second,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.cfg == nil {
		o.cfg = &config.Config{}
	}
	if dir == "" {
		dir = o.cfg.Storage.BasePath
	}
	if dir == "" {
		return nil, errors.New("chantal: no data directory (set storage.base_path)")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("chantal: resolving %s: %w", dir, err)
	}
	fs := o.formats
	if !o.replace {
		fs = mergeFormats(defaultFormats(), o.formats)
	}
	reg, err := formats.NewRegistry(fs...)
	if err != nil {
		return nil, fmt.Errorf("chantal: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("chantal: creating %s: %w", abs, err)
	}
	st, err := pool.Open(filepath.Join(abs, "pool"), &pool.Options{NoSync: o.noSync, Logger: o.log})
	if err != nil {
		return nil, fmt.Errorf("chantal: %w", err)
	}
	published := o.published
	if published == "" {
		published = o.cfg.Storage.PublishedPath
	}
	if published == "" {
		published = filepath.Join(abs, "published")
	}
	m := &Mirror{
		dir: abs, published: published, cfg: o.cfg, pool: st, formats: reg,
		log: o.log, reporter: o.reporter, now: o.now, transport: o.transport,
		lockWait: o.lockWait, noSync: o.noSync,
	}
	// Create the catalog (and migrate it) once, so that read-only opens
	// work. Opening read-write does that; a current catalog is not written.
	db, err := catalog.Open(m.catalogPath(), &catalog.Options{Timeout: m.lockWait, NoSync: m.noSync, Logger: m.log})
	if err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	return m, nil
}

func mergeFormats(defaults, extra []formats.Format) []formats.Format {
	byName := map[string]int{}
	out := append([]formats.Format(nil), defaults...)
	for i, f := range out {
		byName[f.Name()] = i
	}
	for _, f := range extra {
		if f == nil {
			out = append(out, f) // NewRegistry reports it
			continue
		}
		if i, ok := byName[f.Name()]; ok {
			out[i] = f
			continue
		}
		byName[f.Name()] = len(out)
		out = append(out, f)
	}
	return out
}

// Close releases the Mirror. The catalog is not held open between operations,
// so Close has nothing to flush; it exists so callers need not change when that does.
func (m *Mirror) Close() error { return nil }

// Dir returns the data directory.
func (m *Mirror) Dir() string { return m.dir }

// Config returns the configuration the Mirror was opened with.
func (m *Mirror) Config() *config.Config { return m.cfg }

// Formats returns the format registry.
func (m *Mirror) Formats() *formats.Registry { return m.formats }

// Pool returns the blob store.
func (m *Mirror) Pool() *pool.Store { return m.pool }

func (m *Mirror) catalogPath() string { return filepath.Join(m.dir, "catalog.db") }

// update runs fn in a write transaction on a freshly opened catalog, held only
// for fn's duration.
func (m *Mirror) update(ctx context.Context, fn func(*catalog.Tx) error) error {
	db, err := catalog.Open(m.catalogPath(), &catalog.Options{Timeout: m.lockWait, NoSync: m.noSync, Logger: m.log})
	if err != nil {
		return err
	}
	err = db.Update(ctx, fn)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// updater makes Mirror.update a catalog.Updater.
type updater func(context.Context, func(*catalog.Tx) error) error

func (u updater) Update(ctx context.Context, fn func(*catalog.Tx) error) error { return u(ctx, fn) }

// view runs fn in a read transaction on a catalog opened read-only.
func (m *Mirror) view(ctx context.Context, fn func(*catalog.Tx) error) error {
	db, err := catalog.Open(m.catalogPath(), &catalog.Options{Timeout: m.lockWait, ReadOnly: true, Logger: m.log})
	if err != nil {
		return err
	}
	err = db.View(ctx, fn)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// lockRepo takes the per-repository lock that serialises syncs, uploads and
// publishes of one repository.
func (m *Mirror) lockRepo(ctx context.Context, id string, wait bool) (*lock.Lock, error) {
	l, err := lock.Acquire(ctx, lock.Request{Path: filepath.Join(m.dir, "locks", "repo-"+id+".lock"), Wait: wait})
	if errors.Is(err, lock.ErrBusy) {
		return nil, &RepoError{Op: "lock", Repo: id, Err: fmt.Errorf("%w: another chantal-lite process is syncing or publishing this repository", ErrBusy)}
	}
	return l, err
}

// lockPoolShared is held by writers of the pool (sync, upload) so that GC, which
// takes it exclusively, never deletes a blob a running sync just wrote.
func (m *Mirror) lockPool(ctx context.Context, exclusive, wait bool) (*lock.Lock, error) {
	l, err := lock.Acquire(ctx, lock.Request{Path: filepath.Join(m.dir, "locks", "pool.lock"), Shared: !exclusive, Wait: wait})
	if errors.Is(err, lock.ErrBusy) {
		return nil, fmt.Errorf("%w: pool is in use by another chantal-lite process (sync or gc)", ErrBusy)
	}
	return l, err
}

func (m *Mirror) repoConfig(id string) (*config.Repository, error) {
	r, ok := m.cfg.Repository(id)
	if !ok {
		return nil, &RepoError{Op: "find", Repo: id, Err: ErrUnknownRepo}
	}
	return r, nil
}
