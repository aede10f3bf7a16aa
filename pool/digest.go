package pool

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// A Digest is the SHA-256 of a blob's bytes: the only address the pool knows.
// It is comparable, usable as a map key and cheap to copy.
type Digest [sha256.Size]byte

// Sum returns the Digest of b.
func Sum(b []byte) Digest { return Digest(sha256.Sum256(b)) }

// IsZero reports whether d is the zero value (no digest known).
func (d Digest) IsZero() bool { return d == Digest{} }

// String returns the lower-case hex form of d.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText implements encoding.TextMarshaler (lower-case hex).
func (d Digest) MarshalText() ([]byte, error) {
	b := make([]byte, hex.EncodedLen(len(d)))
	hex.Encode(b, d[:])
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler; it accepts what Parse accepts.
func (d *Digest) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// Parse parses a 64-digit hex SHA-256, optionally prefixed with "sha256:".
// Upper-case digits are accepted; anything else is an error.
func Parse(s string) (Digest, error) {
	var d Digest
	if len(s) > 7 && s[:7] == "sha256:" {
		s = s[7:]
	}
	if len(s) != hex.EncodedLen(len(d)) {
		return Digest{}, fmt.Errorf("pool: parsing digest %q: want %d hex digits", truncate(s), hex.EncodedLen(len(d)))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return Digest{}, fmt.Errorf("pool: parsing digest %q: %w", truncate(s), err)
	}
	return d, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
