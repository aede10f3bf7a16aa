package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chantal-lite/chantal/internal/atomicfile"
)

// keyReplaced marks, in the meta bucket, a file that Vacuum or Import has
// replaced by renaming a new file over its name. A process that opened the
// old file before the rename and got its lock afterwards sees the mark and
// opens the name again, so no write lands in the unlinked old file.
const keyReplaced = "replaced"

// maxReopen bounds how often Open follows a replaced file.
const maxReopen = 100

// openDB opens path, following replacements made by Vacuum and Import.
func openDB(path string, o *Options, plan schemaPlan) (*DB, error) {
	for range maxReopen {
		db, err := openDBOnce(path, o, plan)
		if err != nil {
			return nil, err
		}
		replaced, err := db.replaced()
		if err == nil && !replaced {
			return db, nil
		}
		// The file is stale (or unreadable); its close error adds nothing.
		_ = db.bolt.Close()
		if err != nil {
			return nil, err
		}
		db.log.Debug("catalog was replaced while waiting for its lock; opening it again", "path", path)
	}
	return nil, fmt.Errorf("open catalog: %s keeps being replaced: %w", path, ErrLocked)
}

func (db *DB) replaced() (bool, error) {
	var r bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if meta := tx.Bucket([]byte(bucketMeta)); meta != nil {
			r = meta.Get([]byte(keyReplaced)) != nil
		}
		return nil
	})
	return r, err
}

// replaceWith renames the complete, synced file tmp over db's path while db
// still holds the lock, then marks the old (now unlinked) file as replaced
// so that processes waiting for its lock open the new file instead.
func (db *DB) replaceWith(tmp string) error {
	if fi, err := os.Stat(db.path); err == nil {
		if err := os.Chmod(tmp, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, db.path); err != nil {
		return err
	}
	if err := atomicfile.Sync(filepath.Dir(db.path)); err != nil {
		return err
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(keyReplaced), []byte(time.Now().UTC().Format(time.RFC3339)))
	})
}

// VacuumOptions configure Vacuum. A nil *VacuumOptions means the defaults.
type VacuumOptions struct {
	// Timeout is how long to wait for another process to release the
	// catalog before failing with ErrLocked; zero means 1s.
	Timeout time.Duration
	// NoSync skips fsync; only for tests.
	NoSync bool
	// Logger receives debug events. Nil is silent.
	Logger *slog.Logger
}

// VacuumResult reports the file size before and after a Vacuum.
type VacuumResult struct {
	Before, After int64
}

// compactTxSize is how many bytes Compact copies per transaction.
const compactTxSize = 64 << 20

// Vacuum rewrites the catalog at path into a new, compact file (bbolt's
// Compact) and renames it over the old one. It holds the catalog's lock
// throughout, so it fails with ErrLocked when another process holds the
// catalog for longer than o.Timeout, and other processes wait for it (and
// then open the new file). A failure before the rename leaves the old file
// untouched.
func Vacuum(ctx context.Context, path string, o *VacuumOptions) (*VacuumResult, error) {
	var opts VacuumOptions
	if o != nil {
		opts = *o
	}
	db, err := Open(path, &Options{Timeout: opts.Timeout, NoSync: opts.NoSync, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("vacuum catalog: %w", err)
	}
	defer db.bolt.Close()
	res := &VacuumResult{}
	if fi, err := os.Stat(path); err == nil {
		res.Before = fi.Size()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tmp := path + ".vacuum"
	if err := writeTemp(tmp, opts.NoSync, func(dst *bolt.DB) error {
		return bolt.Compact(dst, db.bolt, compactTxSize)
	}); err != nil {
		return nil, fmt.Errorf("vacuum catalog: %w", err)
	}
	if err := ctx.Err(); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := db.replaceWith(tmp); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("vacuum catalog: %w", err)
	}
	if fi, err := os.Stat(path); err == nil {
		res.After = fi.Size()
	}
	db.log.Debug("catalog vacuumed", "path", path, "before", res.Before, "after", res.After)
	return res, nil
}

// writeTemp creates the bbolt file tmp (replacing a stale one), lets fill
// write it, checks that it opens as a catalog of this build and syncs it.
// On error tmp is removed.
func writeTemp(tmp string, noSync bool, fill func(*bolt.DB) error) (err error) {
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	// The file is synced once at the end, so neither commits nor growth sync.
	dst, err := bolt.Open(tmp, 0o644, &bolt.Options{NoSync: true, NoGrowSync: true, FreelistType: bolt.FreelistMapType,
		Timeout: time.Second, InitialMmapSize: 1 << 30})
	if err != nil {
		return err
	}
	err = fill(dst)
	if err == nil && !noSync {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	check, err := openDBOnce(tmp, &Options{ReadOnly: true}, schemaPlan{version: schemaVersion, steps: migrations})
	if err != nil {
		return fmt.Errorf("check new file: %w", err)
	}
	return check.Close()
}
