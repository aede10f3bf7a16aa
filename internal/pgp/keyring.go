package pgp

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// A Keyring is a set of trusted OpenPGP public keys. It is immutable and safe
// for concurrent use.
type Keyring struct {
	entities openpgp.EntityList
}

// ReadKeyring parses public keys. Each element may be ASCII-armored (one or
// more "PGP PUBLIC KEY BLOCK"s) or binary (one or more transferable public
// keys concatenated, like Debian's /usr/share/keyrings/*.gpg). Keys that
// go-crypto cannot use (unsupported algorithms, broken self-signatures) are
// skipped; an element that yields no key at all is an error wrapping ErrNoKey.
// Private key blocks are accepted and only their public part is kept.
func ReadKeyring(data ...[]byte) (*Keyring, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("reading keyring: %w", ErrNoKey)
	}
	var all openpgp.EntityList
	for i, d := range data {
		el, err := readEntities(d)
		if err != nil {
			return nil, fmt.Errorf("reading keyring %d: %w", i, err)
		}
		all = append(all, el...)
	}
	for _, e := range all {
		stripPrivate(e)
	}
	return &Keyring{entities: all}, nil
}

// LoadKeyring reads the files at paths and parses them as ReadKeyring does.
func LoadKeyring(paths ...string) (*Keyring, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("loading keyring: %w", ErrNoKey)
	}
	data := make([][]byte, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("loading keyring: %w", err)
		}
		data = append(data, b)
	}
	k, err := ReadKeyring(data...)
	if err != nil {
		return nil, fmt.Errorf("loading keyring %s: %w", strings.Join(paths, ", "), err)
	}
	return k, nil
}

// Fingerprints returns the primary key fingerprints of the keyring, in the
// order the keys were read, as upper-case hexadecimal.
func (k *Keyring) Fingerprints() []string {
	fps := make([]string, 0, len(k.entities))
	for _, e := range k.entities {
		fps = append(fps, fingerprint(e.PrimaryKey.Fingerprint))
	}
	return fps
}

// Pin returns a keyring holding only the keys whose primary fingerprint, or
// one of whose subkey fingerprints, matches one of pins. A pin is hexadecimal,
// case-insensitive, spaces and a leading "0x" ignored. 40 or 64 digits must
// equal a full fingerprint; 16 to 39 digits must equal its end (a long key
// ID). A shorter pin (short key IDs are trivially forged), an empty list, or
// a pin that matches no key is an error: a *PinError for a single pin.
func (k *Keyring) Pin(pins []string) (*Keyring, error) {
	if len(pins) == 0 {
		return nil, &PinError{Pin: "(none)", Reason: "no fingerprints given"}
	}
	norm := make([]string, len(pins))
	for i, p := range pins {
		n, err := normalizePin(p)
		if err != nil {
			return nil, err
		}
		norm[i] = n
	}
	keep := make([]bool, len(k.entities))
	for i, pin := range norm {
		matched := false
		for j, e := range k.entities {
			if entityMatches(e, pin) {
				keep[j] = true
				matched = true
			}
		}
		if !matched {
			return nil, &PinError{Pin: pins[i], Reason: "matches no key in the keyring"}
		}
	}
	var out openpgp.EntityList
	for j, e := range k.entities {
		if keep[j] {
			out = append(out, e)
		}
	}
	return &Keyring{entities: out}, nil
}

func normalizePin(p string) (string, error) {
	s := strings.ToUpper(strings.Join(strings.Fields(p), ""))
	s = strings.TrimPrefix(s, "0X")
	if _, err := hex.DecodeString(padEven(s)); err != nil || s == "" {
		return "", &PinError{Pin: p, Reason: "not hexadecimal"}
	}
	switch n := len(s); {
	case n < 16:
		return "", &PinError{Pin: p, Reason: "too short: a pin needs at least 16 hex digits (a long key ID)"}
	case n > 40 && n != 64:
		return "", &PinError{Pin: p, Reason: "length must be 16 to 40 or 64 hex digits"}
	}
	return s, nil
}

// padEven lets hex.DecodeString check the digits of an odd-length pin.
func padEven(s string) string {
	if len(s)%2 == 1 {
		return "0" + s
	}
	return s
}

func entityMatches(e *openpgp.Entity, pin string) bool {
	if pinMatches(fingerprint(e.PrimaryKey.Fingerprint), pin) {
		return true
	}
	for _, sk := range e.Subkeys {
		if pinMatches(fingerprint(sk.PublicKey.Fingerprint), pin) {
			return true
		}
	}
	return false
}

func pinMatches(fp, pin string) bool {
	if len(pin) == 40 || len(pin) == 64 {
		return fp == pin
	}
	return strings.HasSuffix(fp, pin)
}

// fingerprint formats a key fingerprint as upper-case hexadecimal.
func fingerprint(b []byte) string {
	return strings.ToUpper(hex.EncodeToString(b))
}

// readEntities parses one armored or binary keyring blob.
func readEntities(d []byte) (openpgp.EntityList, error) {
	if len(d) >= 12 && string(d[8:12]) == "KBXf" {
		return nil, fmt.Errorf("%w: GnuPG keybox format is not supported (export the keys with gpg --export)", ErrNoKey)
	}
	trimmed := bytes.TrimLeft(d, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP ")) {
		el, err := openpgp.ReadKeyRing(bytes.NewReader(d))
		if err != nil || len(el) == 0 {
			return nil, fmt.Errorf("%w: %v", ErrNoKey, errOrEmpty(err))
		}
		return el, nil
	}
	var all openpgp.EntityList
	for _, blk := range splitArmor(trimmed) {
		b, err := armor.Decode(bytes.NewReader(blk))
		if err != nil {
			return nil, fmt.Errorf("%w: decoding armor: %v", ErrNoKey, err)
		}
		if b.Type != openpgp.PublicKeyType && b.Type != openpgp.PrivateKeyType {
			return nil, fmt.Errorf("%w: armored block is %q, want a key block", ErrNoKey, b.Type)
		}
		el, err := openpgp.ReadKeyRing(b.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoKey, err)
		}
		all = append(all, el...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: no key in armored data", ErrNoKey)
	}
	return all, nil
}

func errOrEmpty(err error) string {
	if err != nil {
		return err.Error()
	}
	return "no key found"
}

// splitArmor cuts concatenated armored blocks ("cat a.asc b.asc") apart, since
// armor.Decode reads only the first one.
func splitArmor(d []byte) [][]byte {
	var blocks [][]byte
	for {
		start := bytes.Index(d, []byte("-----BEGIN PGP "))
		if start < 0 {
			return blocks
		}
		d = d[start:]
		end := bytes.Index(d, []byte("-----END PGP "))
		if end < 0 {
			return append(blocks, d)
		}
		closeAt := bytes.Index(d[end+len("-----END PGP "):], []byte("-----"))
		if closeAt < 0 {
			return append(blocks, d)
		}
		cut := end + len("-----END PGP ") + closeAt + len("-----")
		blocks = append(blocks, append(bytes.Clone(d[:cut]), '\n'))
		d = d[cut:]
	}
}

// stripPrivate drops secret material so a Keyring only ever holds public keys.
func stripPrivate(e *openpgp.Entity) {
	e.PrivateKey = nil
	for i := range e.Subkeys {
		e.Subkeys[i].PrivateKey = nil
	}
}
