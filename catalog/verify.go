package catalog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/chantal-lite/chantal/pool"
)

// A Problem is one inconsistency found by Tx.Verify.
type Problem struct {
	// Kind is one of "corrupt" (a record does not decode), "state" (refs
	// or files unsorted or duplicated, or a StateID that does not match the
	// content), "chunk" (missing or not matching its hash), "reference"
	// (a record names something that does not exist) and "count" (a
	// reference count that does not match its holders).
	Kind string `json:"kind"`
	// Record names the record, for example "state 3f2a…" or "snapshot el9/2026-01".
	Record string `json:"record"`
	Detail string `json:"detail"`
}

// String formats p as "record: detail (kind)".
func (p Problem) String() string { return p.Record + ": " + p.Detail + " (" + p.Kind + ")" }

// maxProblems bounds the problems a VerifyReport lists.
const maxProblems = 100

// VerifyReport is the result of Tx.Verify.
type VerifyReport struct {
	Repos, Items, States, Chunks, Refs, Snapshots, ViewSnapshots, SyncRuns int
	// StaleIndex counts checksum index entries that point at no item: what
	// an interrupted sync leaves, harmless (lookups ignore them) and removed
	// by the next GC. Not a problem.
	StaleIndex int
	// Problems lists up to 100 problems; Omitted counts the rest.
	Problems []Problem
	Omitted  int
}

// OK reports whether no problem was found.
func (r *VerifyReport) OK() bool { return len(r.Problems) == 0 }

func (r *VerifyReport) add(kind, record, format string, a ...any) {
	if len(r.Problems) >= maxProblems {
		r.Omitted++
		return
	}
	r.Problems = append(r.Problems, Problem{Kind: kind, Record: record, Detail: fmt.Sprintf(format, a...)})
}

// Verify checks the catalog's internal consistency without touching the
// pool: every record decodes; every state's refs are sorted and unique, its
// files sorted and unique, its chunks present and matching their hashes,
// and its StateID equal to the hash recomputed from its content; every ref
// names a stored item and every advisory file a stored advisory set; every
// state a repository, snapshot or view snapshot holds exists; every
// snapshot and sync run names a stored repository; the checksum index
// holds digests (entries whose item is gone are counted, not problems);
// and the reference counts of states and chunks equal their holders. Problems are reported in the result; the error is
// for I/O failures and cancellation only.
func (tx *Tx) Verify(ctx context.Context) (*VerifyReport, error) {
	rep := &VerifyReport{}
	holders := map[StateID]int{}
	repos := map[string]bool{}
	hold := func(who string, id StateID) {
		if !id.IsZero() {
			holders[id]++
			if tx.bucket(bucketStates).Get(id[:]) == nil {
				rep.add("reference", who, "state %s does not exist", id)
			}
		}
	}

	// Repositories, snapshots, sync runs.
	if err := tx.bucket(bucketRepos).ForEach(func(k, v []byte) error {
		rep.Repos++
		var r Repo
		if err := json.Unmarshal(v, &r); err != nil {
			rep.add("corrupt", fmt.Sprintf("repo %q", k), "%v", err)
			return nil
		}
		if r.ID != string(k) {
			rep.add("corrupt", fmt.Sprintf("repo %q", k), "record names repo %q", r.ID)
		}
		repos[string(k)] = true
		hold(fmt.Sprintf("repo %s", k), r.State)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := tx.bucket(bucketSnaps).ForEach(func(k, v []byte) error {
		rep.Snapshots++
		name := fmt.Sprintf("snapshot %q", bytes.ReplaceAll(k, []byte{0}, []byte{'/'}))
		var s Snapshot
		if err := json.Unmarshal(v, &s); err != nil {
			rep.add("corrupt", name, "%v", err)
			return nil
		}
		if !bytes.Equal(snapKey(s.Repo, s.Name), k) {
			rep.add("corrupt", name, "record names %s/%s", s.Repo, s.Name)
		}
		if !repos[s.Repo] {
			rep.add("reference", name, "repo %q does not exist", s.Repo)
		}
		hold(name, s.State)
		return nil
	}); err != nil {
		return nil, err
	}
	if b := tx.bucket(bucketViewSnaps); b != nil {
		if err := b.ForEach(func(k, v []byte) error {
			rep.ViewSnapshots++
			name := fmt.Sprintf("view snapshot %q", bytes.ReplaceAll(k, []byte{0}, []byte{'/'}))
			var vs ViewSnapshot
			if err := json.Unmarshal(v, &vs); err != nil {
				rep.add("corrupt", name, "%v", err)
				return nil
			}
			if !bytes.Equal(snapKey(vs.View, vs.Name), k) {
				rep.add("corrupt", name, "record names %s/%s", vs.View, vs.Name)
			}
			for _, m := range vs.Members {
				hold(name+" member "+m.Repo, m.State)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if err := tx.bucket(bucketRuns).ForEach(func(k, v []byte) error {
		rep.SyncRuns++
		var r SyncRun
		if err := json.Unmarshal(v, &r); err != nil {
			rep.add("corrupt", fmt.Sprintf("sync run %x", k), "%v", err)
			return nil
		}
		if !repos[r.Repo] {
			rep.add("reference", fmt.Sprintf("sync run %s/%d", r.Repo, r.Seq), "repo %q does not exist", r.Repo)
		}
		return nil
	}); err != nil {
		return nil, err
	}

	// Items and the checksum index.
	items := make(map[pool.Digest]struct{})
	c := tx.bucket(bucketItems).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		rep.Items++
		if rep.Items%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if len(k) != len(pool.Digest{}) {
			rep.add("corrupt", fmt.Sprintf("item %x", k), "key is not a SHA-256 digest")
			continue
		}
		if _, err := decodeItem(pool.Digest(k), v); err != nil {
			rep.add("corrupt", fmt.Sprintf("item %x", k), "%v", err)
			continue
		}
		items[pool.Digest(k)] = struct{}{}
	}
	if err := tx.bucket(bucketChecksum).ForEach(func(k, v []byte) error {
		switch _, ok := items[pool.Digest(v)]; {
		case len(v) != len(pool.Digest{}):
			rep.add("corrupt", fmt.Sprintf("checksum %q", bytes.ReplaceAll(k, []byte{0}, []byte{':'})), "value is not a SHA-256 digest")
		case !ok:
			rep.StaleIndex++ // an interrupted Stage.Commit; PruneItems removes it
		}
		return nil
	}); err != nil {
		return nil, err
	}

	// States and chunks.
	chunkHolders := map[chunkID]int{}
	checkedChunks := map[chunkID]bool{}
	sc := tx.bucket(bucketStates).Cursor()
	for k, v := sc.First(); k != nil; k, v = sc.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.States++
		if len(k) != len(StateID{}) {
			rep.add("corrupt", fmt.Sprintf("state %x", k), "key is not a state id")
			continue
		}
		id := StateID(k)
		tx.verifyState(rep, id, v, items, chunkHolders, checkedChunks)
	}
	rep.Chunks = len(checkedChunks)

	// Reference counts.
	strict := tx.checkKnownBuckets("verify") == nil // unknown buckets may hold states too
	if err := tx.bucket(bucketStateRC).ForEach(func(k, v []byte) error {
		n, _, err := decodeCount(v)
		name := fmt.Sprintf("state %x", k)
		switch {
		case err != nil:
			rep.add("corrupt", name, "reference count does not decode")
		case tx.bucket(bucketStates).Get(k) == nil:
			rep.add("count", name, "counted %d holders but the state does not exist", n)
		case len(k) == len(StateID{}) && (n < uint64(holders[StateID(k)]) || strict && n != uint64(holders[StateID(k)])):
			rep.add("count", name, "counted %d holders, found %d", n, holders[StateID(k)])
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for id := range holders {
		if tx.bucket(bucketStateRC).Get(id[:]) == nil && tx.bucket(bucketStates).Get(id[:]) != nil {
			rep.add("count", "state "+id.String(), "held by %d records but not counted", holders[id])
		}
	}
	if err := tx.bucket(bucketChunkRC).ForEach(func(k, v []byte) error {
		n, _, err := decodeCount(v)
		name := fmt.Sprintf("chunk %x", k)
		switch {
		case err != nil:
			rep.add("corrupt", name, "reference count does not decode")
		case len(k) != len(chunkID{}):
			rep.add("corrupt", name, "key is not a chunk id")
		case n != uint64(chunkHolders[chunkID(k)]):
			rep.add("count", name, "counted %d holding states, found %d", n, chunkHolders[chunkID(k)])
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := tx.bucket(bucketChunks).ForEach(func(k, _ []byte) error {
		if len(k) == len(chunkID{}) && chunkHolders[chunkID(k)] == 0 {
			rep.add("count", fmt.Sprintf("chunk %x", k), "stored but held by no state")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return rep, nil
}

func decodeCount(v []byte) (uint64, int, error) {
	d := decoder{b: v}
	n := d.uvarint()
	return n, len(v), d.done()
}

// verifyState checks one state record and its chunks.
func (tx *Tx) verifyState(rep *VerifyReport, id StateID, v []byte, items map[pool.Digest]struct{}, chunkHolders map[chunkID]int, checked map[chunkID]bool) {
	name := "state " + id.String()
	rec, err := decodeStateRecord(v)
	if err != nil {
		rep.add("corrupt", name, "%v", err)
		return
	}
	for i := 1; i < len(rec.files); i++ {
		if rec.files[i-1].Path >= rec.files[i].Path {
			rep.add("state", name, "files not sorted or not unique at %q", rec.files[i].Path)
		}
	}
	for _, f := range rec.files {
		if f.Kind != FileKindAdvisories {
			continue
		}
		if _, err := tx.AdvisorySet(AdvisorySetID(f.Digest)); err != nil {
			rep.add("reference", name, "file %q names advisory set %s: %v", f.Path, f.Digest, err)
		}
	}
	s := &State{Files: rec.files, Refs: make([]Ref, 0, rec.nrefs)}
	broken := false
	for _, cid := range rec.chunks {
		chunkHolders[cid]++
		var data []byte
		if cb := tx.bucket(bucketChunks).Bucket(cid[:]); cb != nil {
			data = cb.Get([]byte(chunkDataKey))
		}
		if data == nil {
			if !checked[cid] {
				rep.add("chunk", fmt.Sprintf("chunk %x", cid), "missing (held by %s)", name)
			}
			checked[cid], broken = true, true
			continue
		}
		if !checked[cid] && sha256.Sum256(data) != cid {
			rep.add("chunk", fmt.Sprintf("chunk %x", cid), "content does not match its hash")
		}
		checked[cid] = true
		refs, err := decodeChunk(data)
		if err != nil {
			rep.add("corrupt", fmt.Sprintf("chunk %x", cid), "%v", err)
			broken = true
			continue
		}
		s.Refs = append(s.Refs, refs...)
	}
	if broken {
		return
	}
	if len(s.Refs) != rec.nrefs {
		rep.add("state", name, "record says %d refs, chunks hold %d", rec.nrefs, len(s.Refs))
	}
	rep.Refs += len(s.Refs)
	for i := range s.Refs {
		r := &s.Refs[i]
		if i > 0 && compareRefs(&s.Refs[i-1], r) >= 0 {
			rep.add("state", name, "refs not sorted or not unique at %q", r.Path)
		}
		if _, ok := items[r.Digest]; !ok {
			rep.add("reference", name, "ref %q names missing item %s", r.Path, r.Digest)
		}
	}
	if got, _ := encodeState(s); got != id {
		rep.add("state", name, "content hashes to %s", got)
	}
}
