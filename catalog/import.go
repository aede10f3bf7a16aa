package catalog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chantal-lite/chantal/pool"
)

// ImportOptions configure Import. A nil *ImportOptions means the defaults.
type ImportOptions struct {
	// Timeout is how long to wait for another process to release the
	// catalog before failing with ErrLocked; zero means 1s.
	Timeout time.Duration
	// NoSync skips fsync; only for tests and benchmarks.
	NoSync bool
	// Logger receives debug events. Nil is silent.
	Logger *slog.Logger
}

// ImportResult reports an Import.
type ImportResult struct {
	Counts ExportCounts
	// Unchanged is set when the catalog was not empty but already held
	// exactly the file's content, so nothing was written.
	Unchanged bool
}

// importBatch is how many records one import transaction writes.
const importBatch = 1024

// Import loads an export (see ExportFormat) into the catalog at path, which
// must be empty (or not exist). The records are written into a new file
// next to it, checked (sort order, unique keys, state IDs recomputed from
// their refs, every reference resolving) and then renamed over the empty
// catalog, so a failed import leaves nothing behind. Importing into a
// catalog that already holds exactly the file's content is a successful
// no-op (ImportResult.Unchanged); any other non-empty catalog fails with
// ErrExists. A malformed or truncated file fails with ErrInvalid naming the
// line. The lock is held throughout: ErrLocked if another process holds
// the catalog for longer than o.Timeout.
func Import(ctx context.Context, path string, r io.Reader, o *ImportOptions) (*ImportResult, error) {
	var opts ImportOptions
	if o != nil {
		opts = *o
	}
	db, err := Open(path, &Options{Timeout: opts.Timeout, NoSync: opts.NoSync, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("import catalog: %w", err)
	}
	defer db.bolt.Close()
	empty, err := db.isEmpty()
	if err != nil {
		return nil, fmt.Errorf("import catalog: %w", err)
	}
	if !empty {
		return db.importSame(ctx, r)
	}
	var counts ExportCounts
	tmp := path + ".import"
	err = writeTemp(tmp, opts.NoSync, func(dst *bolt.DB) error {
		ndb := &DB{bolt: dst, path: tmp, log: db.log}
		if err := ndb.prepare(schemaPlan{version: schemaVersion, steps: migrations}); err != nil {
			return err
		}
		imp := &importer{ctx: ctx, db: dst, lr: &lineReader{r: bufio.NewReaderSize(r, 256<<10)}}
		if err := imp.run(); err != nil {
			return err
		}
		counts = imp.n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import catalog: %w", err)
	}
	if err := db.replaceWith(tmp); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("import catalog: %w", err)
	}
	db.log.Debug("catalog imported", "path", path, "items", counts.Items, "states", counts.States)
	return &ImportResult{Counts: counts}, nil
}

// isEmpty reports whether every bucket but meta is empty.
func (db *DB) isEmpty() (bool, error) {
	empty := true
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if string(name) == bucketMeta {
				return nil
			}
			if k, _ := b.Cursor().First(); k != nil {
				empty = false
			}
			return nil
		})
	})
	return empty, err
}

// importSame succeeds without writing when the catalog's own export equals
// the bytes of r, and fails with ErrExists otherwise.
func (db *DB) importSame(ctx context.Context, r io.Reader) (*ImportResult, error) {
	mine := sha256.New()
	var counts ExportCounts
	err := db.View(ctx, func(tx *Tx) error {
		var err error
		counts, err = tx.Export(ctx, mine)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("import catalog: %w", err)
	}
	theirs := sha256.New()
	if _, err := io.Copy(theirs, r); err != nil {
		return nil, fmt.Errorf("import catalog: %w", err)
	}
	if !bytes.Equal(mine.Sum(nil), theirs.Sum(nil)) {
		return nil, fmt.Errorf("import catalog: %s is not empty and holds other content; import into a new data directory: %w", db.path, ErrExists)
	}
	return &ImportResult{Counts: counts, Unchanged: true}, nil
}

// importer reads an export and writes it into a fresh bbolt file in
// batches of importBatch records.
type importer struct {
	ctx context.Context
	db  *bolt.DB
	lr  *lineReader
	tx  *bolt.Tx
	ops int
	n   ExportCounts

	repos  map[string]*Repo
	items  map[pool.Digest]struct{}
	states map[StateID]*encodedState
	used   map[StateID]bool

	lastKey []byte // key of the previous record of the current section
	section int    // index into sectionOrder of the current section
}

var sectionOrder = []string{xtRepo, xtItem, xtAdvisory, xtAdvSet, xtState, xtSnapshot, xtViewSnap, xtRun, xtPub, xtEnd}

const stateSection = 4 // index of xtState in sectionOrder

func (imp *importer) wtx() (*Tx, error) {
	if imp.tx == nil {
		t, err := imp.db.Begin(true)
		if err != nil {
			return nil, err
		}
		imp.tx = t
	}
	return &Tx{tx: imp.tx}, nil
}

// step counts one write and commits the batch when it is full.
func (imp *importer) step() error {
	imp.ops++
	if imp.ops < importBatch {
		return nil
	}
	return imp.commit()
}

func (imp *importer) commit() error {
	imp.ops = 0
	if imp.tx == nil {
		return nil
	}
	t := imp.tx
	imp.tx = nil
	if err := imp.ctx.Err(); err != nil {
		_ = t.Rollback()
		return err
	}
	size := t.Size()
	if err := t.Commit(); err != nil {
		return err
	}
	releaseMap(imp.db, size)
	return nil
}

func (imp *importer) rollback() {
	if imp.tx != nil {
		_ = imp.tx.Rollback()
		imp.tx = nil
	}
}

// enter moves to the section of record type typ, refusing sections out of
// order and keys that are not strictly increasing within a section.
func (imp *importer) enter(typ string, key []byte) error {
	i := 0
	for i < len(sectionOrder) && sectionOrder[i] != typ {
		i++
	}
	switch {
	case i == len(sectionOrder):
		return imp.lr.errorf("unknown record type %q", typ)
	case i < imp.section:
		return imp.lr.errorf("%s record after the %s section", typ, sectionOrder[imp.section])
	case i > imp.section:
		imp.section, imp.lastKey = i, nil
	}
	if imp.lastKey != nil && bytes.Compare(key, imp.lastKey) <= 0 {
		return imp.lr.errorf("%s records are not sorted or not unique", typ)
	}
	imp.lastKey = append(imp.lastKey[:0], key...)
	return nil
}

func (imp *importer) run() error {
	defer imp.rollback()
	imp.repos = map[string]*Repo{}
	imp.items = map[pool.Digest]struct{}{}
	imp.states = map[StateID]*encodedState{}
	imp.used = map[StateID]bool{}
	line, err := imp.lr.next()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("empty file: %w", ErrInvalid)
	}
	if err != nil {
		return err
	}
	var h xHeader
	if err := imp.lr.decodeLine(line, &h); err != nil {
		return err
	}
	if h.Format != ExportFormat {
		return imp.lr.errorf("format %q, want %q", h.Format, ExportFormat)
	}
	if h.Version != ExportVersion {
		return imp.lr.errorf("export version %d, this build reads version %d", h.Version, ExportVersion)
	}
	for {
		line, err := imp.lr.next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("no end record after line %d (truncated file?): %w", imp.lr.line, ErrInvalid)
		}
		if err != nil {
			return err
		}
		typ, ok := lineType(line)
		if !ok {
			return imp.lr.errorf(`record does not start with {"type":`)
		}
		var done bool
		switch typ {
		case xtRepo:
			err = imp.repo(line)
		case xtItem:
			err = imp.itemSection(line)
		case xtAdvisory:
			err = imp.advisory(line)
		case xtAdvSet:
			err = imp.advisorySet(line)
		case xtState:
			err = imp.state(line)
		case xtSnapshot:
			err = imp.snapshot(line)
		case xtViewSnap:
			err = imp.viewSnapshot(line)
		case xtRun:
			err = imp.syncRun(line)
		case xtPub:
			err = imp.publication(line)
		case xtEnd:
			err, done = imp.end(line), true
		case xtRef:
			err = imp.lr.errorf("ref record outside a state")
		default:
			err = imp.lr.errorf("unknown record type %q", typ)
		}
		if err != nil {
			return err
		}
		if done {
			break
		}
		if err := imp.step(); err != nil {
			return err
		}
	}
	if _, err := imp.lr.next(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = imp.lr.errorf("data after the end record")
		}
		return err
	}
	return imp.commit()
}

// stored returns the JSON object a record line carries: the line without
// its leading "type" member, as the catalog stores it.
func stored(line []byte) []byte {
	typ, _ := lineType(line)
	rest := line[len(`{"type":"`)+len(typ)+1:]
	if len(rest) > 0 && rest[0] == ',' {
		rest = rest[1:]
	}
	out := make([]byte, 0, len(rest)+1)
	return append(append(out, '{'), rest...)
}

// decodeRecord strictly decodes the stored form of line into v.
func (imp *importer) decodeRecord(line []byte, v any) ([]byte, error) {
	obj := stored(line)
	return obj, imp.lr.decodeLine(obj, v)
}

// putRaw stores the record obj under key in bucket name.
func (imp *importer) putRaw(name string, key, obj []byte) error {
	tx, err := imp.wtx()
	if err != nil {
		return err
	}
	b, err := tx.tx.CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return err
	}
	return b.Put(key, obj)
}

func (imp *importer) repo(line []byte) error {
	var r Repo
	obj, err := imp.decodeRecord(line, &r)
	if err != nil {
		return err
	}
	if err := imp.enter(xtRepo, []byte(r.ID)); err != nil {
		return err
	}
	if err := validName("repo", r.ID); err != nil {
		return imp.lr.errorf("%v", err)
	}
	imp.repos[r.ID] = &r
	imp.n.Repos++
	// The record names its state; the reference is taken once the states
	// are read (see finishStates).
	return imp.putRaw(bucketRepos, []byte(r.ID), obj)
}

// itemBatch is how many item lines are decoded in parallel at once.
const itemBatch = 256

// itemSection reads the item lines starting with first in batches, decodes
// each batch in parallel (JSON decoding is most of an import's work) and
// stores the items in file order.
func (imp *importer) itemSection(first []byte) error {
	type decoded struct {
		line int
		raw  []byte
		it   Item
		err  error
	}
	batch := []decoded{{line: imp.lr.line, raw: bytes.Clone(first)}}
	workers := runtime.GOMAXPROCS(0)
	for {
		var readErr error
		for len(batch) < itemBatch {
			l, err := imp.lr.next()
			if err != nil {
				readErr = err
				break
			}
			if typ, _ := lineType(l); typ != xtItem {
				imp.lr.unread(l)
				break
			}
			batch = append(batch, decoded{line: imp.lr.line, raw: bytes.Clone(l)})
		}
		var wg sync.WaitGroup
		for w := range min(workers, len(batch)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(batch); i += workers {
					d := &batch[i]
					d.err = decodeStrict(stored(d.raw), &d.it)
				}
			}()
		}
		wg.Wait()
		for i := range batch {
			d := &batch[i]
			if d.err != nil {
				return fmt.Errorf("line %d: %v: %w", d.line, d.err, ErrInvalid)
			}
			if err := imp.item(d.line, d.it); err != nil {
				return err
			}
		}
		switch {
		case errors.Is(readErr, io.EOF):
			return nil // the main loop reports the missing end record
		case readErr != nil:
			return readErr
		case len(batch) < itemBatch:
			return nil // a record of another type follows
		}
		batch = batch[:0]
	}
}

func (imp *importer) item(line int, x Item) error {
	if imp.lastKey != nil && sectionOrder[imp.section] == xtItem && bytes.Compare(x.Digest[:], imp.lastKey) <= 0 {
		return fmt.Errorf("line %d: item records are not sorted or not unique: %w", line, ErrInvalid)
	}
	if err := imp.enter(xtItem, x.Digest[:]); err != nil {
		return err
	}
	tx, err := imp.wtx()
	if err != nil {
		return err
	}
	if err := tx.PutItem(x); err != nil {
		return fmt.Errorf("line %d: %v: %w", line, err, ErrInvalid)
	}
	imp.items[x.Digest] = struct{}{}
	imp.n.Items++
	return imp.step()
}

func (imp *importer) advisory(line []byte) error {
	var r AdvisoryRecord
	if _, err := imp.decodeRecord(line, &r); err != nil {
		return err
	}
	if err := r.Key().valid(); err != nil {
		return imp.lr.errorf("%v", err)
	}
	if err := imp.enter(xtAdvisory, r.Key().bytes()); err != nil {
		return err
	}
	tx, err := imp.wtx()
	if err != nil {
		return err
	}
	imp.n.Advisories++
	return tx.PutAdvisories([]AdvisoryRecord{r})
}

func (imp *importer) advisorySet(line []byte) error {
	var x xAdvisorySet
	if _, err := imp.decodeRecord(line, &x); err != nil {
		return err
	}
	if err := imp.enter(xtAdvSet, x.ID[:]); err != nil {
		return err
	}
	tx, err := imp.wtx()
	if err != nil {
		return err
	}
	id, err := tx.PutAdvisorySet(x.Keys)
	if err != nil {
		return imp.lr.errorf("%v", err)
	}
	if pool.Digest(id) != x.ID {
		return imp.lr.errorf("advisory set %s: its keys encode to %s", x.ID, id)
	}
	imp.n.AdvisorySets++
	return nil
}

func (imp *importer) state(line []byte) error {
	var x xState
	if _, err := imp.decodeRecord(line, &x); err != nil {
		return err
	}
	if err := imp.enter(xtState, x.ID[:]); err != nil {
		return err
	}
	start := imp.lr.line
	if x.Refs < 0 {
		return imp.lr.errorf("state %s: negative ref count", x.ID)
	}
	s := &State{Refs: make([]Ref, 0, min(x.Refs, 1<<20)), Files: x.Files}
	for i := range s.Files {
		if len(s.Files[i].Checksums) == 0 {
			s.Files[i].Checksums = nil
		}
	}
	for i := 1; i < len(s.Files); i++ {
		if s.Files[i-1].Path >= s.Files[i].Path {
			return imp.lr.errorf("state %s: files are not sorted or not unique", x.ID)
		}
	}
	for range x.Refs {
		line, err := imp.lr.next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("state %s at line %d: file ends inside its refs: %w", x.ID, start, ErrInvalid)
		}
		if err != nil {
			return err
		}
		if typ, _ := lineType(line); typ != xtRef {
			return imp.lr.errorf("state %s: want %d ref records, got %d", x.ID, x.Refs, len(s.Refs))
		}
		var xr xRef
		if _, err := imp.decodeRecord(line, &xr); err != nil {
			return err
		}
		r := Ref(xr)
		if len(r.Attrs) == 0 {
			r.Attrs = nil
		}
		if n := len(s.Refs); n > 0 && compareRefs(&s.Refs[n-1], &r) >= 0 {
			return imp.lr.errorf("state %s: refs are not sorted or not unique", x.ID)
		}
		if _, ok := imp.items[r.Digest]; !ok {
			return imp.lr.errorf("state %s: ref %s names item %s, which the file does not hold", x.ID, r.Path, r.Digest)
		}
		s.Refs = append(s.Refs, r)
		if len(s.Refs)%4096 == 0 {
			if err := imp.ctx.Err(); err != nil {
				return err
			}
		}
	}
	id, es := encodeState(s)
	if id != x.ID {
		return fmt.Errorf("state at line %d: id %s does not match its content (%s): %w", start, x.ID, id, ErrInvalid)
	}
	imp.states[id] = es
	imp.n.States++
	imp.n.Refs += len(s.Refs)
	return nil
}

// hold makes one holder take state id, which the file must declare.
func (imp *importer) hold(id StateID, who string) error {
	if id.IsZero() {
		return nil
	}
	es, ok := imp.states[id]
	if !ok {
		return imp.lr.errorf("%s names state %s, which the file does not hold", who, id)
	}
	imp.used[id] = true
	tx, err := imp.wtx()
	if err != nil {
		return err
	}
	return tx.swapState(StateID{}, id, es)
}

// finishStates takes the repositories' state references once, when the
// first record after the state section arrives.
func (imp *importer) finishStates() error {
	if imp.section > stateSection {
		return nil
	}
	ids := make([]string, 0, len(imp.repos))
	for id := range imp.repos {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := imp.hold(imp.repos[id].State, "repo "+id); err != nil {
			return err
		}
		if err := imp.step(); err != nil {
			return err
		}
	}
	imp.section, imp.lastKey = stateSection+1, nil // enter() moves on from here
	return nil
}

func (imp *importer) snapshot(line []byte) error {
	if err := imp.finishStates(); err != nil {
		return err
	}
	var s Snapshot
	obj, err := imp.decodeRecord(line, &s)
	if err != nil {
		return err
	}
	key := snapKey(s.Repo, s.Name)
	if err := imp.enter(xtSnapshot, key); err != nil {
		return err
	}
	if imp.repos[s.Repo] == nil {
		return imp.lr.errorf("snapshot %s/%s: repo %q is not in the file", s.Repo, s.Name, s.Repo)
	}
	if err := validName("snapshot", s.Name); err != nil {
		return imp.lr.errorf("%v", err)
	}
	if err := imp.hold(s.State, "snapshot "+s.Repo+"/"+s.Name); err != nil {
		return err
	}
	imp.n.Snapshots++
	return imp.putRaw(bucketSnaps, key, obj)
}

func (imp *importer) viewSnapshot(line []byte) error {
	if err := imp.finishStates(); err != nil {
		return err
	}
	var vs ViewSnapshot
	obj, err := imp.decodeRecord(line, &vs)
	if err != nil {
		return err
	}
	key := snapKey(vs.View, vs.Name)
	if err := imp.enter(xtViewSnap, key); err != nil {
		return err
	}
	if validName("view", vs.View) != nil || validName("view snapshot", vs.Name) != nil || len(vs.Members) == 0 {
		return imp.lr.errorf("view snapshot %q/%q: empty name or no members", vs.View, vs.Name)
	}
	for _, m := range vs.Members {
		if err := imp.hold(m.State, "view snapshot "+vs.View+"/"+vs.Name); err != nil {
			return err
		}
	}
	imp.n.ViewSnapshots++
	return imp.putRaw(bucketViewSnaps, key, obj)
}

func (imp *importer) syncRun(line []byte) error {
	if err := imp.finishStates(); err != nil {
		return err
	}
	var r SyncRun
	obj, err := imp.decodeRecord(line, &r)
	if err != nil {
		return err
	}
	key := runKey(r.Repo, r.Seq)
	if err := imp.enter(xtRun, key); err != nil {
		return err
	}
	if imp.repos[r.Repo] == nil {
		return imp.lr.errorf("sync run %s/%d: repo %q is not in the file", r.Repo, r.Seq, r.Repo)
	}
	if r.Seq == 0 {
		return imp.lr.errorf("sync run %s: seq 0", r.Repo)
	}
	imp.n.SyncRuns++
	return imp.putRaw(bucketRuns, key, obj)
}

func (imp *importer) publication(line []byte) error {
	if err := imp.finishStates(); err != nil {
		return err
	}
	var p Publication
	obj, err := imp.decodeRecord(line, &p)
	if err != nil {
		return err
	}
	if err := imp.enter(xtPub, []byte(p.Target)); err != nil {
		return err
	}
	if err := validName("publication target", p.Target); err != nil {
		return imp.lr.errorf("%v", err)
	}
	imp.n.Publications++
	return imp.putRaw(bucketPublications, []byte(p.Target), obj)
}

func (imp *importer) end(line []byte) error {
	if err := imp.finishStates(); err != nil {
		return err
	}
	var x ExportCounts
	if _, err := imp.decodeRecord(line, &x); err != nil {
		return err
	}
	if err := imp.enter(xtEnd, nil); err != nil {
		return err
	}
	if x != imp.n {
		return imp.lr.errorf("end record counts %+v, file holds %+v", x, imp.n)
	}
	for id := range imp.states {
		if !imp.used[id] {
			return imp.lr.errorf("state %s is held by no repo, snapshot or view snapshot", id)
		}
	}
	return nil
}
