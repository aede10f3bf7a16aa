package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chantal-lite/chantal/pool"
)

// Buckets of advisories. Like the view buckets they are created by the
// first write that needs them; a read of a missing bucket sees no records.
const (
	bucketAdvisories = "advisories"   // source NUL id → encodeAdvisory
	bucketAdvCVEs    = "advisorycves" // CVE NUL source NUL id → empty
	bucketAdvSets    = "advisorysets" // set id → EncodeAdvisorySet bytes
)

// FileKindAdvisories is the File.Kind under which a state names its
// advisory set: the File's Digest is the AdvisorySetID (as a pool.Digest)
// and snapshots of the state freeze the set with it.
const FileKindAdvisories = "advisories"

// An AdvisoryRecord is one advisory (an erratum) as the catalog keeps it:
// the few fields it indexes or that lists show, plus the advisory itself
// as an opaque encoding (errata.Marshal) in Data. Records are keyed by
// (Source, ID).
type AdvisoryRecord struct {
	ID       string // required
	Source   string // where it came from ("updateinfo:epel9", "osv:AlmaLinux" ...); may be empty
	Type     string
	Severity string
	Issued   time.Time
	Updated  time.Time
	// CVEs are indexed for Tx.AdvisoriesByCVE (case-insensitively; they
	// are stored upper-cased, sorted, without duplicates).
	CVEs []string
	Data []byte
}

// Key returns the record's key.
func (r *AdvisoryRecord) Key() AdvisoryKey { return AdvisoryKey{Source: r.Source, ID: r.ID} }

// An AdvisoryKey names an advisory record.
type AdvisoryKey struct {
	Source string
	ID     string
}

func compareAdvisoryKeys(a, b AdvisoryKey) int {
	if c := strings.Compare(a.Source, b.Source); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func (k AdvisoryKey) valid() error {
	if k.ID == "" || strings.ContainsAny(k.ID, "\x00\t\n") || strings.ContainsAny(k.Source, "\x00\t\n") {
		return fmt.Errorf("advisory %q/%q: empty id, or NUL, tab or newline: %w", k.Source, k.ID, ErrInvalid)
	}
	return nil
}

func (k AdvisoryKey) bytes() []byte {
	b := make([]byte, 0, len(k.Source)+1+len(k.ID))
	b = append(b, k.Source...)
	b = append(b, 0)
	return append(b, k.ID...)
}

func parseAdvisoryKey(b []byte) (AdvisoryKey, error) {
	src, id, ok := bytes.Cut(b, []byte{0})
	if !ok {
		return AdvisoryKey{}, fmt.Errorf("advisory key %q: %w", b, ErrCorrupt)
	}
	return AdvisoryKey{Source: string(src), ID: string(id)}, nil
}

func cveKey(cve string, k AdvisoryKey) []byte {
	b := make([]byte, 0, len(cve)+2+len(k.Source)+len(k.ID))
	b = append(b, cve...)
	b = append(b, 0)
	return append(b, k.bytes()...)
}

// normCVEs upper-cases, sorts and de-duplicates; empty entries and ones
// containing NUL are dropped.
func normCVEs(in []string) []string {
	out := make([]string, 0, len(in))
	for _, c := range in {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c != "" && !strings.ContainsRune(c, 0) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

const advisoryEncodingV1 = 1

func putTime(e *encoder, t time.Time) {
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

func getTime(d *decoder) time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// encodeAdvisory encodes the record's fields other than its key.
func encodeAdvisory(r *AdvisoryRecord) []byte {
	e := encoder{buf: make([]byte, 0, 64+len(r.Data))}
	e.uvarint(advisoryEncodingV1)
	e.str(r.Type)
	e.str(r.Severity)
	putTime(&e, r.Issued)
	putTime(&e, r.Updated)
	e.uvarint(uint64(len(r.CVEs)))
	for _, c := range r.CVEs {
		e.str(c)
	}
	e.bytes(r.Data)
	return e.buf
}

func decodeAdvisory(k AdvisoryKey, b []byte) (AdvisoryRecord, error) {
	d := decoder{b: b}
	if v := d.uvarint(); v != advisoryEncodingV1 && d.err == nil {
		return AdvisoryRecord{}, fmt.Errorf("decode advisory %s/%s: encoding version %d: %w", k.Source, k.ID, v, ErrCorrupt)
	}
	r := AdvisoryRecord{ID: k.ID, Source: k.Source}
	r.Type = d.str()
	r.Severity = d.str()
	r.Issued = getTime(&d)
	r.Updated = getTime(&d)
	if n := d.length(1); n > 0 {
		r.CVEs = make([]string, n)
		for i := range r.CVEs {
			r.CVEs[i] = d.str()
		}
	}
	if n := d.length(1); d.err == nil {
		r.Data = bytes.Clone(d.next(n))
	}
	if err := d.done(); err != nil {
		return AdvisoryRecord{}, fmt.Errorf("decode advisory %s/%s: %w", k.Source, k.ID, err)
	}
	return r, nil
}

// PutAdvisories creates or replaces advisory records and keeps the CVE
// index up to date. Records are written in key order; of several records
// with the same key the last one wins. A record whose stored form is
// unchanged writes nothing. It fails with ErrInvalid (writing nothing)
// if a record has an empty ID or a key with NUL, tab or newline.
func (tx *Tx) PutAdvisories(records []AdvisoryRecord) error {
	for i := range records {
		if err := records[i].Key().valid(); err != nil {
			return fmt.Errorf("put advisories: %w", err)
		}
	}
	b, err := tx.writeBucket("put advisories", bucketAdvisories)
	if err != nil {
		return err
	}
	idx, err := tx.writeBucket("put advisories", bucketAdvCVEs)
	if err != nil {
		return err
	}
	order := make([]int, len(records))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return compareAdvisoryKeys(records[x].Key(), records[y].Key()) })
	for n, i := range order {
		if n+1 < len(order) && compareAdvisoryKeys(records[i].Key(), records[order[n+1]].Key()) == 0 {
			continue // a later record with the same key wins
		}
		r := records[i]
		r.CVEs = normCVEs(r.CVEs)
		k := r.Key()
		kb := k.bytes()
		data := encodeAdvisory(&r)
		old := b.Get(kb)
		if bytes.Equal(old, data) {
			continue
		}
		if old != nil {
			prev, err := decodeAdvisory(k, old)
			if err != nil {
				return err
			}
			for _, c := range prev.CVEs {
				if !slices.Contains(r.CVEs, c) {
					if err := idx.Delete(cveKey(c, k)); err != nil {
						return fmt.Errorf("put advisory %s/%s: %w", k.Source, k.ID, err)
					}
				}
			}
		}
		if err := b.Put(kb, data); err != nil {
			return fmt.Errorf("put advisory %s/%s: %w", k.Source, k.ID, err)
		}
		for _, c := range r.CVEs {
			if err := idx.Put(cveKey(c, k), nil); err != nil {
				return fmt.Errorf("put advisory %s/%s: %w", k.Source, k.ID, err)
			}
		}
	}
	return nil
}

// Advisory returns the advisory (source, id), or ErrNotFound.
func (tx *Tx) Advisory(source, id string) (AdvisoryRecord, error) {
	k := AdvisoryKey{Source: source, ID: id}
	var v []byte
	if b := tx.bucket(bucketAdvisories); b != nil {
		v = b.Get(k.bytes())
	}
	if v == nil {
		return AdvisoryRecord{}, fmt.Errorf("advisory %s/%s: %w", source, id, ErrNotFound)
	}
	return decodeAdvisory(k, v)
}

// DeleteAdvisory deletes the advisory (source, id) and its CVE index
// entries, or returns ErrNotFound. Advisory sets naming it keep the key.
func (tx *Tx) DeleteAdvisory(source, id string) error {
	b, err := tx.writeBucket("delete advisory", bucketAdvisories)
	if err != nil {
		return err
	}
	r, err := tx.Advisory(source, id)
	if err != nil {
		return err
	}
	idx, err := tx.writeBucket("delete advisory", bucketAdvCVEs)
	if err != nil {
		return err
	}
	k := r.Key()
	for _, c := range r.CVEs {
		if err := idx.Delete(cveKey(c, k)); err != nil {
			return fmt.Errorf("delete advisory %s/%s: %w", source, id, err)
		}
	}
	return b.Delete(k.bytes())
}

// AdvisoriesByCVE returns the advisories naming cve (any case), sorted by
// (Source, ID).
func (tx *Tx) AdvisoriesByCVE(cve string) ([]AdvisoryRecord, error) {
	idx := tx.bucket(bucketAdvCVEs)
	if idx == nil {
		return nil, nil
	}
	prefix := append([]byte(strings.ToUpper(strings.TrimSpace(cve))), 0)
	var out []AdvisoryRecord
	c := idx.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ak, err := parseAdvisoryKey(k[len(prefix):])
		if err != nil {
			return nil, err
		}
		r, err := tx.Advisory(ak.Source, ak.ID)
		if err != nil {
			return nil, fmt.Errorf("cve index %s: %w", cve, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// WalkAdvisories calls fn for every advisory in (Source, ID) order. An
// error from fn stops the walk and is returned as is.
func (tx *Tx) WalkAdvisories(fn func(AdvisoryRecord) error) error {
	b := tx.bucket(bucketAdvisories)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		ak, err := parseAdvisoryKey(k)
		if err != nil {
			return err
		}
		r, err := decodeAdvisory(ak, v)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// An AdvisorySetID identifies an advisory set by content: the SHA-256 of
// its EncodeAdvisorySet bytes. It converts to a pool.Digest for a State
// File of Kind FileKindAdvisories; a facade that also puts the encoding
// into the pool gets the same digest.
type AdvisorySetID [sha256.Size]byte

// String returns the lower-case hex form.
func (id AdvisorySetID) String() string { return hex.EncodeToString(id[:]) }

// Digest returns id as a pool digest.
func (id AdvisorySetID) Digest() pool.Digest { return pool.Digest(id) }

const advisorySetHeader = "chantal-lite advisory set v1\n"

// EncodeAdvisorySet returns the canonical encoding of a set of advisory
// keys (a header line, then one "source TAB id" line per key, sorted and
// without duplicates) and its ID. It fails with ErrInvalid for a key
// AdvisoryRecord could not have.
func EncodeAdvisorySet(keys []AdvisoryKey) (AdvisorySetID, []byte, error) {
	ks := slices.Clone(keys)
	slices.SortFunc(ks, compareAdvisoryKeys)
	ks = slices.Compact(ks)
	n := len(advisorySetHeader)
	for _, k := range ks {
		if err := k.valid(); err != nil {
			return AdvisorySetID{}, nil, fmt.Errorf("encode advisory set: %w", err)
		}
		n += len(k.Source) + len(k.ID) + 2
	}
	b := make([]byte, 0, n)
	b = append(b, advisorySetHeader...)
	for _, k := range ks {
		b = append(b, k.Source...)
		b = append(b, '\t')
		b = append(b, k.ID...)
		b = append(b, '\n')
	}
	return AdvisorySetID(sha256.Sum256(b)), b, nil
}

// DecodeAdvisorySet parses what EncodeAdvisorySet produced.
func DecodeAdvisorySet(b []byte) ([]AdvisoryKey, error) {
	rest, ok := bytes.CutPrefix(b, []byte(advisorySetHeader))
	if !ok {
		return nil, fmt.Errorf("decode advisory set: bad header: %w", ErrCorrupt)
	}
	keys := make([]AdvisoryKey, 0, bytes.Count(rest, []byte{'\n'}))
	for len(rest) > 0 {
		line, tail, ok := bytes.Cut(rest, []byte{'\n'})
		if !ok {
			return nil, fmt.Errorf("decode advisory set: unterminated line: %w", ErrCorrupt)
		}
		src, id, ok := bytes.Cut(line, []byte{'\t'})
		if !ok || len(id) == 0 {
			return nil, fmt.Errorf("decode advisory set: bad line %q: %w", line, ErrCorrupt)
		}
		keys = append(keys, AdvisoryKey{Source: string(src), ID: string(id)})
		rest = tail
	}
	return keys, nil
}

// PutAdvisorySet stores the set of keys (order and duplicates do not
// matter) and returns its ID; storing an existing set writes nothing. The
// keys need not name stored advisories.
func (tx *Tx) PutAdvisorySet(keys []AdvisoryKey) (AdvisorySetID, error) {
	b, err := tx.writeBucket("put advisory set", bucketAdvSets)
	if err != nil {
		return AdvisorySetID{}, err
	}
	id, data, err := EncodeAdvisorySet(keys)
	if err != nil {
		return AdvisorySetID{}, err
	}
	if b.Get(id[:]) != nil {
		return id, nil
	}
	if err := b.Put(id[:], data); err != nil {
		return AdvisorySetID{}, fmt.Errorf("put advisory set %s: %w", id, err)
	}
	return id, nil
}

// AdvisorySet returns the keys of set id, sorted by (Source, ID), or
// ErrNotFound.
func (tx *Tx) AdvisorySet(id AdvisorySetID) ([]AdvisoryKey, error) {
	var v []byte
	if b := tx.bucket(bucketAdvSets); b != nil {
		v = b.Get(id[:])
	}
	if v == nil {
		return nil, fmt.Errorf("advisory set %s: %w", id, ErrNotFound)
	}
	return DecodeAdvisorySet(v)
}

// PruneAdvisorySets deletes every advisory set that no stored state (of a
// repository, snapshot or view snapshot) names in a File of Kind
// FileKindAdvisories, and returns how many it deleted.
func (tx *Tx) PruneAdvisorySets() (int, error) {
	b, err := tx.writeBucket("prune advisory sets", bucketAdvSets)
	if err != nil {
		return 0, err
	}
	live := make(map[AdvisorySetID]bool)
	c := tx.bucket(bucketStates).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		rec, err := decodeStateRecord(v)
		if err != nil {
			return 0, fmt.Errorf("state %x: %w", k, err)
		}
		for _, f := range rec.files {
			if f.Kind == FileKindAdvisories {
				live[AdvisorySetID(f.Digest)] = true
			}
		}
	}
	var dead [][]byte
	err = b.ForEach(func(k, _ []byte) error {
		if len(k) != sha256.Size || !live[AdvisorySetID(k)] {
			dead = append(dead, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range dead {
		if err := b.Delete(k); err != nil {
			return 0, fmt.Errorf("prune advisory sets: %w", err)
		}
	}
	return len(dead), nil
}
