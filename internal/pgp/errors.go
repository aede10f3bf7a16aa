// Package pgp signs published metadata and verifies upstream signatures with
// OpenPGP (RFC 4880 / RFC 9580), on top of github.com/ProtonMail/go-crypto.
//
// Signing: a Signer makes ASCII-armored detached signatures (repomd.xml.asc,
// Release.gpg) and cleartext-signed messages (InRelease). LoadOrGenerate keeps
// one generated key per installation, so clients' trust survives every publish.
//
// Verification: a Keyring holds trusted public keys (armored or binary, as
// shipped in /usr/share/keyrings), optionally narrowed to pinned fingerprints.
// A signature counts only when it is made by a key of the keyring, with a
// strong hash (never MD5 or SHA-1), by a key that is neither expired nor
// revoked at the time the caller passes in. VerifyClearsigned returns exactly
// the signed text, so callers parse nothing that the signature does not cover.
//
// Fingerprints are upper-case hexadecimal strings without spaces; go-crypto
// types never appear in this package's API.
package pgp

import "errors"

var (
	// ErrBadSignature is returned by VerifyDetached and VerifyClearsigned when a
	// signature made by a key of the keyring does not match the signed bytes.
	ErrBadSignature = errors.New("pgp: bad signature")

	// ErrUnknownKey is returned by VerifyDetached and VerifyClearsigned when no
	// signature was made by a key of the (pinned) keyring.
	ErrUnknownKey = errors.New("pgp: signature by unknown key")

	// ErrExpiredKey is returned by VerifyDetached and VerifyClearsigned when the
	// only signatures by keys of the keyring were made by keys (or subkeys) that
	// are expired at the given time.
	ErrExpiredKey = errors.New("pgp: signing key expired")

	// ErrExpiredSignature is returned by VerifyDetached and VerifyClearsigned
	// when the only signatures by keys of the keyring carry an expiration time
	// that has passed at the given time.
	ErrExpiredSignature = errors.New("pgp: signature expired")

	// ErrRevokedKey is returned by VerifyDetached and VerifyClearsigned when the
	// only signatures by keys of the keyring were made by revoked keys.
	ErrRevokedKey = errors.New("pgp: signing key revoked")

	// ErrWeakHash is returned by VerifyDetached and VerifyClearsigned when the
	// only signatures by keys of the keyring use MD5, SHA-1 or RIPEMD-160. These
	// are refused as apt 2.x refuses them: a SHA-1 collision lets an attacker
	// move a signature to other bytes.
	ErrWeakHash = errors.New("pgp: signature uses a weak hash algorithm")

	// ErrNotSigned is returned by VerifyClearsigned when the message is not a
	// cleartext-signed message at all (for example an unsigned Release file or a
	// captive portal's HTML page).
	ErrNotSigned = errors.New("pgp: message is not clearsigned")

	// ErrMalformed is returned by VerifyDetached and VerifyClearsigned when the
	// signature or the cleartext framing cannot be parsed or carries unsigned
	// content: text before or after the signed block, a second block, an
	// unescaped dash line, an unknown armor header, or packets that are not
	// signatures.
	ErrMalformed = errors.New("pgp: malformed signature")

	// ErrPassphrase is returned by LoadSigner and LoadOrGenerate when a private
	// key is encrypted and the passphrase is missing or wrong.
	ErrPassphrase = errors.New("pgp: missing or wrong passphrase")

	// ErrNoKey is returned by ReadKeyring, LoadKeyring and LoadSigner when the
	// input holds no usable key, and by LoadSigner when no private key can sign.
	ErrNoKey = errors.New("pgp: no usable key")
)

// A PinError reports a fingerprint pin that is malformed or matches no key of
// the keyring. It is returned by Keyring.Pin.
type PinError struct {
	Pin    string // as given by the caller
	Reason string // "too short", "not hexadecimal", "matches no key" …
}

func (e *PinError) Error() string {
	return "pgp: pin " + e.Pin + ": " + e.Reason
}
