package pgp

import (
	"context"
	"errors"
	"testing"
)

var sentinels = []error{
	ErrBadSignature, ErrUnknownKey, ErrExpiredKey, ErrExpiredSignature,
	ErrRevokedKey, ErrWeakHash, ErrNotSigned, ErrMalformed,
}

// checkVerifyErr asserts the contract every verification error keeps: it
// wraps one of the documented sentinels.
func checkVerifyErr(t *testing.T, err error) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error wraps no sentinel: %v", err)
}

func FuzzVerifyClearsigned(f *testing.F) {
	s, _ := testSigner(f)
	k := testKeyring(f)
	for _, text := range []string{release, "", "-\n- x\n", "a\r\nb \t\r\n"} {
		msg, err := s.ClearSign(context.Background(), []byte(text))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
	f.Add([]byte(beginSigned + "\n\n" + beginSignature + "\n\n" + endSignature + "\n"))
	f.Add([]byte(beginSigned + "\nHash: SHA1, MD5\n\n- -x\n" + beginSignature + "\n\nwsA=\n=AAAA\n" + endSignature))
	f.Add([]byte("Origin: x\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		payload, sig, err := k.VerifyClearsigned(msg, verifyAt)
		if err != nil {
			checkVerifyErr(t, err)
			if payload != nil || sig != nil {
				t.Fatal("payload or signature returned with an error")
			}
			return
		}
		if sig == nil || sig.KeyFingerprint != s.Fingerprint() {
			t.Fatalf("accepted with signature %+v", sig)
		}
	})
}

func FuzzVerifyDetached(f *testing.F) {
	s, _ := testSigner(f)
	k := testKeyring(f)
	sig, err := s.DetachSign(context.Background(), []byte(release))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sig)
	f.Add(dearmor(f, sig))
	f.Add([]byte("-----BEGIN PGP SIGNATURE-----\n\n=AAAA\n-----END PGP SIGNATURE-----\n"))
	f.Fuzz(func(t *testing.T, sig []byte) {
		if _, err := k.VerifyDetached([]byte(release), sig, verifyAt); err != nil {
			checkVerifyErr(t, err)
		}
	})
}

func FuzzReadKeyring(f *testing.F) {
	s, _ := testSigner(f)
	f.Add(s.PublicKey())
	f.Add(dearmor(f, s.PublicKey()))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ReadKeyring(data)
		if err != nil {
			if !errors.Is(err, ErrNoKey) {
				t.Fatalf("error does not wrap ErrNoKey: %v", err)
			}
			return
		}
		if len(k.Fingerprints()) == 0 {
			t.Fatal("empty keyring without an error")
		}
	})
}
