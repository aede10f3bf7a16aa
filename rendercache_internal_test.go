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
	base := segmentKey(f, preq, nil, nil, refs)
	same := []string{
		segmentKey(f, preq, nil, map[pool.Digest]uint64{other: 7}, refs),
		segmentKey(f, formats.PieceRequest{Mode: formats.ModeFiltered, Params: map[string]string{"a": "1"}}, nil, nil, refs),
	}
	for i, k := range same {
		if k != base {
			t.Errorf("case %d: key changed without a reason", i)
		}
	}
	differ := map[string]string{
		"item changed":   segmentKey(f, preq, nil, map[pool.Digest]uint64{b: 3}, refs),
		"changed again":  segmentKey(f, preq, nil, map[pool.Digest]uint64{b: 4}, refs),
		"new change log": segmentKey(f, preq, []byte("log2"), nil, refs),
		"other path":     segmentKey(f, preq, nil, nil, []catalog.Ref{{Path: "p/a", Digest: a}, {Path: "p/c", Digest: b}}),
		"other digest":   segmentKey(f, preq, nil, nil, []catalog.Ref{{Path: "p/a", Digest: a}, {Path: "p/b", Digest: other}}),
		"one ref less":   segmentKey(f, preq, nil, nil, refs[:1]),
		"other params":   segmentKey(f, formats.PieceRequest{Mode: formats.ModeFiltered, Params: map[string]string{"a": "2"}}, nil, nil, refs),
		"other mode":     segmentKey(f, formats.PieceRequest{Mode: formats.ModeHosted, Params: preq.Params}, nil, nil, refs),
	}
	seen := map[string]string{base: "base"}
	for name, k := range differ {
		if prev, ok := seen[k]; ok {
			t.Errorf("%s: same key as %s", name, prev)
		}
		seen[k] = name
	}
}
