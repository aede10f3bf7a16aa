package pgp

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/chantal-lite/chantal/internal/atomicfile"
)

// signatureHash is the digest of every signature we make: what Debian's own
// archive uses, accepted by apt, gpgv, rpm and librepo.
const signatureHash = crypto.SHA512

// generatedRSABits is the size of generated keys. RSA 3072 is what current
// GnuPG generates by default and what every stock client (apt's gpgv, rpm,
// librepo/gpgme on Debian 12 and RHEL 8–10) accepts; Ed25519 is not accepted
// by all of them.
const generatedRSABits = 3072

// A Signer signs with one OpenPGP private key. It is safe for concurrent use.
type Signer struct {
	entity *openpgp.Entity
	key    openpgp.Key // the signing (sub)key, decrypted
	pub    []byte      // armored public key
	clock  func() time.Time
}

// GenerateRequest describes a key to generate.
type GenerateRequest struct {
	Name  string    // user ID name, required, e.g. "chantal-lite repository signing key"
	Email string    // user ID e-mail, optional
	Now   time.Time // key creation time; zero means time.Now()
}

// LoadSigner reads an armored or binary private key from keyFile. If the
// signing key is encrypted, passphrase decrypts it; a missing or wrong
// passphrase is ErrPassphrase. The newest signing-capable, unexpired and
// unrevoked (sub)key of the first private key in the file is used.
func LoadSigner(keyFile string, passphrase []byte) (*Signer, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading signing key: %w", err)
	}
	s, err := readSigner(data, passphrase, time.Now())
	if err != nil {
		return nil, fmt.Errorf("loading signing key %s: %w", keyFile, err)
	}
	return s, nil
}

func readSigner(data, passphrase []byte, now time.Time) (*Signer, error) {
	el, err := readEntities(data)
	if err != nil {
		return nil, err
	}
	var e *openpgp.Entity
	for _, c := range el {
		if c.PrivateKey != nil {
			e = c
			break
		}
	}
	if e == nil {
		return nil, fmt.Errorf("%w: no private key", ErrNoKey)
	}
	key, ok := e.SigningKey(now)
	if !ok || key.PrivateKey == nil || key.PrivateKey.Dummy() {
		return nil, fmt.Errorf("%w: %s has no usable private signing key", ErrNoKey, fingerprint(e.PrimaryKey.Fingerprint))
	}
	if key.PrivateKey.Encrypted {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("%w: key %s is encrypted", ErrPassphrase, fingerprint(e.PrimaryKey.Fingerprint))
		}
		if err := key.PrivateKey.Decrypt(passphrase); err != nil {
			return nil, fmt.Errorf("%w: decrypting key %s: %v", ErrPassphrase, fingerprint(e.PrimaryKey.Fingerprint), err)
		}
	}
	return newSigner(e, key)
}

func newSigner(e *openpgp.Entity, key openpgp.Key) (*Signer, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, fmt.Errorf("armoring public key: %w", err)
	}
	if err := e.Serialize(w); err != nil {
		return nil, fmt.Errorf("serializing public key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("armoring public key: %w", err)
	}
	buf.WriteByte('\n')
	return &Signer{entity: e, key: key, pub: buf.Bytes(), clock: time.Now}, nil
}

// GenerateSigner creates a new v4 RSA 3072 key (sign and certify, no expiry,
// SHA-512 then SHA-384 and SHA-256 as preferred hashes, no encryption subkey)
// and returns a Signer for it and the armored, unencrypted private key, which
// the caller must store with mode 0600.
func GenerateSigner(req GenerateRequest) (*Signer, []byte, error) {
	if strings.TrimSpace(req.Name) == "" {
		return nil, nil, errors.New("generating signing key: name is required")
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.Truncate(time.Second) // OpenPGP times have one-second resolution
	cfg := &packet.Config{
		Algorithm:     packet.PubKeyAlgoRSA,
		RSABits:       generatedRSABits,
		DefaultHash:   signatureHash,
		DefaultCipher: packet.CipherAES256,
		Time:          func() time.Time { return now },
	}
	e, err := openpgp.NewEntity(req.Name, "", req.Email, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("generating signing key: %w", err)
	}
	e.Subkeys = nil // a repository key only signs
	for _, id := range e.Identities {
		id.SelfSignature.PreferredHash = []uint8{10, 9, 8} // SHA-512, SHA-384, SHA-256 (RFC 4880 §9.4)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("armoring private key: %w", err)
	}
	if err := e.SerializePrivate(w, cfg); err != nil { // re-signs the identities
		return nil, nil, fmt.Errorf("serializing private key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, nil, fmt.Errorf("armoring private key: %w", err)
	}
	buf.WriteByte('\n')
	// Read the key back, so the Signer is exactly what a later load returns.
	s, err := readSigner(buf.Bytes(), nil, now)
	if err != nil {
		return nil, nil, fmt.Errorf("reading generated key: %w", err)
	}
	return s, buf.Bytes(), nil
}

// WithClock returns a Signer that dates its signatures with clock instead of
// time.Now, for reproducible output. Signatures are deterministic: the same
// data signed at the same second gives the same bytes.
func (s *Signer) WithClock(clock func() time.Time) *Signer {
	c := *s
	c.clock = clock
	return &c
}

// Fingerprint returns the primary key's fingerprint as upper-case hex.
func (s *Signer) Fingerprint() string {
	return fingerprint(s.entity.PrimaryKey.Fingerprint)
}

// PublicKey returns the armored public key ("-----BEGIN PGP PUBLIC KEY
// BLOCK-----"), as published at key.asc for apt's signed-by and dnf's gpgkey.
func (s *Signer) PublicKey() []byte {
	return bytes.Clone(s.pub)
}

func (s *Signer) config() *packet.Config {
	det := false
	now := s.clock().Truncate(time.Second)
	return &packet.Config{
		DefaultHash:                           signatureHash,
		Time:                                  func() time.Time { return now },
		SigningKeyId:                          s.key.PublicKey.KeyId,
		NonDeterministicSignaturesViaNotation: &det,
	}
}

// DetachSign returns an ASCII-armored detached binary signature
// ("-----BEGIN PGP SIGNATURE-----") over data, as repomd.xml.asc and
// Release.gpg need.
func (s *Signer) DetachSign(ctx context.Context, data []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&buf, s.entity, bytes.NewReader(data), s.config()); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// ClearSign returns data as a cleartext-signed message (Debian's InRelease)
// with a SHA-512 text signature, laid out as GnuPG does. Lines starting with
// "-" are dash-escaped. As RFC 4880 §7.1 prescribes, trailing spaces, tabs
// and carriage returns on each line are not covered by the signature, so they
// are dropped from the output too, and a final "\n" is the last line's
// terminator (data without one is signed the same way). For data with no
// trailing blanks that ends in "\n", VerifyClearsigned and "gpg --decrypt"
// both return data exactly.
//
// The signature armor carries the CRC-24 line, which GnuPG 2.2's gpgv needs
// in a clearsigned message (go-crypto's clearsign package omits it).
func (s *Signer) ClearSign(ctx context.Context, data []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	text := bytes.TrimSuffix(data, []byte("\n"))
	var body, canonical bytes.Buffer
	for i, line := range bytes.Split(text, []byte("\n")) {
		line = bytes.TrimRight(line, " \t\r")
		if i > 0 {
			canonical.WriteString("\r\n")
		}
		canonical.Write(line)
		if bytes.HasPrefix(line, []byte("-")) {
			body.WriteString("- ")
		}
		body.Write(line)
		body.WriteByte('\n')
	}
	var sig bytes.Buffer
	if err := openpgp.DetachSignText(&sig, s.entity, &canonical, s.config()); err != nil {
		return nil, fmt.Errorf("clearsigning: %w", err)
	}
	p, err := packet.Read(bytes.NewReader(sig.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("clearsigning: reading back signature: %w", err)
	}
	sp, ok := p.(*packet.Signature)
	if !ok {
		return nil, fmt.Errorf("clearsigning: unexpected %T packet", p)
	}
	hashName, ok := hashHeaderName(sp.Hash)
	if !ok {
		return nil, fmt.Errorf("clearsigning: no Hash header name for %v", sp.Hash)
	}
	var out bytes.Buffer
	out.WriteString(beginSigned + "\nHash: " + hashName + "\n\n")
	out.Write(body.Bytes())
	w, err := armor.Encode(&out, openpgp.SignatureType, nil)
	if err != nil {
		return nil, fmt.Errorf("clearsigning: %w", err)
	}
	if _, err := w.Write(sig.Bytes()); err != nil {
		return nil, fmt.Errorf("clearsigning: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("clearsigning: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// hashHeaderName is the inverse of hashNames.
func hashHeaderName(h crypto.Hash) (string, bool) {
	for name, x := range hashNames {
		if x == h {
			return name, true
		}
	}
	return "", false
}

// Key file names inside LoadOrGenerate's directory.
const (
	privateKeyFile = "signing.asc"
	publicKeyFile  = "signing.pub.asc"
)

// LoadOrGenerate returns the persistent signing key kept in dir (a
// deployment's base_path/keys). If dir/signing.asc exists it is loaded;
// otherwise a key is generated from req and stored there (mode 0600, dir
// 0700) with a temporary file, fsync and an exclusive link, so a concurrent
// caller never replaces a key that another one already returned. The public
// key is (re)written to dir/signing.pub.asc whenever it is missing or stale.
// Every later call returns the same key: clients' trust must not change on
// every publish. A stored key that is encrypted fails with ErrPassphrase; use
// LoadSigner for those. req is only used when a key is generated.
func LoadOrGenerate(dir string, req GenerateRequest) (*Signer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating key directory: %w", err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("creating key directory: %w", err)
	} else if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("restricting key directory: %w", err)
		}
	}
	privPath := filepath.Join(dir, privateKeyFile)
	s, err := LoadSigner(privPath, nil)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrNotExist):
		gen, armored, gerr := GenerateSigner(req)
		if gerr != nil {
			return nil, gerr
		}
		created, werr := writeExclusive(privPath, armored)
		if werr != nil {
			return nil, fmt.Errorf("storing signing key: %w", werr)
		}
		s = gen
		if !created { // someone else stored one first: theirs is the key
			if s, err = LoadSigner(privPath, nil); err != nil {
				return nil, err
			}
		}
	default:
		return nil, err
	}
	pubPath := filepath.Join(dir, publicKeyFile)
	if old, err := os.ReadFile(pubPath); err != nil || !bytes.Equal(old, s.pub) {
		if err := writeAtomic(pubPath, s.pub, 0o644); err != nil {
			return nil, fmt.Errorf("storing public key: %w", err)
		}
	}
	return s, nil
}

// writeExclusive stores data at path only if path does not exist yet,
// reporting whether it did. The file is complete and synced before it
// appears under its name.
func writeExclusive(path string, data []byte) (created bool, err error) {
	tmp, err := writeTemp(path, data, 0o600)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp) // the link below leaves a second name behind
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, atomicfile.Sync(filepath.Dir(path))
}

// writeAtomic replaces path with data by temporary file, fsync and rename.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp) // best effort; the rename error is the one to report
		return err
	}
	return atomicfile.Sync(filepath.Dir(path))
}

// writeTemp writes data to a synced temporary file beside path.
func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(name) // best effort; err is the one to report
		return "", err
	}
	return name, nil
}
