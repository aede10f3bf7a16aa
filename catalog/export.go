package catalog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/chantal-lite/chantal/pool"
)

// The export format: JSON Lines, one record per line, each line starting
// with its "type" member. The first line is the header
//
//	{"format":"chantal-lite-catalog","version":1}
//
// followed by the sections in this order, each sorted by its key: repo
// lines (by id), item lines (by digest), advisory lines (by source and id),
// advisory_set lines (by id), state lines (by id, each followed
// by its "ref" lines in state order), snapshot lines (by repo and name),
// view_snapshot lines (by view and name), sync_run lines (by repo and seq),
// publication lines (by target) and one "end" line with the counts. Every
// record line starts with {"type":"NAME", and its other members are the
// catalog type's fields (Repo, Item, Snapshot …) under their Go names;
// fragments are base64. A file without the end line is truncated and is
// refused by Import.
//
// The same catalog content always exports to the same bytes, so an export,
// an import into an empty catalog and a second export give identical files.
const (
	// ExportFormat is the "format" member of the header line.
	ExportFormat = "chantal-lite-catalog"
	// ExportVersion is the "version" member of the header line this build
	// writes and reads.
	ExportVersion = 1
)

// maxExportLine bounds one line of an export file when importing.
const maxExportLine = 64 << 20

// ExportCounts counts the records of an export.
type ExportCounts struct {
	Repos         int
	Items         int
	Advisories    int
	AdvisorySets  int
	States        int
	Refs          int
	Snapshots     int
	ViewSnapshots int
	SyncRuns      int
	Publications  int
}

type xHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

// xState is a state line; its Refs ref lines follow it.
type xState struct {
	ID    StateID
	Refs  int
	Files []File `json:",omitempty"`
}

// xAdvisorySet is an advisory set line: the set's keys, re-encoded with
// EncodeAdvisorySet on import (which must give the same ID).
type xAdvisorySet struct {
	ID   pool.Digest
	Keys []AdvisoryKey
}

type xRef struct {
	Path   string
	Digest pool.Digest
	Attrs  map[string]string `json:",omitempty"`
}

// Record type names, in section order. Repos, snapshots, view snapshots,
// sync runs and publications are exported as the catalog stores them (the
// JSON of Repo, Snapshot, ViewSnapshot, SyncRun and Publication), so a field
// added to one of them is carried along without a format change.
const (
	xtRepo     = "repo"
	xtItem     = "item"
	xtAdvisory = "advisory"
	xtAdvSet   = "advisory_set"
	xtState    = "state"
	xtRef      = "ref"
	xtSnapshot = "snapshot"
	xtViewSnap = "view_snapshot"
	xtRun      = "sync_run"
	xtPub      = "publication"
	xtEnd      = "end"
)

// lineWriter writes one record per line, each starting with its type.
type lineWriter struct {
	w   *bufio.Writer
	n   int
	ctx context.Context
	buf bytes.Buffer
	enc *json.Encoder
	// release, if set, lets go of the mapped catalog pages read so far.
	release func()
}

func newLineWriter(ctx context.Context, w io.Writer) *lineWriter {
	lw := &lineWriter{w: bufio.NewWriterSize(w, 256<<10), ctx: ctx}
	lw.enc = json.NewEncoder(&lw.buf)
	lw.enc.SetEscapeHTML(false)
	return lw
}

// raw writes {"type":"TYP", followed by the members of the JSON object obj.
func (lw *lineWriter) raw(typ string, obj []byte) error {
	lw.n++
	if lw.n%4096 == 0 {
		if err := lw.ctx.Err(); err != nil {
			return err
		}
		if lw.release != nil {
			lw.release()
		}
	}
	obj = bytes.TrimRight(obj, "\n")
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return fmt.Errorf("%s record is not a JSON object: %w", typ, ErrCorrupt)
	}
	lw.w.WriteString(`{"type":"`)
	lw.w.WriteString(typ)
	lw.w.WriteByte('"')
	if len(obj) > 2 {
		lw.w.WriteByte(',')
	}
	lw.w.Write(obj[1:])
	return lw.w.WriteByte('\n')
}

// put encodes v (a struct) as a record of type typ.
func (lw *lineWriter) put(typ string, v any) error {
	lw.buf.Reset()
	if err := lw.enc.Encode(v); err != nil {
		return err
	}
	return lw.raw(typ, lw.buf.Bytes())
}

// knownBuckets are the buckets Export and Import understand.
func knownBuckets() []string {
	return append(bucketNames(), bucketViewSnaps, bucketPublications, bucketAdvisories, bucketAdvCVEs, bucketAdvSets)
}

// checkKnownBuckets fails if the file has a non-empty bucket this build
// does not know how to export, so an export never silently drops records.
func (tx *Tx) checkKnownBuckets(op string) error {
	known := knownBuckets()
	return tx.tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if slices.Contains(known, string(name)) || string(name) == bucketItemLog {
			return nil // known, or derived bookkeeping export skips
		}
		if k, _ := b.Cursor().First(); k != nil {
			return fmt.Errorf("%s: bucket %q is not supported by this build: %w", op, name, errors.ErrUnsupported)
		}
		return nil
	})
}

// Export writes the whole catalog to w as versioned JSON Lines (see
// ExportFormat), streaming record by record. Run it in a View to get a
// consistent copy while other processes keep working. It fails with
// errors.ErrUnsupported if the catalog holds records this build cannot
// export.
func (tx *Tx) Export(ctx context.Context, w io.Writer) (ExportCounts, error) {
	var n ExportCounts
	if err := tx.checkKnownBuckets("export catalog"); err != nil {
		return n, err
	}
	lw := newLineWriter(ctx, w)
	lw.release = func() { releaseMapped(tx) }
	hdr, _ := json.Marshal(xHeader{Format: ExportFormat, Version: ExportVersion})
	lw.w.Write(hdr)
	lw.w.WriteByte('\n')
	err := tx.exportRecords(lw, &n)
	if err == nil {
		err = lw.put(xtEnd, n)
	}
	if err == nil {
		err = lw.w.Flush()
	}
	if err != nil {
		return n, fmt.Errorf("export catalog: %w", err)
	}
	return n, nil
}

// exportBucket writes every stored JSON record of bucket name as type typ.
func (tx *Tx) exportBucket(lw *lineWriter, name, typ string, count *int) error {
	b := tx.bucket(name)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		*count++
		if err := lw.raw(typ, v); err != nil {
			return fmt.Errorf("%s %q: %w", typ, k, err)
		}
		return nil
	})
}

func (tx *Tx) exportRecords(lw *lineWriter, n *ExportCounts) error {
	if err := tx.exportBucket(lw, bucketRepos, xtRepo, &n.Repos); err != nil {
		return err
	}
	if err := tx.WalkItems(func(it Item) error {
		n.Items++
		return lw.put(xtItem, &it)
	}); err != nil {
		return err
	}
	if err := tx.WalkAdvisories(func(r AdvisoryRecord) error {
		n.Advisories++
		return lw.put(xtAdvisory, &r)
	}); err != nil {
		return err
	}
	if b := tx.bucket(bucketAdvSets); b != nil {
		if err := b.ForEach(func(k, v []byte) error {
			keys, err := DecodeAdvisorySet(v)
			if err != nil {
				return fmt.Errorf("advisory set %x: %w", k, err)
			}
			if len(k) != len(pool.Digest{}) {
				return fmt.Errorf("advisory set key %x: %w", k, ErrCorrupt)
			}
			n.AdvisorySets++
			return lw.put(xtAdvSet, xAdvisorySet{ID: pool.Digest(k), Keys: keys})
		}); err != nil {
			return err
		}
	}
	c := tx.bucket(bucketStates).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != len(StateID{}) {
			return fmt.Errorf("state key %x: %w", k, ErrCorrupt)
		}
		id := StateID(k)
		rec, err := decodeStateRecord(v)
		if err != nil {
			return fmt.Errorf("state %s: %w", id, err)
		}
		n.States++
		if err := lw.put(xtState, xState{ID: id, Refs: rec.nrefs, Files: rec.files}); err != nil {
			return err
		}
		refs := 0
		if err := tx.WalkState(id, func(r Ref) error {
			refs++
			return lw.put(xtRef, xRef(r))
		}); err != nil {
			return err
		}
		if refs != rec.nrefs {
			return fmt.Errorf("state %s: record says %d refs, chunks hold %d: %w", id, rec.nrefs, refs, ErrCorrupt)
		}
		n.Refs += refs
	}
	if err := tx.exportBucket(lw, bucketSnaps, xtSnapshot, &n.Snapshots); err != nil {
		return err
	}
	if err := tx.exportBucket(lw, bucketViewSnaps, xtViewSnap, &n.ViewSnapshots); err != nil {
		return err
	}
	if err := tx.exportBucket(lw, bucketRuns, xtRun, &n.SyncRuns); err != nil {
		return err
	}
	return tx.exportBucket(lw, bucketPublications, xtPub, &n.Publications)
}

// lineReader reads bounded lines and knows their numbers.
type lineReader struct {
	r       *bufio.Reader
	line    int
	buf     []byte
	pending []byte // a line given back by unread
}

// unread gives back the line next returned last; the next call of next
// returns it again.
func (lr *lineReader) unread(b []byte) {
	lr.pending = append([]byte(nil), b...)
	lr.line--
}

// next returns the next line without its newline, or io.EOF. The line is
// valid until the next call.
func (lr *lineReader) next() ([]byte, error) {
	if p := lr.pending; p != nil {
		lr.pending = nil
		lr.line++
		return p, nil
	}
	lr.buf = lr.buf[:0]
	for {
		frag, err := lr.r.ReadSlice('\n')
		lr.buf = append(lr.buf, frag...)
		if len(lr.buf) > maxExportLine {
			lr.line++
			return nil, lr.errorf("line longer than %d bytes", maxExportLine)
		}
		switch {
		case err == nil:
			lr.line++
			return lr.buf[:len(lr.buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(lr.buf) > 0:
			lr.line++
			return nil, lr.errorf("last line has no newline (truncated file?)")
		default:
			return nil, err
		}
	}
}

func (lr *lineReader) errorf(format string, a ...any) error {
	return fmt.Errorf("line %d: %s: %w", lr.line, fmt.Sprintf(format, a...), ErrInvalid)
}

// lineType returns the record type of a line, which must start with
// {"type":"NAME".
func lineType(b []byte) (string, bool) {
	const prefix = `{"type":"`
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return "", false
	}
	rest := b[len(prefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return "", false
	}
	return string(rest[:end]), true
}

// decodeLine decodes one record strictly: unknown members are errors.
func (lr *lineReader) decodeLine(b []byte, v any) error {
	if err := decodeStrict(b, v); err != nil {
		return lr.errorf("%v", err)
	}
	return nil
}

// decodeStrict decodes one JSON value from b into v; unknown members and
// trailing data are errors.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the record")
	}
	return nil
}
