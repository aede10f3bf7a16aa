package compress

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// stanzas returns n Debian control stanzas, the kind of text an APT
// Packages file is made of, deterministically from seed.
func stanzas(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"library", "development", "files", "for", "the", "runtime", "support", "tools",
		"GNU", "shared", "utilities", "documentation", "data", "module", "Python", "bindings", "plugin"}
	var b bytes.Buffer
	for i := range n {
		name := fmt.Sprintf("lib%s%d-%s", words[r.IntN(len(words))], r.IntN(40), words[r.IntN(len(words))])
		fmt.Fprintf(&b, "Package: %s\nSource: %s\nVersion: %d.%d.%d-%d\nInstalled-Size: %d\n",
			strings.ToLower(name), strings.ToLower(name), r.IntN(5), r.IntN(20), r.IntN(100), r.IntN(9)+1, r.IntN(90000))
		fmt.Fprintf(&b, "Maintainer: Debian %s Maintainers <pkg-%d@lists.example.org>\nArchitecture: amd64\n", words[r.IntN(len(words))], i%17)
		fmt.Fprintf(&b, "Depends: libc6 (>= 2.%d), lib%s%d\nPriority: optional\nSection: libs\n", r.IntN(40), words[r.IntN(len(words))], r.IntN(9))
		fmt.Fprintf(&b, "Filename: pool/main/%c/%s/%s_%d_amd64.deb\nSize: %d\n", name[0], name, name, i, r.IntN(1<<20))
		var sum [32]byte
		for j := range sum {
			sum[j] = byte(r.Uint32())
		}
		fmt.Fprintf(&b, "SHA256: %s\nDescription: %s", hex.EncodeToString(sum[:]), words[r.IntN(len(words))])
		for range r.IntN(12) + 3 {
			b.WriteString(" " + words[r.IntN(len(words))])
		}
		b.WriteString("\n\n")
	}
	return b.Bytes()
}

// compose encodes each segment into a block and writes one stream of them.
func compose(t testing.TB, segments [][]byte) ([]byte, []XZBlock) {
	t.Helper()
	blocks := make([]XZBlock, len(segments))
	for i, s := range segments {
		b, err := EncodeXZBlock(s)
		if err != nil {
			t.Fatalf("EncodeXZBlock(segment %d): %v", i, err)
		}
		blocks[i] = b
	}
	return writeStream(t, blocks), blocks
}

func writeStream(t testing.TB, blocks []XZBlock) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewXZStreamWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range blocks {
		if err := w.WriteBlock(b); err != nil {
			t.Fatalf("WriteBlock(%d): %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// decodeUlikunitz decodes stream with ulikunitz/xz in single-stream mode,
// so a second stream or trailing bytes would be an error.
func decodeUlikunitz(t testing.TB, stream []byte) []byte {
	t.Helper()
	r, err := xz.ReaderConfig{SingleStream: true}.NewReader(bytes.NewReader(stream))
	if err != nil {
		t.Fatalf("ulikunitz/xz: %v", err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("ulikunitz/xz: %v", err)
	}
	return got
}

// decodeOurs decodes stream the way chantal reads upstream metadata.
func decodeOurs(t testing.TB, stream []byte) []byte {
	t.Helper()
	e := Errors{TooLarge: errors.New("too large"), Malformed: errors.New("malformed")}
	r, err := NewReader(bytes.NewReader(stream), "Packages.xz", 1<<30, e)
	if err != nil {
		t.Fatalf("compress.NewReader: %v", err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("compress.NewReader: %v", err)
	}
	return got
}

// checkWithXZTool runs xz -t, xz -dc and xz --robot --list -vv on stream and
// checks the output and each block the tool lists against blocks.
func checkWithXZTool(t *testing.T, stream []byte, want []byte, blocks []XZBlock) {
	t.Helper()
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("xz is not on PATH")
	}
	file := filepath.Join(t.TempDir(), "Packages.xz")
	if err := os.WriteFile(file, stream, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("xz", "-t", file).CombinedOutput(); err != nil {
		t.Fatalf("xz -t: %v: %s", err, out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("xz", "-dc", "--single-stream", file)
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz -dc: %v: %s", err, stderr.Bytes())
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("xz -dc gave %d bytes, want %d (%s)", len(got), len(want), firstDiff(got, want))
	}

	out, err := exec.Command("xz", "--robot", "--list", "-vv", file).Output()
	if err != nil {
		t.Fatalf("xz --list: %v", err)
	}
	// Fields of a block line (xz(1), "Robot mode"), counted from 0 for the
	// word "block": 1 stream, 2 block in stream, 6 total block size,
	// 7 uncompressed size, 9 check type, 10 check value, 11 block header
	// size, 12 size flags, 13 compressed data size, 15 filter chain.
	var listed [][]string
	streams := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		switch f[0] {
		case "stream":
			streams++
		case "block":
			listed = append(listed, f)
		}
	}
	if streams != 1 || len(listed) != len(blocks) {
		t.Fatalf("xz --list: %d streams and %d blocks, want 1 and %d:\n%s", streams, len(listed), len(blocks), out)
	}
	for i, f := range listed {
		b := blocks[i]
		hs := int64(b.Data[0]+1) * 4
		wantFields := map[int]string{
			1: "1", 2: strconv.Itoa(i + 1),
			6: strconv.Itoa(len(b.Data)), 7: strconv.FormatInt(b.Uncompressed, 10),
			9: "CRC64", 10: fmt.Sprintf("%016x", binary.LittleEndian.Uint64(b.Data[len(b.Data)-8:])),
			11: strconv.FormatInt(hs, 10), 12: "cu", 13: strconv.FormatInt(b.Unpadded-hs-8, 10),
		}
		for k, v := range wantFields {
			if len(f) <= k || f[k] != v {
				t.Errorf("xz --list block %d field %d = %q, want %q (line %q)", i+1, k, f[min(k, len(f)-1)], v, strings.Join(f, "\t"))
			}
		}
		if len(f) <= 15 || !strings.HasPrefix(f[15], "--lzma2=dict=") {
			t.Errorf("xz --list block %d: filter chain is not LZMA2: %q", i+1, strings.Join(f, "\t"))
		}
	}
}

func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at byte %d", i)
		}
	}
	return fmt.Sprintf("equal for the first %d bytes", min(len(a), len(b)))
}

func TestXZBlocksRoundTrip(t *testing.T) {
	text := stanzas(1, 2000) // about 1 MiB
	random := make([]byte, 300<<10)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	var many [][]byte
	for len(text) > 0 { // segments of irregular size, one of them empty
		n := min(len(text), 1+len(many)*len(many)*97)
		many = append(many, text[:n])
		text = text[n:]
		if len(many) == 5 {
			many = append(many, nil)
		}
	}
	cases := []struct {
		name     string
		segments [][]byte
	}{
		{"no blocks", nil},
		{"one block", [][]byte{stanzas(2, 10)}},
		{"one byte", [][]byte{{'x'}}},
		{"one empty block", [][]byte{{}}},
		{"many blocks", many},
		// Incompressible data goes into uncompressed LZMA2 chunks.
		{"incompressible", [][]byte{random[:1000], random, stanzas(3, 5)}},
		// More than one LZMA2 chunk (2 MiB of input each) in one block.
		{"multi-chunk block", [][]byte{stanzas(4, 5), stanzas(5, 6000)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stream, blocks := compose(t, c.segments)
			want := bytes.Join(c.segments, nil)
			if want == nil {
				want = []byte{}
			}
			if got := decodeUlikunitz(t, stream); !bytes.Equal(got, want) {
				t.Fatalf("ulikunitz/xz gave %d bytes, want %d (%s)", len(got), len(want), firstDiff(got, want))
			}
			if got := decodeOurs(t, stream); !bytes.Equal(got, want) {
				t.Fatalf("compress.NewReader gave %d bytes, want %d (%s)", len(got), len(want), firstDiff(got, want))
			}
			checkWithXZTool(t, stream, want, blocks)
		})
	}
}

// TestXZEmptyStreamMatchesXZ: with no blocks the stream is exactly what
// xz writes for an empty file.
func TestXZEmptyStreamMatchesXZ(t *testing.T) {
	got := writeStream(t, nil)
	want, _ := hex.DecodeString("fd377a585a000004e6d6b446000000001cdf44211fb6f37d010000000004595a")
	if !bytes.Equal(got, want) {
		t.Fatalf("empty stream\n got %x\nwant %x", got, want)
	}
}

func TestXZBlocksDeterministic(t *testing.T) {
	segments := [][]byte{stanzas(1, 300), stanzas(2, 1), nil, stanzas(3, 700)}
	first, _ := compose(t, segments)
	for range 3 {
		again, _ := compose(t, segments)
		if !bytes.Equal(first, again) {
			t.Fatalf("two encodings of the same segments differ (%s)", firstDiff(first, again))
		}
	}
}

// TestXZBlocksParallel encodes blocks on separate goroutines, several times
// each, and checks the composed stream against a sequential encoding.
func TestXZBlocksParallel(t *testing.T) {
	segments := make([][]byte, 24)
	for i := range segments {
		segments[i] = stanzas(uint64(i), 20+i*13)
	}
	sequential, _ := compose(t, segments)

	blocks := make([]XZBlock, len(segments))
	errs := make([]error, len(segments))
	var wg sync.WaitGroup
	for i := range segments {
		wg.Go(func() { blocks[i], errs[i] = EncodeXZBlock(segments[i]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	parallel := writeStream(t, blocks)
	if !bytes.Equal(parallel, sequential) {
		t.Fatalf("parallel encoding differs from sequential (%s)", firstDiff(parallel, sequential))
	}
	want := bytes.Join(segments, nil)
	if got := decodeUlikunitz(t, parallel); !bytes.Equal(got, want) {
		t.Fatalf("decoded %d bytes, want %d (%s)", len(got), len(want), firstDiff(got, want))
	}
	checkWithXZTool(t, parallel, want, blocks)
}

// TestXZBlockHeader checks the block header fields and the dictionary size
// chosen for the input size.
func TestXZBlockHeader(t *testing.T) {
	cases := []struct {
		size     int
		wantDict int64
	}{
		{0, 4 << 10},
		{100, 4 << 10},
		{4 << 10, 4 << 10},
		{4<<10 + 1, 6 << 10},
		{300 << 10, 384 << 10},
		{3 << 20, 3 << 20},
	}
	for _, c := range cases {
		data := bytes.Repeat([]byte("a"), c.size)
		b, err := EncodeXZBlock(data)
		if err != nil {
			t.Fatal(err)
		}
		d := b.Data
		hs := int(d[0]+1) * 4
		if d[1] != 0xC0 {
			t.Errorf("size %d: block flags %#x, want 0xc0 (one filter, both sizes)", c.size, d[1])
		}
		comp, n := binary.Uvarint(d[2:])
		unc, m := binary.Uvarint(d[2+n:])
		filter := d[2+n+m : 2+n+m+3]
		if int64(unc) != b.Uncompressed || int(unc) != c.size {
			t.Errorf("size %d: header uncompressed size %d, block says %d", c.size, unc, b.Uncompressed)
		}
		if int64(comp) != b.Unpadded-int64(hs)-8 {
			t.Errorf("size %d: header compressed size %d, unpadded %d - header %d - check 8", c.size, comp, b.Unpadded, hs)
		}
		if filter[0] != 0x21 || filter[1] != 1 {
			t.Fatalf("size %d: filter flags % x, want LZMA2 with one property byte", c.size, filter)
		}
		dict, err := lzma.DecodeDictCap(filter[2])
		if err != nil || dict != c.wantDict {
			t.Errorf("size %d: dictionary %d (%v), want %d", c.size, dict, err, c.wantDict)
		}
		if got := decodeUlikunitz(t, writeStream(t, []XZBlock{b})); !bytes.Equal(got, data) {
			t.Errorf("size %d: round trip gave %d bytes", c.size, len(got))
		}
	}
}

// TestXZBlockDictionaryCap: above 8 MiB of input the dictionary stays at
// the 8 MiB of xz -6.
func TestXZBlockDictionaryCap(t *testing.T) {
	if testing.Short() {
		t.Skip("compresses 9 MiB")
	}
	data := bytes.Repeat([]byte("Package: x\nVersion: 1\n\n"), (9<<20)/23)
	b, err := EncodeXZBlock(data)
	if err != nil {
		t.Fatal(err)
	}
	_, n := binary.Uvarint(b.Data[2:])
	_, m := binary.Uvarint(b.Data[2+n:])
	if dict, _ := lzma.DecodeDictCap(b.Data[2+n+m+2]); dict != 8<<20 {
		t.Errorf("dictionary %d, want 8 MiB", dict)
	}
	stream := writeStream(t, []XZBlock{b})
	if got := decodeUlikunitz(t, stream); !bytes.Equal(got, data) {
		t.Fatalf("round trip gave %d bytes, want %d", len(got), len(data))
	}
	checkWithXZTool(t, stream, data, []XZBlock{b})
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(p), nil
}

func TestXZStreamWriterErrors(t *testing.T) {
	good, err := EncodeXZBlock([]byte("Package: a\n"))
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(f func(b *XZBlock)) XZBlock {
		b := good
		b.Data = bytes.Clone(good.Data)
		f(&b)
		return b
	}
	bad := map[string]XZBlock{
		"zero value":          {},
		"header CRC":          tamper(func(b *XZBlock) { b.Data[2]++ }),
		"unpadded too large":  tamper(func(b *XZBlock) { b.Unpadded += 4 }),
		"unpadded too small":  tamper(func(b *XZBlock) { b.Unpadded = 12 }),
		"negative size":       tamper(func(b *XZBlock) { b.Uncompressed = -1 }),
		"truncated":           tamper(func(b *XZBlock) { b.Data = b.Data[:len(b.Data)-4] }),
		"index indicator":     tamper(func(b *XZBlock) { b.Data[0] = 0 }),
		"too short to be one": {Data: []byte{1, 2, 3}, Unpadded: 3},
	}
	var out bytes.Buffer
	w, err := NewXZStreamWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range bad {
		if err := w.WriteBlock(b); !errors.Is(err, ErrInvalidXZBlock) {
			t.Errorf("%s: WriteBlock = %v, want ErrInvalidXZBlock", name, err)
		}
	}
	// The refused blocks left the stream intact.
	if err := w.WriteBlock(good); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := decodeUlikunitz(t, out.Bytes()); string(got) != "Package: a\n" {
		t.Fatalf("decoded %q", got)
	}
	if err := w.WriteBlock(good); !errors.Is(err, ErrXZStreamClosed) {
		t.Errorf("WriteBlock after Close = %v, want ErrXZStreamClosed", err)
	}
	if err := w.Close(); !errors.Is(err, ErrXZStreamClosed) {
		t.Errorf("second Close = %v, want ErrXZStreamClosed", err)
	}

	// A write error is returned by every later call.
	if _, err := NewXZStreamWriter(&failWriter{}); err == nil {
		t.Error("NewXZStreamWriter on a failing writer: no error")
	}
	w, err = NewXZStreamWriter(&failWriter{after: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteBlock(good); err == nil {
		t.Fatal("WriteBlock on a failing writer: no error")
	}
	if err := w.Close(); err == nil || errors.Is(err, ErrXZStreamClosed) {
		t.Errorf("Close after a write error = %v, want the write error", err)
	}
}

// FuzzXZBlocks splits data into segments at the lengths given by cuts,
// composes a stream of their blocks and decodes it. Each run encodes several
// blocks, so minimizing a new input takes long: the fuzzer then reports
// 0 execs/sec for up to a minute; -fuzzminimizetime=2s keeps it fuzzing.
func FuzzXZBlocks(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Add([]byte("Package: a\n\nPackage: b\n"), []byte{3, 0, 10})
	f.Add(stanzas(1, 20), []byte{200, 17, 0, 255, 1})
	f.Add(bytes.Repeat([]byte{0}, 5000), []byte{255, 255, 255})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		var segments [][]byte
		rest := data
		for _, c := range cuts {
			n := min(len(rest), int(c)*int(c)/4)
			segments = append(segments, rest[:n])
			rest = rest[n:]
		}
		segments = append(segments, rest)
		stream, blocks := compose(t, segments)
		if len(blocks) != len(segments) {
			t.Fatalf("%d blocks for %d segments", len(blocks), len(segments))
		}
		if got := decodeUlikunitz(t, stream); !bytes.Equal(got, data) {
			t.Fatalf("decoded %d bytes, want %d (%s)", len(got), len(data), firstDiff(got, data))
		}
	})
}

// BenchmarkEncodeXZBlock compresses 256 KiB of Debian control stanzas.
func BenchmarkEncodeXZBlock(b *testing.B) {
	data := stanzas(1, 1000)
	data = data[:min(len(data), 256<<10)]
	b.SetBytes(int64(len(data)))
	var out XZBlock
	for b.Loop() {
		var err error
		if out, err = EncodeXZBlock(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data))/float64(len(out.Data)), "ratio")
}
