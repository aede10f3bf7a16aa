package pgp

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/google/go-cmp/cmp"
)

var verifyAt = testNow.Add(2 * time.Hour)

const release = "Origin: chantal-lite\nSuite: stable\nSHA256:\n 0123 10 main/binary-amd64/Packages\n"

func TestDetachSignRoundTrip(t *testing.T) {
	s, _ := testSigner(t)
	k := testKeyring(t)
	data := []byte("<repomd>\r\nbinary \x00 bytes\n")
	sig, err := s.DetachSign(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(sig, []byte("-----BEGIN PGP SIGNATURE-----\n")) {
		t.Fatalf("signature not armored:\n%s", sig)
	}
	got, err := k.VerifyDetached(data, sig, verifyAt)
	if err != nil {
		t.Fatalf("VerifyDetached: %v", err)
	}
	want := &Signature{KeyFingerprint: s.Fingerprint(), SigningKeyFingerprint: s.Fingerprint(), Created: testNow.Add(time.Hour)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("signature (-want +got):\n%s", diff)
	}
	// The binary form of the same signature verifies too.
	if _, err := k.VerifyDetached(data, dearmor(t, sig), verifyAt); err != nil {
		t.Errorf("binary signature: %v", err)
	}
	// Deterministic: same data, same clock, same bytes.
	again, err := s.DetachSign(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sig, again) {
		t.Error("two signatures of the same data at the same time differ")
	}
}

func TestDetachSignTampered(t *testing.T) {
	s, _ := testSigner(t)
	k := testKeyring(t)
	data := []byte(release)
	sig, err := s.DetachSign(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	for name, signed := range map[string][]byte{
		"changed byte":   []byte(strings.Replace(release, "0123", "0124", 1)),
		"appended":       append([]byte(release), '\n'),
		"truncated":      []byte(release[:len(release)-1]),
		"CRLF line ends": []byte(strings.ReplaceAll(release, "\n", "\r\n")),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := k.VerifyDetached(signed, sig, verifyAt)
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("err = %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestDetachSignCancelled(t *testing.T) {
	s, _ := testSigner(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.DetachSign(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("DetachSign: err = %v, want context.Canceled", err)
	}
	if _, err := s.ClearSign(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("ClearSign: err = %v, want context.Canceled", err)
	}
}

func TestVerifyUnknownKey(t *testing.T) {
	s, _ := testSigner(t)
	other, err := ReadKeyring(armorEntity(t, newEdEntity(t, "other", edOptions{}), false))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.DetachSign(context.Background(), []byte(release))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.VerifyDetached([]byte(release), sig, verifyAt); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("detached: err = %v, want ErrUnknownKey", err)
	}
	msg, err := s.ClearSign(context.Background(), []byte(release))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.VerifyClearsigned(msg, verifyAt); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("clearsigned: err = %v, want ErrUnknownKey", err)
	}
}

func TestVerifyHashPolicy(t *testing.T) {
	e := newEdEntity(t, "hashes", edOptions{})
	k, err := ReadKeyring(binaryPublic(t, e))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(release)
	for _, tc := range []struct {
		hash crypto.Hash
		want error
	}{
		{crypto.SHA1, ErrWeakHash},
		{crypto.SHA256, nil},
		{crypto.SHA512, nil},
	} {
		t.Run(tc.hash.String(), func(t *testing.T) {
			sig := signWithHash(t, e, data, tc.hash, packet.SigTypeBinary, 0, testNow)
			_, err := k.VerifyDetached(data, sig, verifyAt)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyTextSignature(t *testing.T) {
	e := newEdEntity(t, "text", edOptions{})
	k, err := ReadKeyring(binaryPublic(t, e))
	if err != nil {
		t.Fatal(err)
	}
	sig := signWithHash(t, e, []byte("a\nb\n"), crypto.SHA256, packet.SigTypeText, 0, testNow)
	// A text signature covers the canonical CRLF form of either line ending.
	for _, data := range []string{"a\nb\n", "a\r\nb\r\n"} {
		if _, err := k.VerifyDetached([]byte(data), sig, verifyAt); err != nil {
			t.Errorf("%q: %v", data, err)
		}
	}
}

func TestVerifyExpiry(t *testing.T) {
	data := []byte(release)
	expiring := newEdEntity(t, "expiring", edOptions{lifetime: 3600})
	k, err := ReadKeyring(binaryPublic(t, expiring))
	if err != nil {
		t.Fatal(err)
	}
	sig := signWithHash(t, expiring, data, crypto.SHA256, packet.SigTypeBinary, 0, testNow)
	if _, err := k.VerifyDetached(data, sig, testNow.Add(30*time.Minute)); err != nil {
		t.Errorf("before expiry: %v", err)
	}
	if _, err := k.VerifyDetached(data, sig, testNow.Add(2*time.Hour)); !errors.Is(err, ErrExpiredKey) {
		t.Errorf("after expiry: err = %v, want ErrExpiredKey", err)
	}

	plain := newEdEntity(t, "plain", edOptions{})
	k2, err := ReadKeyring(binaryPublic(t, plain))
	if err != nil {
		t.Fatal(err)
	}
	short := signWithHash(t, plain, data, crypto.SHA256, packet.SigTypeBinary, 60, testNow)
	if _, err := k2.VerifyDetached(data, short, testNow.Add(30*time.Second)); err != nil {
		t.Errorf("signature before its expiry: %v", err)
	}
	if _, err := k2.VerifyDetached(data, short, testNow.Add(time.Hour)); !errors.Is(err, ErrExpiredSignature) {
		t.Errorf("expired signature: err = %v, want ErrExpiredSignature", err)
	}
}

func TestVerifyRevoked(t *testing.T) {
	e := newEdEntity(t, "revoked", edOptions{})
	data := []byte(release)
	sig := signWithHash(t, e, data, crypto.SHA256, packet.SigTypeBinary, 0, testNow)
	cfg := &packet.Config{Time: func() time.Time { return testNow.Add(time.Hour) }}
	if err := e.RevokeKey(packet.KeyCompromised, "test", cfg); err != nil {
		t.Fatal(err)
	}
	k, err := ReadKeyring(binaryPublic(t, e))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.VerifyDetached(data, sig, verifyAt); !errors.Is(err, ErrRevokedKey) {
		t.Errorf("err = %v, want ErrRevokedKey", err)
	}
}

func TestVerifyMultipleSignatures(t *testing.T) {
	data := []byte(release)
	a := newEdEntity(t, "a", edOptions{})
	b := newEdEntity(t, "b", edOptions{})
	ka, err := ReadKeyring(binaryPublic(t, a))
	if err != nil {
		t.Fatal(err)
	}
	sigA := signWithHash(t, a, data, crypto.SHA256, packet.SigTypeBinary, 0, testNow)
	sigB := signWithHash(t, b, data, crypto.SHA256, packet.SigTypeBinary, 0, testNow)
	// A signature by an unknown key beside a good one is ignored.
	got, err := ka.VerifyDetached(data, append(bytes.Clone(sigB), sigA...), verifyAt)
	if err != nil {
		t.Fatalf("unknown + good: %v", err)
	}
	if got.KeyFingerprint != fingerprint(a.PrimaryKey.Fingerprint) {
		t.Errorf("signer = %s, want key a", got.KeyFingerprint)
	}
	// A bad signature by a known key is never outvoted by a good one.
	badA := signWithHash(t, a, []byte("other"), crypto.SHA256, packet.SigTypeBinary, 0, testNow)
	if _, err := ka.VerifyDetached(data, append(bytes.Clone(sigA), badA...), verifyAt); !errors.Is(err, ErrBadSignature) {
		t.Errorf("good + bad: err = %v, want ErrBadSignature", err)
	}
	// A weak hash by a known key does not count, the strong one does.
	weakA := signWithHash(t, a, data, crypto.SHA1, packet.SigTypeBinary, 0, testNow)
	if _, err := ka.VerifyDetached(data, append(bytes.Clone(weakA), sigA...), verifyAt); err != nil {
		t.Errorf("weak + good: %v", err)
	}
}

func TestVerifyDetachedMalformed(t *testing.T) {
	k := testKeyring(t)
	s, _ := testSigner(t)
	good, err := s.DetachSign(context.Background(), []byte(release))
	if err != nil {
		t.Fatal(err)
	}
	for name, sig := range map[string][]byte{
		"empty":        nil,
		"garbage":      []byte("not a signature"),
		"trailing":     append(bytes.Clone(good), "unsigned\n"...),
		"public key":   s.PublicKey(),
		"armor no end": good[:len(good)-30],
	} {
		t.Run(name, func(t *testing.T) {
			_, err := k.VerifyDetached([]byte(release), sig, verifyAt)
			if err == nil {
				t.Fatal("verified")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("err = %v, want ErrMalformed or ErrBadSignature", err)
			}
		})
	}
}

func TestClearSignRoundTrip(t *testing.T) {
	s, _ := testSigner(t)
	k := testKeyring(t)
	for name, text := range map[string]string{
		"release":            release,
		"dash lines":         "-----BEGIN PGP SIGNATURE-----\n- dash\n-\nFrom me\n--\n",
		"blank lines":        "a\n\n\nb\n",
		"single line":        "x\n",
		"ends in blank line": "a\n\n",
		"nested begin":       "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA1\n\nevil\n",
	} {
		t.Run(name, func(t *testing.T) {
			msg, err := s.ClearSign(context.Background(), []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(msg, []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n")) {
				t.Fatalf("unexpected header:\n%s", msg)
			}
			payload, sig, err := k.VerifyClearsigned(msg, verifyAt)
			if err != nil {
				t.Fatalf("VerifyClearsigned: %v\n%s", err, msg)
			}
			if diff := cmp.Diff(text, string(payload)); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
			if sig.KeyFingerprint != s.Fingerprint() {
				t.Errorf("signer = %s, want %s", sig.KeyFingerprint, s.Fingerprint())
			}
		})
	}
}

func TestClearSignDashEscaped(t *testing.T) {
	s, _ := testSigner(t)
	msg, err := s.ClearSign(context.Background(), []byte("-----END PGP SIGNATURE-----\nok\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(msg, []byte("\n- -----END PGP SIGNATURE-----\n")) {
		t.Fatalf("dash line not escaped:\n%s", msg)
	}
	// Unescaping the line by hand makes the message ambiguous: rejected.
	raw := bytes.Replace(msg, []byte("\n- -----END"), []byte("\n-----END"), 1)
	if _, _, err := testKeyring(t).VerifyClearsigned(raw, verifyAt); err == nil {
		t.Fatal("unescaped dash line accepted")
	}
}

func TestVerifyClearsignedRejects(t *testing.T) {
	s, _ := testSigner(t)
	k := testKeyring(t)
	msg, err := s.ClearSign(context.Background(), []byte(release))
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.ClearSign(context.Background(), []byte("Suite: evil\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"trailing garbage", append(bytes.Clone(msg), "Suite: evil\n"...), ErrMalformed},
		{"second block", append(bytes.Clone(msg), second...), ErrMalformed},
		{"prefix", append([]byte("Suite: evil\n"), msg...), ErrMalformed},
		{"unsigned release", []byte(release), ErrNotSigned},
		{"html", []byte("<html>login</html>"), ErrNotSigned},
		{"empty", nil, ErrNotSigned},
		{"tampered text", bytes.Replace(msg, []byte("stable"), []byte("stabla"), 1), ErrBadSignature},
		{"unescaped dash", bytes.Replace(msg, []byte("Suite:"), []byte("-Suite:"), 1), ErrMalformed},
		{"extra header", bytes.Replace(msg, []byte("Hash: SHA512\n"), []byte("Hash: SHA512\nComment: x\n"), 1), ErrMalformed},
		{"hash header mismatch", bytes.Replace(msg, []byte("Hash: SHA512\n"), []byte("Hash: SHA256\n"), 1), ErrMalformed},
		{"no signature", bytes.SplitAfter(msg, []byte("-----BEGIN PGP SIGNATURE-----"))[0], ErrMalformed},
		{"no end line", bytes.Replace(msg, []byte("-----END PGP SIGNATURE-----"), nil, 1), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload, _, err := k.VerifyClearsigned(tc.msg, verifyAt)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if payload != nil {
				t.Errorf("payload returned with error")
			}
		})
	}
	// Trailing white space and CRLF line endings change nothing that is signed.
	crlf := bytes.ReplaceAll(msg, []byte("\n"), []byte("\r\n"))
	crlf = bytes.Replace(crlf, []byte("Suite: stable\r\n"), []byte("Suite: stable \t\r\n"), 1)
	payload, _, err := k.VerifyClearsigned(append(crlf, "\r\n\r\n"...), verifyAt)
	if err != nil {
		t.Fatalf("CRLF variant: %v", err)
	}
	if string(payload) != release {
		t.Errorf("CRLF payload = %q, want %q", payload, release)
	}
}

func TestReadKeyringBinaryConcatenated(t *testing.T) {
	a := newEdEntity(t, "a", edOptions{})
	b := newEdEntity(t, "b", edOptions{})
	bin := append(binaryPublic(t, a), binaryPublic(t, b)...)
	k, err := ReadKeyring(bin)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fingerprint(a.PrimaryKey.Fingerprint), fingerprint(b.PrimaryKey.Fingerprint)}
	if diff := cmp.Diff(want, k.Fingerprints()); diff != "" {
		t.Errorf("fingerprints (-want +got):\n%s", diff)
	}
	for _, fp := range k.Fingerprints() {
		if len(fp) != 40 || strings.ToUpper(fp) != fp {
			t.Errorf("fingerprint %q is not 40 upper-case hex digits", fp)
		}
	}
	sig := signWithHash(t, b, []byte(release), crypto.SHA256, packet.SigTypeBinary, 0, testNow)
	if _, err := k.VerifyDetached([]byte(release), sig, verifyAt); err != nil {
		t.Errorf("second key of binary keyring: %v", err)
	}
	// Armored blocks concatenated in one file, mixed with a binary element.
	armored := append(armorEntity(t, a, false), armorEntity(t, b, false)...)
	k2, err := ReadKeyring(armored, binaryPublic(t, a))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(k2.Fingerprints()); got != 3 {
		t.Errorf("got %d keys, want 3", got)
	}
}

func TestReadKeyringErrors(t *testing.T) {
	for name, data := range map[string][][]byte{
		"no arguments":  nil,
		"empty":         {{}},
		"garbage":       {[]byte("hello")},
		"signature":     {[]byte("-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n")},
		"keybox header": {append([]byte("\x00\x00\x00\x20\x01\x02\x00\x00KBXf"), make([]byte, 20)...)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadKeyring(data...); !errors.Is(err, ErrNoKey) {
				t.Errorf("err = %v, want ErrNoKey", err)
			}
		})
	}
}

func TestLoadKeyring(t *testing.T) {
	dir := t.TempDir()
	a := newEdEntity(t, "a", edOptions{})
	p := filepath.Join(dir, "a.gpg")
	writeFile(t, p, binaryPublic(t, a))
	k, err := LoadKeyring(p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{fingerprint(a.PrimaryKey.Fingerprint)}, k.Fingerprints()); diff != "" {
		t.Error(diff)
	}
	if _, err := LoadKeyring(filepath.Join(dir, "missing.gpg")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func TestPin(t *testing.T) {
	a := newEdEntity(t, "a", edOptions{})
	b := newEdEntity(t, "b", edOptions{})
	k, err := ReadKeyring(binaryPublic(t, a), binaryPublic(t, b))
	if err != nil {
		t.Fatal(err)
	}
	fpA, fpB := fingerprint(a.PrimaryKey.Fingerprint), fingerprint(b.PrimaryKey.Fingerprint)
	spaced := func(fp string) string { // "ABCD EF01 …" as gpg prints it, lower-cased
		var parts []string
		for i := 0; i < len(fp); i += 4 {
			parts = append(parts, strings.ToLower(fp[i:i+4]))
		}
		return strings.Join(parts, " ")
	}
	sub := fingerprint(b.Subkeys[0].PublicKey.Fingerprint)
	for _, tc := range []struct {
		name string
		pins []string
		want []string
	}{
		{"full", []string{fpA}, []string{fpA}},
		{"spaced lower case", []string{spaced(fpB)}, []string{fpB}},
		{"long key id", []string{fpA[24:]}, []string{fpA}},
		{"0x long key id", []string{"0x" + fpB[24:]}, []string{fpB}},
		{"subkey fingerprint", []string{sub}, []string{fpB}},
		{"both", []string{fpB, fpA}, []string{fpA, fpB}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := k.Pin(tc.pins)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, p.Fingerprints()); diff != "" {
				t.Errorf("fingerprints (-want +got):\n%s", diff)
			}
		})
	}
	for _, tc := range []struct {
		name string
		pins []string
		bad  string
	}{
		{"too short", []string{fpA[32:]}, fpA[32:]},
		{"not hex", []string{"XYZ" + fpA[3:]}, "XYZ" + fpA[3:]},
		{"matches nothing", []string{fpA, strings.Repeat("0", 40)}, strings.Repeat("0", 40)},
		{"suffix of nothing", []string{"0123456789ABCDEF"}, "0123456789ABCDEF"},
		{"41 digits", []string{"0" + fpA}, "0" + fpA},
		{"none", nil, "(none)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := k.Pin(tc.pins)
			var pe *PinError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *PinError", err)
			}
			if pe.Pin != tc.bad {
				t.Errorf("PinError.Pin = %q, want %q", pe.Pin, tc.bad)
			}
		})
	}
	// A pinned keyring no longer trusts the other key.
	p, err := k.Pin([]string{fpA})
	if err != nil {
		t.Fatal(err)
	}
	sig := signWithHash(t, b, []byte(release), crypto.SHA256, packet.SigTypeBinary, 0, testNow)
	if _, err := p.VerifyDetached([]byte(release), sig, verifyAt); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unpinned key: err = %v, want ErrUnknownKey", err)
	}
}

func TestGenerateSigner(t *testing.T) {
	s, private := testSigner(t)
	if !bytes.HasPrefix(private, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")) {
		t.Fatalf("private key not armored")
	}
	if !bytes.HasPrefix(s.PublicKey(), []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
		t.Fatalf("public key not armored")
	}
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(s.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	e := el[0]
	bits, err := e.PrimaryKey.BitLength()
	if err != nil {
		t.Fatal(err)
	}
	self, _ := e.PrimarySelfSignature()
	got := map[string]any{
		"version":  e.PrimaryKey.Version,
		"algo":     e.PrimaryKey.PubKeyAlgo,
		"bits":     bits,
		"created":  e.PrimaryKey.CreationTime.UTC(),
		"expires":  self.KeyLifetimeSecs == nil || *self.KeyLifetimeSecs == 0,
		"sign":     self.FlagSign,
		"hashes":   self.PreferredHash,
		"subkeys":  len(e.Subkeys),
		"identity": self != nil,
	}
	want := map[string]any{
		"version": 4, "algo": packet.PubKeyAlgoRSA, "bits": uint16(3072), "created": testNow,
		"expires": true, "sign": true, "hashes": []uint8{10, 9, 8}, "subkeys": 0, "identity": true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("generated key (-want +got):\n%s", diff)
	}
	if _, _, err := GenerateSigner(GenerateRequest{}); err == nil {
		t.Error("GenerateSigner without a name succeeded")
	}
}

func TestLoadSigner(t *testing.T) {
	dir := t.TempDir()
	s, private := testSigner(t)
	p := filepath.Join(dir, "key.asc")
	writeFile(t, p, private)
	loaded, err := LoadSigner(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Fingerprint() != s.Fingerprint() {
		t.Errorf("fingerprint = %s, want %s", loaded.Fingerprint(), s.Fingerprint())
	}
	bin := filepath.Join(dir, "key.gpg")
	writeFile(t, bin, dearmor(t, private))
	if _, err := LoadSigner(bin, nil); err != nil {
		t.Errorf("binary private key: %v", err)
	}
	pub := filepath.Join(dir, "pub.asc")
	writeFile(t, pub, s.PublicKey())
	if _, err := LoadSigner(pub, nil); !errors.Is(err, ErrNoKey) {
		t.Errorf("public key only: err = %v, want ErrNoKey", err)
	}
}

func TestLoadSignerEncrypted(t *testing.T) {
	e := newEdEntity(t, "encrypted", edOptions{})
	pass := []byte("correct horse")
	if err := e.EncryptPrivateKeys(pass, nil); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "enc.asc")
	writeFile(t, p, armorEntity(t, e, true))

	for name, pw := range map[string][]byte{"none": nil, "wrong": []byte("battery staple")} {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadSigner(p, pw); !errors.Is(err, ErrPassphrase) {
				t.Errorf("err = %v, want ErrPassphrase", err)
			}
		})
	}
	s, err := LoadSigner(p, pass)
	if err != nil {
		t.Fatalf("right passphrase: %v", err)
	}
	k, err := ReadKeyring(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.DetachSign(context.Background(), []byte(release))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.VerifyDetached([]byte(release), sig, time.Now()); err != nil {
		t.Errorf("verifying with decrypted key: %v", err)
	}
	if bytes.Contains(s.PublicKey(), []byte("PRIVATE")) {
		t.Error("PublicKey leaks the private key")
	}
}

func TestLoadOrGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	req := GenerateRequest{Name: "chantal-lite", Email: "repo@example.org"}
	first, err := LoadOrGenerate(dir, req)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{".": 0o700, privateKeyFile: 0o600, publicKeyFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %o, want %o", name, got, want)
		}
	}
	// The public key file is deleted, the key must survive and the file return.
	if err := os.Remove(filepath.Join(dir, publicKeyFile)); err != nil {
		t.Fatal(err)
	}
	second, err := LoadOrGenerate(dir, GenerateRequest{Name: "another name"})
	if err != nil {
		t.Fatal(err)
	}
	if second.Fingerprint() != first.Fingerprint() {
		t.Fatalf("second call returned a new key %s, want %s", second.Fingerprint(), first.Fingerprint())
	}
	pub, err := os.ReadFile(filepath.Join(dir, publicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub, first.PublicKey()) {
		t.Error("signing.pub.asc differs from the signer's public key")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("key directory holds %d entries, want 2 (temporary files left?)", len(entries))
	}
}

func TestLoadOrGenerateConcurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("generates several RSA keys")
	}
	dir := t.TempDir()
	const n = 3
	fps := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := LoadOrGenerate(dir, GenerateRequest{Name: "race"})
			errs[i] = err
			if err == nil {
				fps[i] = s.Fingerprint()
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if fps[i] != fps[0] {
			t.Errorf("caller %d got %s, caller 0 got %s", i, fps[i], fps[0])
		}
	}
}

func TestSignerConcurrent(t *testing.T) {
	s, _ := testSigner(t)
	k := testKeyring(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := []byte(strings.Repeat("x", i))
			msg, err := s.ClearSign(context.Background(), data)
			if err == nil {
				_, _, err = k.VerifyClearsigned(msg, verifyAt)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
}
