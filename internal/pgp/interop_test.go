package pgp

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The interop tests drive the real GnuPG tools (gpg, gpgv) that apt, rpm and
// librepo rely on. They skip when a tool is missing, unless CHANTAL_E2E is
// "require" (CI), where a missing tool fails the test.

// needTool returns the path of a required external tool.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CHANTAL_E2E") == "require" {
			t.Fatalf("%s not found and CHANTAL_E2E=require: %v", name, err)
		}
		t.Skipf("%s not found (install gnupg, or set CHANTAL_E2E=require to make this fatal)", name)
	}
	return p
}

// gnupg is a throw-away GnuPG home directory.
type gnupg struct {
	t    *testing.T
	home string
}

func newGnuPG(t *testing.T) *gnupg {
	t.Helper()
	needTool(t, "gpg")
	// A short path: gpg-agent's socket path must fit in sun_path.
	home, err := os.MkdirTemp("", "chgpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	g := &gnupg{t: t, home: home}
	t.Cleanup(func() {
		if p, err := exec.LookPath("gpgconf"); err == nil {
			cmd := exec.Command(p, "--kill", "all")
			cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
			_ = cmd.Run() // best effort: the agent exits by itself once its home is gone
		}
		if err := os.RemoveAll(home); err != nil {
			t.Errorf("removing GNUPGHOME: %v", err)
		}
	})
	return g
}

// run executes a GnuPG tool in g's home and returns its stdout; it fails the
// test on a non-zero exit.
func (g *gnupg) run(tool string, stdin []byte, args ...string) []byte {
	g.t.Helper()
	out, stderr, err := g.try(tool, stdin, args...)
	if err != nil {
		g.t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, stderr)
	}
	return out
}

func (g *gnupg) try(tool string, stdin []byte, args ...string) (stdout, stderr []byte, err error) {
	g.t.Helper()
	path := needTool(g.t, tool)
	cmd := exec.Command(path, append([]string{"--homedir", g.home}, args...)...)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+g.home, "LC_ALL=C")
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}

func (g *gnupg) file(name string, data []byte) string {
	g.t.Helper()
	p := filepath.Join(g.home, name)
	writeFile(g.t, p, data)
	return p
}

// genKey makes a key with gpg and returns its primary fingerprint.
func (g *gnupg) genKey(algo, passphrase string) string {
	g.t.Helper()
	g.run("gpg", nil, "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase,
		"--quick-gen-key", "Interop "+algo+" <interop@example.org>", algo, "sign", "never")
	for _, line := range strings.Split(string(g.run("gpg", nil, "--with-colons", "--list-secret-keys")), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" && len(f) > 9 {
			return f[9]
		}
	}
	g.t.Fatal("no fingerprint in gpg --list-secret-keys")
	return ""
}

const interopText = "Origin: chantal-lite\nLabel: interop\n-----BEGIN PGP SIGNATURE-----\n- dash\nFrom here\n\nSHA256:\n abc 1 main/Packages\n"

func TestInteropGpgvVerifiesOurSignatures(t *testing.T) {
	needTool(t, "gpgv")
	g := newGnuPG(t)
	s, _ := testSigner(t)
	s = s.WithClock(time.Now)
	keyring := g.file("ours.gpg", dearmor(t, s.PublicKey()))
	data := g.file("Release", []byte(interopText))
	ctx := context.Background()

	sig, err := s.DetachSign(ctx, []byte(interopText))
	if err != nil {
		t.Fatal(err)
	}
	g.run("gpgv", nil, "--keyring", keyring, g.file("Release.gpg", sig), data)

	msg, err := s.ClearSign(ctx, []byte(interopText))
	if err != nil {
		t.Fatal(err)
	}
	inRelease := g.file("InRelease", msg)
	g.run("gpgv", nil, "--keyring", keyring, inRelease)

	// Tampering is caught by gpgv too (the test checks that gpgv can fail).
	bad := g.file("InRelease.bad", bytes.Replace(msg, []byte("interop"), []byte("interup"), 1))
	if _, _, err := g.try("gpgv", nil, "--keyring", keyring, bad); err == nil {
		t.Error("gpgv accepted a tampered InRelease")
	}

	g.run("gpg", nil, "--batch", "--import", g.file("ours.asc", s.PublicKey()))
	status := filepath.Join(g.home, "status")
	out := g.run("gpg", nil, "--batch", "--status-file", status, "--decrypt", inRelease)
	if diff := cmp.Diff(interopText, string(out)); diff != "" {
		t.Errorf("gpg --decrypt payload (-want +got):\n%s", diff)
	}
	st, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(st, []byte("[GNUPG:] VALIDSIG "+s.Fingerprint())) {
		t.Errorf("gpg --decrypt status lacks VALIDSIG %s:\n%s", s.Fingerprint(), st)
	}
	if !bytes.Contains(st, []byte("[GNUPG:] GOODSIG ")) {
		t.Errorf("gpg --decrypt status lacks GOODSIG:\n%s", st)
	}
}

func TestInteropWeVerifyGnuPGSignatures(t *testing.T) {
	for _, algo := range []string{"ed25519", "rsa3072"} {
		t.Run(algo, func(t *testing.T) {
			g := newGnuPG(t)
			fpr := g.genKey(algo, "")
			k, err := ReadKeyring(g.run("gpg", nil, "--export", fpr))
			if err != nil {
				t.Fatalf("ReadKeyring(gpg --export): %v", err)
			}
			if diff := cmp.Diff([]string{fpr}, k.Fingerprints()); diff != "" {
				t.Fatalf("fingerprints (-want +got):\n%s", diff)
			}
			if k, err = k.Pin([]string{fpr[24:]}); err != nil {
				t.Fatal(err)
			}
			data := g.file("Release", []byte(interopText))
			now := time.Now().Add(time.Minute)

			for _, args := range [][]string{
				{"--detach-sign", "--armor"},
				{"--detach-sign"},
				{"--detach-sign", "--textmode", "--armor"},
			} {
				sig := g.run("gpg", nil, append(append([]string{"--batch", "--yes", "-o", "-"}, args...), data)...)
				got, err := k.VerifyDetached([]byte(interopText), sig, now)
				if err != nil {
					t.Errorf("gpg %v: %v", args, err)
					continue
				}
				if got.KeyFingerprint != fpr {
					t.Errorf("gpg %v: signer %s, want %s", args, got.KeyFingerprint, fpr)
				}
				if _, err := k.VerifyDetached([]byte(interopText+"x"), sig, now); !errors.Is(err, ErrBadSignature) {
					t.Errorf("gpg %v over other data: err = %v, want ErrBadSignature", args, err)
				}
			}

			msg := g.run("gpg", nil, "--batch", "--yes", "-o", "-", "--clearsign", data)
			payload, sig, err := k.VerifyClearsigned(msg, now)
			if err != nil {
				t.Fatalf("gpg --clearsign: %v\n%s", err, msg)
			}
			if diff := cmp.Diff(interopText, string(payload)); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
			if sig.KeyFingerprint != fpr {
				t.Errorf("signer %s, want %s", sig.KeyFingerprint, fpr)
			}
			if algo == "rsa3072" { // gpg refuses SHA-1 with EdDSA keys
				weak := g.run("gpg", nil, "--batch", "--yes", "--digest-algo", "SHA1", "-o", "-", "--detach-sign", data)
				if _, err := k.VerifyDetached([]byte(interopText), weak, now); !errors.Is(err, ErrWeakHash) {
					t.Errorf("SHA-1 signature: err = %v, want ErrWeakHash", err)
				}
			}
		})
	}
}

func TestInteropLoadGnuPGSecretKey(t *testing.T) {
	needTool(t, "gpgv")
	g := newGnuPG(t)
	const pass = "interop passphrase"
	fpr := g.genKey("ed25519", pass)
	secret := g.run("gpg", nil, "--batch", "--pinentry-mode", "loopback", "--passphrase", pass,
		"--armor", "--export-secret-keys", fpr)
	p := g.file("secret.asc", secret)
	if _, err := LoadSigner(p, nil); !errors.Is(err, ErrPassphrase) {
		t.Errorf("no passphrase: err = %v, want ErrPassphrase", err)
	}
	s, err := LoadSigner(p, []byte(pass))
	if err != nil {
		t.Fatalf("LoadSigner(gpg secret key): %v", err)
	}
	if s.Fingerprint() != fpr {
		t.Errorf("fingerprint %s, want %s", s.Fingerprint(), fpr)
	}
	msg, err := s.ClearSign(context.Background(), []byte(interopText))
	if err != nil {
		t.Fatal(err)
	}
	keyring := g.file("pub.gpg", g.run("gpg", nil, "--export", fpr))
	g.run("gpgv", nil, "--keyring", keyring, g.file("InRelease", msg))
}

// TestInteropDebianKeyring reads the binary keyring apt ships (several keys
// concatenated, RSA and Ed25519) and compares it with gpg's own listing.
func TestInteropDebianKeyring(t *testing.T) {
	const path = "/usr/share/keyrings/debian-archive-keyring.gpg" // package debian-archive-keyring
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not installed: %v", path, err)
	}
	g := newGnuPG(t)
	var want []string
	pub := false
	for _, line := range strings.Split(string(g.run("gpg", nil, "--with-colons", "--show-keys", path)), "\n") {
		f := strings.Split(line, ":")
		switch {
		case f[0] == "pub":
			pub = true
		case f[0] == "fpr" && pub && len(f) > 9:
			want = append(want, f[9])
			pub = false
		}
	}
	k, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, k.Fingerprints()); diff != "" {
		t.Errorf("fingerprints (-gpg +ours):\n%s", diff)
	}
	if len(want) > 0 {
		if _, err := k.Pin([]string{want[len(want)-1][24:]}); err != nil {
			t.Errorf("pin by long key ID: %v", err)
		}
	}
}
