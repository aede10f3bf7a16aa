package catalog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// schemaVersion is the schema this build reads and writes.
const schemaVersion = 1

// initialMmapSize is the address space bbolt maps at open.
const initialMmapSize = 256 << 20

// A migrateFunc upgrades the schema from one version to the next inside
// the single write transaction that Open runs.
type migrateFunc func(tx *bolt.Tx) error

// migrations maps a schema version v to the function that upgrades v to
// v+1. Open runs every step from the stored version up to schemaVersion in
// one transaction, so a failing step leaves the file untouched.
var migrations = map[int]migrateFunc{}

// schemaPlan is the target version and migration table Open uses; tests
// substitute fake ones.
type schemaPlan struct {
	version int
	steps   map[int]migrateFunc
}

// Bucket names. Keys and values are described beside each.
const (
	bucketMeta     = "meta"      // "schema" → 8-byte big-endian version
	bucketRepos    = "repos"     // repo id → repoRecord (JSON)
	bucketItems    = "items"     // digest → encodeItem
	bucketChecksum = "checksum"  // algo NUL lower-hex → digest
	bucketStates   = "states"    // state id → state record
	bucketStateRC  = "staterc"   // state id → uvarint holder count
	bucketChunks   = "chunks"    // chunk id → sub-bucket {"d" → encodeChunk}; see chunkDataKey
	bucketChunkRC  = "chunkrc"   // chunk id → uvarint count of holding states
	bucketSnaps    = "snapshots" // repo NUL name → JSON
	bucketRuns     = "syncruns"  // repo NUL 8-byte big-endian seq → JSON

	keySchema = "schema"
)

func bucketNames() []string {
	return []string{bucketMeta, bucketRepos, bucketItems, bucketChecksum, bucketStates,
		bucketStateRC, bucketChunks, bucketChunkRC, bucketSnaps, bucketRuns}
}

// Options configure Open. A nil *Options means the defaults.
type Options struct {
	// Timeout is how long Open waits for the file lock before failing with
	// ErrLocked. Zero means 1s; a negative value waits forever.
	Timeout time.Duration
	// ReadOnly opens the file with a shared lock; Update fails with
	// ErrReadOnly. A read-only open never creates or migrates the file.
	ReadOnly bool
	// NoSync skips fsync on commit. Only for tests and throwaway catalogs:
	// a crash may corrupt the file.
	NoSync bool
	// Logger receives debug events (open, migrations). Nil is silent.
	Logger *slog.Logger
}

// A DB is an open catalog file. It is safe for concurrent use; bbolt allows
// one writer and many readers at a time.
type DB struct {
	bolt *bolt.DB
	path string
	ro   bool
	log  *slog.Logger
}

// Open opens the catalog at path, creating it (mode 0644) if needed. If
// another process holds the file, Open waits up to o.Timeout and then fails
// with an error wrapping ErrLocked. A file with a newer schema fails with a
// *SchemaError (ErrSchema); an older one is migrated in one transaction.
//
// The bbolt freelist uses the hash-map implementation and is synced to
// disk on commit: NoFreelistSync would make commits a little cheaper but
// makes every open scan the whole file to rebuild the freelist, which a CLI
// that opens the catalog once per command cannot afford on a large catalog.
func Open(path string, o *Options) (*DB, error) {
	return openDB(path, o, schemaPlan{version: schemaVersion, steps: migrations})
}

// openDBOnce opens the file once; openDB (vacuum.go) retries when the file
// was replaced by Vacuum or Import while this process waited for its lock.
func openDBOnce(path string, o *Options, plan schemaPlan) (*DB, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	switch {
	case opts.Timeout == 0:
		opts.Timeout = time.Second
	case opts.Timeout < 0:
		opts.Timeout = 0 // bbolt: wait forever
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bdb, err := bolt.Open(path, 0o644, &bolt.Options{
		Timeout:      opts.Timeout,
		ReadOnly:     opts.ReadOnly,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
		// Mapping ahead avoids re-mmapping (which copies every dirty node)
		// several times while a large state commits, and lets readers run
		// beside a growing writer. It reserves address space, not disk.
		InitialMmapSize: initialMmapSize,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open catalog: another chantal-lite process is using %s; wait for it or stop it: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	db := &DB{bolt: bdb, path: path, ro: opts.ReadOnly, log: log}
	if err := db.prepare(plan); err != nil {
		// The prepare error is what matters; a close failure adds nothing.
		_ = bdb.Close()
		return nil, err
	}
	log.Debug("catalog opened", "path", path, "schema", plan.version, "readonly", opts.ReadOnly)
	return db, nil
}

func readSchema(tx *bolt.Tx) (int, bool, error) {
	meta := tx.Bucket([]byte(bucketMeta))
	if meta == nil {
		return 0, false, nil
	}
	v := meta.Get([]byte(keySchema))
	if len(v) != 8 {
		return 0, false, fmt.Errorf("read schema version: %w", ErrCorrupt)
	}
	return int(binary.BigEndian.Uint64(v)), true, nil
}

// prepare creates a new catalog or checks and migrates an existing one.
func (db *DB) prepare(plan schemaPlan) error {
	if db.ro {
		return db.bolt.View(func(tx *bolt.Tx) error {
			have, ok, err := readSchema(tx)
			switch {
			case err != nil:
				return err
			case !ok:
				return &SchemaError{Path: db.path, Have: 0, Want: plan.version, Reason: "file is not initialized; open it read-write once"}
			case have > plan.version:
				return &SchemaError{Path: db.path, Have: have, Want: plan.version, Reason: "file is newer than this build"}
			case have < plan.version:
				return &SchemaError{Path: db.path, Have: have, Want: plan.version, Reason: "file needs a migration; open it read-write once"}
			}
			return checkBuckets(tx)
		})
	}
	// A current catalog is only read: a write transaction would commit (and
	// fsync twice) on every open.
	current := false
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		have, ok, err := readSchema(tx)
		current = err == nil && ok && have == plan.version && checkBuckets(tx) == nil
		return nil
	}); err != nil {
		return err
	}
	if current {
		return nil
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		have, ok, err := readSchema(tx)
		if err != nil {
			return err
		}
		if ok {
			if have > plan.version {
				return &SchemaError{Path: db.path, Have: have, Want: plan.version, Reason: "file is newer than this build"}
			}
			for v := have; v < plan.version; v++ {
				step := plan.steps[v]
				if step == nil {
					return &SchemaError{Path: db.path, Have: have, Want: plan.version, Reason: fmt.Sprintf("no migration from version %d", v)}
				}
				if err := step(tx); err != nil {
					return fmt.Errorf("migrate catalog from schema %d to %d: %w", v, v+1, err)
				}
				db.log.Debug("catalog migrated", "path", db.path, "from", v, "to", v+1)
			}
			if have == plan.version {
				return checkBuckets(tx)
			}
		}
		for _, name := range bucketNames() {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(keySchema), binary.BigEndian.AppendUint64(nil, uint64(plan.version)))
	})
}

// checkBuckets makes sure every bucket exists, so Tx methods never meet a
// nil bucket.
func checkBuckets(tx *bolt.Tx) error {
	for _, name := range bucketNames() {
		if tx.Bucket([]byte(name)) == nil {
			return fmt.Errorf("open catalog: bucket %s missing: %w", name, ErrCorrupt)
		}
	}
	return nil
}

// Close releases the file and its lock. Transactions must have ended.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close catalog: %w", err)
	}
	return nil
}

// Path returns the file name the catalog was opened with.
func (db *DB) Path() string { return db.path }

// View runs fn in a read-only transaction. Writing Tx methods fail with
// ErrReadOnly. The Tx must not be used after fn returns.
func (db *DB) View(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx}) })
}

// Update runs fn in a read-write transaction, committed if fn returns nil
// and rolled back otherwise. Only one Update runs at a time; keep fn short
// and never do network I/O inside it. If ctx is done before fn starts or
// after it returns, nothing is committed and ctx.Err() is returned.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.ro {
		return fmt.Errorf("update catalog %s: %w", db.path, ErrReadOnly)
	}
	return db.bolt.Update(func(btx *bolt.Tx) error {
		if err := fn(&Tx{tx: btx}); err != nil {
			return err
		}
		return ctx.Err()
	})
}
