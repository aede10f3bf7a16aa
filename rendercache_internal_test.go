package chantal

import (
	"testing"

	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest/lines"
	"github.com/chantal-lite/chantal/pool"
)

// TestSegmentKey: a segment's key follows its refs, the item change log's
// identity and the changes of its own items, nothing else.
func TestSegmentKey(t *testing.T) {
	f := lines.Format{}
	preq := formats.PieceRequest{Mode: formats.ModeFiltered, Params: map[string]string{"a": "1"}}
	a, b, other := pool.Sum([]byte("a")), pool.Sum([]byte("b")), pool.Sum([]byte("other"))
	refs := []catalog.Ref{{Path: "p/a", Digest: a}, {Path: "p/b", Digest: b}}
	base := segKey(f, preq, nil, nil, refs)
	same := []string{
		segKey(f, preq, nil, map[pool.Digest]uint64{other: 7}, refs),
		segKey(f, formats.PieceRequest{Mode: formats.ModeFiltered, Params: map[string]string{"a": "1"}}, nil, nil, refs),
	}
	for i, k := range same {
		if k != base {
			t.Errorf("case %d: key changed without a reason", i)
		}
	}
	differ := map[string]string{
		"item changed":   segKey(f, preq, nil, map[pool.Digest]uint64{b: 3}, refs),
		"changed again":  segKey(f, preq, nil, map[pool.Digest]uint64{b: 4}, refs),
		"new change log": segKey(f, preq, []byte("log2"), nil, refs),
		"other path":     segKey(f, preq, nil, nil, []catalog.Ref{{Path: "p/a", Digest: a}, {Path: "p/c", Digest: b}}),
		"other digest":   segKey(f, preq, nil, nil, []catalog.Ref{{Path: "p/a", Digest: a}, {Path: "p/b", Digest: other}}),
		"one ref less":   segKey(f, preq, nil, nil, refs[:1]),
		"other params":   segKey(f, formats.PieceRequest{Mode: formats.ModeFiltered, Params: map[string]string{"a": "2"}}, nil, nil, refs),
		"other mode":     segKey(f, formats.PieceRequest{Mode: formats.ModeHosted, Params: preq.Params}, nil, nil, refs),
	}
	seen := map[string]string{base: "base"}
	for name, k := range differ {
		if prev, ok := seen[k]; ok {
			t.Errorf("%s: same key as %s", name, prev)
		}
		seen[k] = name
	}
}

// segKey is segmentKey without a scratch buffer.
func segKey(f formats.PieceRenderer, preq formats.PieceRequest, logID []byte, changes map[pool.Digest]uint64, refs []catalog.Ref) string {
	k, _ := segmentKey(f, preq, logID, changes, refs, nil)
	return k
}

// TestSegmentKeyScratch: a key does not depend on what the scratch buffer
// held before.
func TestSegmentKeyScratch(t *testing.T) {
	f := lines.Format{}
	preq := formats.PieceRequest{Mode: formats.ModeFiltered}
	long := []catalog.Ref{{Path: "p/a-long-path", Digest: pool.Sum([]byte("a"))}, {Path: "p/b-long-path", Digest: pool.Sum([]byte("b"))}}
	short := []catalog.Ref{{Path: "p/c", Digest: pool.Sum([]byte("c"))}}
	_, scratch := segmentKey(f, preq, nil, nil, long, nil)
	got, _ := segmentKey(f, preq, nil, nil, short, scratch)
	if want := segKey(f, preq, nil, nil, short); got != want {
		t.Errorf("key with a used scratch buffer %s, want %s", got, want)
	}
}
