package pgp

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// A Signature describes a good signature.
type Signature struct {
	// KeyFingerprint is the primary key's fingerprint (what users pin).
	KeyFingerprint string
	// SigningKeyFingerprint is the fingerprint of the key that made the
	// signature: a signing subkey, or the primary key itself.
	SigningKeyFingerprint string
	// Created is the signature's creation time.
	Created time.Time
}

// VerifyDetached checks a detached signature (ASCII-armored or binary) over
// exactly the bytes signed. It succeeds when at least one signature packet
// was made by a key of k with a strong hash, by a key that is valid at now,
// and no signature by a key of k is cryptographically bad. Signatures by keys
// not in k are ignored. Errors wrap ErrBadSignature, ErrUnknownKey,
// ErrExpiredKey, ErrExpiredSignature, ErrRevokedKey, ErrWeakHash or
// ErrMalformed.
func (k *Keyring) VerifyDetached(signed, sig []byte, now time.Time) (*Signature, error) {
	body, err := signatureBody(sig)
	if err != nil {
		return nil, fmt.Errorf("verifying detached signature: %w", err)
	}
	s, err := k.verify(signed, body, nil, now)
	if err != nil {
		return nil, fmt.Errorf("verifying detached signature: %w", err)
	}
	return s, nil
}

// VerifyClearsigned checks a cleartext-signed message such as Debian's
// InRelease and returns the signed text: the dash-unescaped lines, each ended
// by "\n", with trailing spaces and tabs removed (RFC 4880 §7.1 excludes them
// from the signature, so they are not returned either). This is what
// "gpg --decrypt" prints and the only bytes a caller should parse.
//
// The message must start with the "-----BEGIN PGP SIGNED MESSAGE-----" line
// and end with the signature block; anything else before or after it
// (including a second signed block) is ErrMalformed, and a message without the
// start line is ErrNotSigned. Signatures are judged as in VerifyDetached; a
// signature whose hash is not among the "Hash:" armor headers, when present,
// is ErrMalformed.
func (k *Keyring) VerifyClearsigned(msg []byte, now time.Time) (payload []byte, sig *Signature, err error) {
	cs, err := parseClearsigned(msg)
	if err != nil {
		return nil, nil, fmt.Errorf("verifying clearsigned message: %w", err)
	}
	body, err := signatureBody(cs.armored)
	if err != nil {
		return nil, nil, fmt.Errorf("verifying clearsigned message: %w", err)
	}
	s, err := k.verify(cs.canonical, body, cs.hashes, now)
	if err != nil {
		return nil, nil, fmt.Errorf("verifying clearsigned message: %w", err)
	}
	return cs.payload, s, nil
}

// signatureBody returns the binary packets of an armored or binary signature.
func signatureBody(sig []byte) ([]byte, error) {
	trimmed := bytes.TrimLeft(sig, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP ")) {
		if len(sig) == 0 {
			return nil, fmt.Errorf("%w: empty signature", ErrMalformed)
		}
		return sig, nil
	}
	end := bytes.Index(trimmed, []byte("-----END PGP SIGNATURE-----"))
	if end < 0 {
		return nil, fmt.Errorf("%w: armored signature has no end line", ErrMalformed)
	}
	if rest := bytes.TrimSpace(trimmed[end+len("-----END PGP SIGNATURE-----"):]); len(rest) != 0 {
		return nil, fmt.Errorf("%w: content after the signature block", ErrMalformed)
	}
	b, err := armor.Decode(bytes.NewReader(trimmed))
	if err != nil {
		return nil, fmt.Errorf("%w: decoding armor: %v", ErrMalformed, err)
	}
	if b.Type != openpgp.SignatureType {
		return nil, fmt.Errorf("%w: armored block is %q, want %q", ErrMalformed, b.Type, openpgp.SignatureType)
	}
	body, err := io.ReadAll(b.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: decoding armor: %v", ErrMalformed, err)
	}
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty signature", ErrMalformed)
	}
	return body, nil
}

// weakHashes are never accepted in a signature over data.
var weakHashes = map[crypto.Hash]bool{crypto.MD5: true, crypto.SHA1: true, crypto.RIPEMD160: true}

// verify checks every signature packet in body over signed. allowedHashes,
// when non-nil, lists the hashes a clearsigned message's headers announced.
func (k *Keyring) verify(signed, body []byte, allowedHashes []crypto.Hash, now time.Time) (*Signature, error) {
	packets := packet.NewReader(bytes.NewReader(body))
	var (
		good    *Signature
		seen    int
		soft    error // best reason a known key's signature did not count
		unknown []string
	)
	for {
		p, err := packets.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		sig, ok := p.(*packet.Signature)
		if !ok {
			return nil, fmt.Errorf("%w: unexpected %T packet", ErrMalformed, p)
		}
		seen++
		if sig.SigType != packet.SigTypeBinary && sig.SigType != packet.SigTypeText {
			return nil, fmt.Errorf("%w: signature type %#x is not a document signature", ErrMalformed, sig.SigType)
		}
		keys := k.keysFor(sig)
		if len(keys) == 0 {
			unknown = append(unknown, issuerString(sig))
			continue
		}
		if allowedHashes != nil && !hashIn(sig.Hash, allowedHashes) {
			return nil, fmt.Errorf("%w: signature hash %v is not announced in the Hash header", ErrMalformed, sig.Hash)
		}
		if weakHashes[sig.Hash] {
			soft = preferErr(soft, fmt.Errorf("%w: %v by %s", ErrWeakHash, sig.Hash, issuerString(sig)))
			continue
		}
		key, err := checkCrypto(keys, sig, signed)
		if err != nil {
			return nil, err
		}
		if err := checkValidity(key, sig, now); err != nil {
			soft = preferErr(soft, err)
			continue
		}
		if good == nil {
			good = &Signature{
				KeyFingerprint:        fingerprint(key.Entity.PrimaryKey.Fingerprint),
				SigningKeyFingerprint: fingerprint(key.PublicKey.Fingerprint),
				Created:               sig.CreationTime,
			}
		}
	}
	switch {
	case good != nil:
		return good, nil
	case soft != nil:
		return nil, soft
	case seen == 0:
		return nil, fmt.Errorf("%w: no supported signature packet", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: issuer %v", ErrUnknownKey, unknown)
	}
}

// preferErr keeps the first reason; later ones add nothing a caller acts on.
func preferErr(old, err error) error {
	if old != nil {
		return old
	}
	return err
}

func hashIn(h crypto.Hash, hs []crypto.Hash) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

// keysFor returns the signing-capable keys of k that may have made sig.
func (k *Keyring) keysFor(sig *packet.Signature) []openpgp.Key {
	var id uint64
	switch {
	case sig.IssuerKeyId != nil:
		id = *sig.IssuerKeyId
	case len(sig.IssuerFingerprint) == 20: // v4: key ID is the low 64 bits
		id = binary.BigEndian.Uint64(sig.IssuerFingerprint[12:])
	case len(sig.IssuerFingerprint) >= 8: // v5/v6: the high 64 bits
		id = binary.BigEndian.Uint64(sig.IssuerFingerprint[:8])
	default:
		return nil
	}
	var out []openpgp.Key
	for _, key := range k.entities.KeysByIdUsage(id, packet.KeyFlagSign) {
		if len(sig.IssuerFingerprint) > 0 && !bytes.Equal(sig.IssuerFingerprint, key.PublicKey.Fingerprint) {
			continue
		}
		out = append(out, key)
	}
	return out
}

func issuerString(sig *packet.Signature) string {
	switch {
	case len(sig.IssuerFingerprint) > 0:
		return fingerprint(sig.IssuerFingerprint)
	case sig.IssuerKeyId != nil:
		return fmt.Sprintf("%016X", *sig.IssuerKeyId)
	}
	return "(no issuer)"
}

// checkCrypto verifies sig over signed with the first key that accepts it.
// A signature that no candidate key accepts is ErrBadSignature.
func checkCrypto(keys []openpgp.Key, sig *packet.Signature, signed []byte) (openpgp.Key, error) {
	for _, n := range sig.Notations {
		if n.IsCritical {
			return openpgp.Key{}, fmt.Errorf("%w: unknown critical notation %q", ErrBadSignature, n.Name)
		}
	}
	var lastErr error
	for _, key := range keys {
		h, err := sig.PrepareVerify()
		if err != nil {
			return openpgp.Key{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		var w hash.Hash = h
		if sig.SigType == packet.SigTypeText {
			w = openpgp.NewCanonicalTextHash(h)
		}
		if _, err := w.Write(signed); err != nil {
			return openpgp.Key{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		if lastErr = key.PublicKey.VerifySignature(h, sig); lastErr == nil {
			return key, nil
		}
	}
	return openpgp.Key{}, fmt.Errorf("%w: by %s: %v", ErrBadSignature, issuerString(sig), lastErr)
}

// checkValidity rejects revoked and expired keys and expired signatures at
// now. A key or signature dated after now is not rejected: clock skew between
// a mirror and its upstream is common and the caller checks Date/Valid-Until.
func checkValidity(key openpgp.Key, sig *packet.Signature, now time.Time) error {
	e := key.Entity
	primarySig, primaryID := e.PrimarySelfSignature()
	bySubkey := key.PublicKey != e.PrimaryKey
	if e.Revoked(now) || (bySubkey && key.Revoked(now)) || (primaryID != nil && primaryID.Revoked(now)) {
		return fmt.Errorf("%w: %s", ErrRevokedKey, fingerprint(key.PublicKey.Fingerprint))
	}
	if primarySig == nil {
		return fmt.Errorf("%w: %s has no valid self-signature", ErrBadSignature, fingerprint(e.PrimaryKey.Fingerprint))
	}
	if expired(e.PrimaryKey.CreationTime, primarySig.KeyLifetimeSecs, now) {
		return fmt.Errorf("%w: %s", ErrExpiredKey, fingerprint(e.PrimaryKey.Fingerprint))
	}
	if bySubkey && key.SelfSignature != nil && expired(key.PublicKey.CreationTime, key.SelfSignature.KeyLifetimeSecs, now) {
		return fmt.Errorf("%w: subkey %s", ErrExpiredKey, fingerprint(key.PublicKey.Fingerprint))
	}
	if expired(sig.CreationTime, sig.SigLifetimeSecs, now) {
		return fmt.Errorf("%w: made %s by %s", ErrExpiredSignature, sig.CreationTime.UTC().Format(time.RFC3339), issuerString(sig))
	}
	return nil
}

func expired(created time.Time, lifetime *uint32, now time.Time) bool {
	if lifetime == nil || *lifetime == 0 {
		return false
	}
	return now.After(created.Add(time.Duration(*lifetime) * time.Second))
}
