package chantal

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"
	"unsafe"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/pool"
)

// TestWantedSlim checks that a slimmed item keeps what reconcile reads, in
// memory of its own: apt's scan makes an item's strings share its stanza,
// which must be freed once the catalog holds the item.
func TestWantedSlim(t *testing.T) {
	stanza := []byte("pkgs/a_1_amd64.deb" + "apkg" + "1.0" + "amd64")
	// Strings sharing the stanza's memory, as apt's scan makes them.
	str := func(from, to int) string { return unsafe.String(&stanza[from], to-from) }
	sum := sha256.Sum256([]byte("payload"))
	hexsum := hex.EncodeToString(sum[:])
	w := wanted{Item: formats.Item{
		Path: "pool/main/a/a_1_amd64.deb", Name: str(18, 22), Version: str(22, 25), Arch: str(25, 30),
		Digest: pool.Digest(sum), Size: 7,
		Checksums: formats.Checksums{"sha256": hexsum, "md5": "00112233445566778899aabbccddeeff"},
		Fields:    map[string]string{"section": "admin"},
		Fragments: map[string][]byte{"stanza": stanza},
	}, from: str(0, 18)}
	w.slim(false)
	clear(stanza) // the scanned metadata is gone
	if !w.stored || w.Fragments != nil || w.Fields != nil || w.Checksums != nil {
		t.Fatalf("slim kept stored=%v fragments=%v fields=%v checksums=%v", w.stored, w.Fragments, w.Fields, w.Checksums)
	}
	if w.Name != "apkg" || w.Version != "1.0" || w.Arch != "amd64" || w.from != "pkgs/a_1_amd64.deb" || w.Path != "pool/main/a/a_1_amd64.deb" {
		t.Fatalf("slim changed strings: %q %q %q %q %q", w.Name, w.Version, w.Arch, w.from, w.Path)
	}
	if got := w.checksums(); len(got) != 1 || got["sha256"] != hexsum {
		t.Fatalf("checksums() = %v, want the digest's sha256", got)
	}

	// A stronger checksum than the digest stays; fields stay when asked.
	w = wanted{Item: formats.Item{Path: "p", Name: "n", Digest: pool.Digest(sum),
		Checksums: formats.Checksums{"sha256": hexsum, "sha512": hex.EncodeToString(make([]byte, 64))},
		Fields:    map[string]string{"remote": "true"}}, from: "p"}
	w.slim(true)
	if len(w.Checksums) != 1 || w.Checksums["sha512"] == "" || w.Fields["remote"] != "true" || w.from != "p" {
		t.Fatalf("slim(true) = checksums %v fields %v from %q", w.Checksums, w.Fields, w.from)
	}
}

// TestJobQueue: jobs come out in order, a waiting pop wakes for a push and
// for close, and a closed queue hands out what is left before it reports
// the end.
func TestJobQueue(t *testing.T) {
	var q jobQueue
	q.init()
	got := make(chan prefetchJob)
	go func() {
		for {
			j, ok := q.pop()
			if !ok {
				close(got)
				return
			}
			got <- j
		}
	}()
	const n = 5000 // past the compaction threshold
	for i := range n {
		q.push(prefetchJob{size: int64(i)})
		if i%1000 == 0 {
			time.Sleep(time.Millisecond) // let the consumer wait on an empty queue
		}
	}
	for i := range n {
		j := <-got
		if j.size != int64(i) {
			t.Fatalf("job %d came out as %d", i, j.size)
		}
	}
	q.push(prefetchJob{size: -1})
	q.close()
	if j := <-got; j.size != -1 {
		t.Fatalf("after close: %d, want the job pushed before it", j.size)
	}
	if _, ok := <-got; ok {
		t.Fatal("pop handed out a job after the queue was closed and empty")
	}
}
