package pool_test

import (
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/chantal-lite/chantal/pool"
)

const benchSize = 1 << 30

// stream yields size bytes by repeating one random 1 MiB block: as cheap a
// source as a reader can be, so that what is measured is the pool.
type stream struct {
	block []byte
	left  int64
	off   int
}

func newStream(size int64) *stream {
	block := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range block {
		block[i] = byte(r.Uint32())
	}
	return &stream{block: block, left: size}
}

func (s *stream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n := copy(p, s.block[s.off:])
	s.off = (s.off + n) % len(s.block)
	s.left -= int64(n)
	return n, nil
}

func (s *stream) reset(size int64) { s.left, s.off = size, 0 }

// BenchmarkSHA256Raw is the budget's reference: hashing the same stream
// through the same 1 MiB buffer, with no file at all.
func BenchmarkSHA256Raw(b *testing.B) {
	src := newStream(benchSize)
	buf := make([]byte, 1<<20)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		src.reset(benchSize)
		h := sha256.New()
		if _, err := io.CopyBuffer(h, src, buf); err != nil {
			b.Fatal(err)
		}
		h.Sum(nil)
	}
}

// BenchmarkWriteRaw is the other limit: writing the same stream to a plain
// file through the same 1 MiB buffer, with no hashing and no fsync. Put hashes
// and writes in parallel, so it cannot beat the slower of this and
// BenchmarkSHA256Raw.
func BenchmarkWriteRaw(b *testing.B) {
	dir := b.TempDir()
	src := newStream(benchSize)
	buf := make([]byte, 1<<20)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		src.reset(benchSize)
		f, err := os.Create(filepath.Join(dir, "raw"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(onlyWriter{f}, src, buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.Remove(f.Name()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// onlyWriter hides *os.File's ReadFrom so that the copy goes through buf.
type onlyWriter struct{ io.Writer }

func BenchmarkPut1GiB(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts *pool.Options
	}{
		{"nosync", &pool.Options{NoSync: true}},
		{"fsync", nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := pool.Open(filepath.Join(b.TempDir(), "pool"), bc.opts)
			if err != nil {
				b.Fatal(err)
			}
			src := newStream(benchSize)
			ctx := context.Background()
			b.SetBytes(benchSize)
			b.ResetTimer()
			for range b.N {
				src.reset(benchSize)
				info, err := s.Put(ctx, src, pool.PutRequest{Size: benchSize})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Remove(info.Digest); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
