package rpm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/internal/pgp"
)

// pgpKeys adapts a pgp keyring to formats.Keyring.
type pgpKeys struct{ k *pgp.Keyring }

func (p pgpKeys) VerifyDetached(signed, sig []byte) error {
	_, err := p.k.VerifyDetached(signed, sig, time.Now())
	return err
}

func (p pgpKeys) VerifyClearsigned(msg []byte) ([]byte, error) {
	b, _, err := p.k.VerifyClearsigned(msg, time.Now())
	return b, err
}

func fixtureKeys(t testing.TB) pgpKeys {
	t.Helper()
	k, err := pgp.LoadKeyring(filepath.Join(fixtures, "RPM-GPG-KEY-fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	return pgpKeys{k}
}

func readPkg(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "repo", "Packages", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyPackage(t *testing.T) {
	ctx := context.Background()
	f := New(nil)
	keys := fixtureKeys(t)
	signed := readPkg(t, "greet-data-0.5-3.noarch.rpm")
	if err := f.VerifyPackage(ctx, bytes.NewReader(signed), int64(len(signed)), keys); err != nil {
		t.Fatalf("signed fixture: %v", err)
	}
	unsigned := readPkg(t, "hello-1.1-1.x86_64.rpm")
	if err := f.VerifyPackage(ctx, bytes.NewReader(unsigned), int64(len(unsigned)), keys); !errors.Is(err, ErrUnsigned) {
		t.Errorf("unsigned package: %v, want ErrUnsigned", err)
	}

	_, start, end, err := readHeaders(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(at int64) []byte {
		b := bytes.Clone(signed)
		b[at] ^= 0x01
		return b
	}
	for name, b := range map[string][]byte{
		"payload byte":     flip(int64(len(signed)) - 10),
		"main header byte": flip(end - 3),
		"header data":      flip(start + (end-start)/2),
		"truncated":        signed[:len(signed)-1],
	} {
		if err := f.VerifyPackage(ctx, bytes.NewReader(b), int64(len(b)), keys); err == nil {
			t.Errorf("%s changed: package verified", name)
		}
	}

	// A key that did not sign it.
	other, _, err := pgp.GenerateSigner(pgp.GenerateRequest{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	ok, err := pgp.ReadKeyring(other.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.VerifyPackage(ctx, bytes.NewReader(signed), int64(len(signed)), pgpKeys{ok}); err == nil {
		t.Error("package verified with a key that did not sign it")
	}
	if err := f.VerifyPackage(ctx, bytes.NewReader([]byte("junk")), 4, keys); !errors.Is(err, ErrMalformed) {
		t.Errorf("junk: %v, want ErrMalformed", err)
	}
	if got := f.UpstreamKeyPath("epel9"); got != "RPM-GPG-KEY-epel9" {
		t.Errorf("UpstreamKeyPath = %q", got)
	}
}
