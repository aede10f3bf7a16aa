package verify_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/chantal-lite/chantal/internal/verify"
)

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func TestNormalizeAlgo(t *testing.T) {
	for in, want := range map[string]string{"sha": "sha1", "SHA256": "sha256", "md5sum": "md5", "SHA-512": "sha512", " sha1 ": "sha1", "sha224": "sha224"} {
		if got := verify.NormalizeAlgo(in); got != want {
			t.Errorf("NormalizeAlgo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStrongest(t *testing.T) {
	s1 := sha1.Sum([]byte("x"))
	s5 := sha512.Sum512([]byte("x"))
	cases := []struct {
		name     string
		sums     map[string]string
		wantAlgo string
		wantErr  bool
	}{
		{"sha512 wins", map[string]string{"sha1": hexOf(s1[:]), "sha512": hexOf(s5[:])}, "sha512", false},
		{"upper-case hex accepted", map[string]string{"sha1": bytesUpper(hexOf(s1[:]))}, "sha1", false},
		{"md5 alone refused", map[string]string{"md5": "0cc175b9c0f1b6a831c399e269772661"}, "", true},
		{"nothing", nil, "", true},
		{"empty strongest fails closed", map[string]string{"sha512": "", "sha1": hexOf(s1[:])}, "", true},
		{"wrong length", map[string]string{"sha1": "abcd"}, "", true},
		{"not hex", map[string]string{"sha1": "zz" + hexOf(s1[:])[2:]}, "", true},
		{"unknown algo only", map[string]string{"crc32": "abcd1234"}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			algo, _, err := verify.Strongest(c.sums)
			if (err != nil) != c.wantErr || algo != c.wantAlgo {
				t.Fatalf("Strongest = %q, %v", algo, err)
			}
			if err != nil && !errors.Is(err, verify.ErrNoChecksum) {
				t.Fatalf("error %v does not wrap ErrNoChecksum", err)
			}
		})
	}
}

func bytesUpper(s string) string { return string(bytes.ToUpper([]byte(s))) }

func TestReader(t *testing.T) {
	data := bytes.Repeat([]byte("chantal"), 10000)
	good := sha512.Sum512(data)
	sums := map[string]string{"sha512": hexOf(good[:])}
	read := func(r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	r, err := verify.NewReader(bytes.NewReader(data), int64(len(data)), sums)
	if err != nil {
		t.Fatal(err)
	}
	if err := read(iotest.OneByteReader(r)); err != nil {
		t.Fatalf("good bytes: %v", err)
	}
	if r.N() != int64(len(data)) {
		t.Errorf("N = %d", r.N())
	}
	bad := append([]byte(nil), data...)
	bad[len(bad)/2] ^= 1
	r, _ = verify.NewReader(bytes.NewReader(bad), int64(len(bad)), sums)
	var ce *verify.ChecksumError
	if err := read(r); !errors.As(err, &ce) || ce.Algo != "sha512" {
		t.Fatalf("flipped byte: %v", err)
	}
	var se *verify.SizeError
	r, _ = verify.NewReader(bytes.NewReader(data[:100]), int64(len(data)), sums)
	if err := read(r); !errors.As(err, &se) {
		t.Fatalf("short body: %v", err)
	}
	r, _ = verify.NewReader(bytes.NewReader(append(data, 'x')), int64(len(data)), sums)
	if err := read(r); !errors.As(err, &se) {
		t.Fatalf("long body: %v", err)
	}
	// The error is sticky: reading again does not turn into io.EOF.
	if _, err := r.Read(make([]byte, 1)); !errors.As(err, &se) {
		t.Fatalf("second read: %v", err)
	}
	if _, err := verify.NewReader(bytes.NewReader(data), 0, map[string]string{"md5": "00"}); !errors.Is(err, verify.ErrNoChecksum) {
		t.Fatalf("md5-only reader: %v", err)
	}
	// An underlying error passes through.
	r, _ = verify.NewReader(iotest.ErrReader(io.ErrUnexpectedEOF), 0, sums)
	if err := read(r); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("reader error: %v", err)
	}
}

func FuzzStrongest(f *testing.F) {
	f.Add("sha256", "00", "md5", "")
	f.Fuzz(func(t *testing.T, a1, v1, a2, v2 string) {
		algo, want, err := verify.Strongest(map[string]string{a1: v1, a2: v2})
		if err == nil && (verify.New(algo) == nil || len(want) != 2*verify.New(algo).Size() || algo == "md5") {
			t.Fatalf("accepted %q %q", algo, want)
		}
	})
}
