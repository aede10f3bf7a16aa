// Package verify checks streamed bytes against declared sizes and checksums.
package verify

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// ErrNoChecksum is returned when a payload has no usable declared checksum: none
// at all, an empty value, or only md5, which is not trusted alone.
var ErrNoChecksum = errors.New("verify: no trusted checksum declared")

// A ChecksumError reports bytes that did not hash to the declared value.
type ChecksumError struct {
	Algo      string
	Want, Got string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("verify: %s mismatch: got %s, want %s", e.Algo, e.Got, e.Want)
}

// A SizeError reports a byte count that differs from the declared size.
type SizeError struct{ Want, Got int64 }

func (e *SizeError) Error() string {
	return fmt.Sprintf("verify: size mismatch: got %d bytes, want %d", e.Got, e.Want)
}

// strength orders the algorithms we accept; md5 is known but never chosen alone.
var strength = []string{"sha512", "sha384", "sha256", "sha224", "sha1"}

// NormalizeAlgo maps upstream spellings ("sha" in repomd, "SHA256" in Release,
// "md5sum") to the canonical lower-case names used in Checksums.
func NormalizeAlgo(a string) string {
	a = strings.ToLower(strings.TrimSpace(a))
	a = strings.TrimSuffix(a, "sum")
	a = strings.ReplaceAll(a, "-", "")
	if a == "sha" {
		return "sha1"
	}
	return a
}

// New returns a fresh hash for a canonical algorithm name, or nil if unknown.
func New(algo string) hash.Hash {
	switch algo {
	case "md5":
		return md5.New()
	case "sha1":
		return sha1.New()
	case "sha224":
		return sha256.New224()
	case "sha256":
		return sha256.New()
	case "sha384":
		return sha512.New384()
	case "sha512":
		return sha512.New()
	}
	return nil
}

// Strongest picks the strongest trusted algorithm in sums and its expected hex
// value. An empty value for the strongest declared algorithm fails closed, as does
// a set holding only md5 or nothing known.
func Strongest(sums map[string]string) (algo, want string, err error) {
	for _, a := range strength {
		v, ok := sums[a]
		if !ok {
			continue
		}
		v = strings.ToLower(strings.TrimSpace(v))
		if v == "" {
			return "", "", fmt.Errorf("%w: empty %s value", ErrNoChecksum, a)
		}
		if _, err := hex.DecodeString(v); err != nil || len(v) != 2*New(a).Size() {
			return "", "", fmt.Errorf("%w: malformed %s value %q", ErrNoChecksum, a, clip(v))
		}
		return a, v, nil
	}
	if _, ok := sums["md5"]; ok {
		return "", "", fmt.Errorf("%w: md5 alone is not trusted", ErrNoChecksum)
	}
	return "", "", ErrNoChecksum
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Reader passes bytes through while hashing them. At EOF it checks the size (when
// Size > 0) and the checksum, and returns the mismatch error instead of io.EOF, so
// a consumer that stops at the first error never accepts bad bytes.
type Reader struct {
	r    io.Reader
	h    hash.Hash
	algo string
	want string
	size int64
	n    int64
	err  error
}

// NewReader wraps r to verify it against the strongest trusted checksum in sums
// and against size (0 = unknown). It fails at construction when sums has no
// trusted checksum.
func NewReader(r io.Reader, size int64, sums map[string]string) (*Reader, error) {
	algo, want, err := Strongest(sums)
	if err != nil {
		return nil, err
	}
	return &Reader{r: r, h: New(algo), algo: algo, want: want, size: size}, nil
}

// Read implements io.Reader.
func (v *Reader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.size > 0 && v.n > v.size {
		v.err = &SizeError{Want: v.size, Got: v.n}
		return n, v.err
	}
	if err == io.EOF {
		if v.size > 0 && v.n != v.size {
			err = &SizeError{Want: v.size, Got: v.n}
		} else if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			err = &ChecksumError{Algo: v.algo, Want: v.want, Got: got}
		}
	}
	v.err = err
	return n, err
}

// N returns the number of bytes read so far.
func (v *Reader) N() int64 { return v.n }
