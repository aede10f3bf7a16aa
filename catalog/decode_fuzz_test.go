package catalog

import (
	"testing"

	"github.com/chantal-lite/chantal/pool"
)

// FuzzDecodeItem: decoding a damaged record fails cleanly, and ItemHead's
// partial decode agrees with the full one wherever the full one succeeds.
func FuzzDecodeItem(f *testing.F) {
	f.Add(encodeItem(&Item{Size: 3, Format: "rpm", Name: "a", Version: "1-1", Arch: "noarch",
		Checksums: map[string]string{"sha256": "x"}, Fields: map[string]string{"k": "v"}, Fragments: map[string][]byte{"primary": []byte("<p/>")}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := pool.Sum(b)
		full, ferr := decodeItem(d, b)
		head, herr := decodeItemHead(d, b)
		if ferr != nil {
			return
		}
		if herr != nil {
			t.Fatalf("full decode succeeded, head failed: %v", herr)
		}
		full.Checksums, full.Fields, full.Fragments = nil, nil, nil
		if head.Digest != full.Digest || head.Size != full.Size || head.Format != full.Format ||
			head.Name != full.Name || head.Version != full.Version || head.Arch != full.Arch {
			t.Fatalf("head %+v, full %+v", head, full)
		}
	})
}
