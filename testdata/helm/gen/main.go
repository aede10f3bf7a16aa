// Command gen builds the Helm fixtures under testdata/helm: chart archives
// packaged in pure Go, upstream index files (relative URLs with prefixed,
// bare, missing and non-string digests and bad entries; absolute and oci://
// URLs as a template), a provenance file for one chart signed with a generated
// key, and that key as a binary keyring (what helm --keyring reads) and armored.
//
// Run from the module root: go run ./testdata/helm/gen -out testdata/helm
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/chantal-lite/chantal/internal/pgp"
)

// mtime is the fixed modification time of every archive member.
var mtime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type chart struct {
	name, version, extra string
}

func main() {
	out := flag.String("out", "testdata/helm", "output directory")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	charts := []chart{
		{"alpha", "0.1.0", ""},
		{"alpha", "0.2.0", ""},
		{"alpha", "1.0.0-rc.1", ""},
		{"alpha", "1.0.0", ""},
		{"beta", "1.0.0", "deprecated: true\n"},
		{"beta", "2.1.0", ""},
		{"gamma", "0.1.0", ""},
		{"zeta", "0.1.0", ""},
		{"eta", "0.1.0", ""},
		{"delta", "3.0.0", ""},   // served by the in-test OCI registry
		{"epsilon", "1.0.0", ""}, // served by a second host
	}
	for _, d := range []string{"repo/charts", "remote", "oci"} {
		if err := os.RemoveAll(filepath.Join(out, d)); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return err
		}
	}
	sums := map[string]string{}
	meta := map[string][]byte{}
	for _, c := range charts {
		cy := chartYAML(c)
		tgz, err := pack(c, cy)
		if err != nil {
			return err
		}
		file := c.name + "-" + c.version + ".tgz"
		s := sha256.Sum256(tgz)
		sums[file] = hex.EncodeToString(s[:])
		meta[file] = cy
		dir := "repo/charts"
		switch c.name {
		case "delta":
			dir = "oci"
		case "epsilon":
			dir = "remote"
		}
		if err := os.WriteFile(filepath.Join(out, dir, file), tgz, 0o644); err != nil {
			return err
		}
	}

	// Provenance for gamma, signed with a fresh key (helm's format: Chart.yaml,
	// "...", files: name → sha256:hex, cleartext-signed).
	signer, _, err := pgp.GenerateSigner(pgp.GenerateRequest{Name: "chantal-lite helm fixtures", Email: "fixtures@invalid", Now: mtime})
	if err != nil {
		return err
	}
	signer = signer.WithClock(func() time.Time { return mtime })
	body := append(append([]byte{}, meta["gamma-0.1.0.tgz"]...), fmt.Sprintf("\n...\nfiles:\n  gamma-0.1.0.tgz: sha256:%s\n", sums["gamma-0.1.0.tgz"])...)
	prov, err := signer.ClearSign(context.Background(), body)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "repo/charts/gamma-0.1.0.tgz.prov"), prov, 0o644); err != nil {
		return err
	}
	pub := signer.PublicKey()
	if err := os.WriteFile(filepath.Join(out, "key.asc"), pub, 0o644); err != nil {
		return err
	}
	blk, err := armor.Decode(bytes.NewReader(pub))
	if err != nil {
		return err
	}
	ring, err := io.ReadAll(blk.Body)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "keyring.gpg"), ring, 0o644); err != nil {
		return err
	}

	if err := os.WriteFile(filepath.Join(out, "repo/index.yaml"), []byte(repoIndex(sums, meta)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "remote/index.yaml.tmpl"), []byte(remoteIndex(sums, meta)), 0o644)
}

func chartYAML(c chart) []byte {
	return []byte(fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\nappVersion: \"%s\"\ndescription: %s fixture chart\ntype: application\n%s",
		c.name, c.version, c.version, c.name, c.extra))
}

// pack builds <name>-<version>.tgz as helm package lays it out.
func pack(c chart, cy []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	files := []struct {
		name string
		data []byte
	}{
		{"Chart.yaml", cy},
		{"values.yaml", []byte("greeting: hello\n")},
		{"templates/configmap.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-" + c.name + "\ndata:\n  greeting: {{ .Values.greeting | quote }}\n")},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: c.name + "/" + f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// entry writes one index entry: Chart.yaml's fields, then created, digest
// (as given, verbatim YAML) and urls.
func entry(meta []byte, digest, url string) string {
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimRight(string(meta), "\n"), "\n") {
		if i == 0 {
			b.WriteString("  - " + line + "\n")
		} else {
			b.WriteString("    " + line + "\n")
		}
	}
	b.WriteString("    created: \"2026-01-02T03:04:05Z\"\n")
	if digest != "" {
		b.WriteString("    digest: " + digest + "\n")
	}
	b.WriteString("    urls:\n      - " + url + "\n")
	return b.String()
}

func repoIndex(sums map[string]string, meta map[string][]byte) string {
	e := func(file, digest string) string { return entry(meta[file], digest, "charts/"+file) }
	var b strings.Builder
	b.WriteString("apiVersion: v1\nentries:\n")
	b.WriteString("  alpha:\n")
	b.WriteString(e("alpha-1.0.0.tgz", sums["alpha-1.0.0.tgz"]))
	b.WriteString(e("alpha-1.0.0-rc.1.tgz", "sha256:"+sums["alpha-1.0.0-rc.1.tgz"]))
	b.WriteString(e("alpha-0.2.0.tgz", sums["alpha-0.2.0.tgz"]))
	b.WriteString(e("alpha-0.1.0.tgz", "sha256:"+sums["alpha-0.1.0.tgz"]))
	b.WriteString("  beta:\n")
	b.WriteString(e("beta-2.1.0.tgz", sums["beta-2.1.0.tgz"]))
	b.WriteString(e("beta-1.0.0.tgz", sums["beta-1.0.0.tgz"]))
	b.WriteString("  broken:\n")
	b.WriteString("  - name: broken\n    version: 1.0\n    digest: " + strings.Repeat("0", 64) + "\n    urls:\n      - charts/broken-1.0.tgz\n")
	b.WriteString("  - name: broken\n    version: 2.0.0\n    digest: " + strings.Repeat("0", 64) + "\n    urls: charts/broken-2.0.0.tgz\n")
	b.WriteString("  eta:\n")
	b.WriteString(e("eta-0.1.0.tgz", "12345"))
	b.WriteString("  gamma:\n")
	b.WriteString(e("gamma-0.1.0.tgz", "sha256:"+sums["gamma-0.1.0.tgz"]))
	b.WriteString("  zeta:\n")
	b.WriteString(e("zeta-0.1.0.tgz", ""))
	b.WriteString("generated: \"2026-01-02T03:04:05Z\"\nserverInfo:\n  contextPath: /\n")
	return b.String()
}

// remoteIndex is a template: @@BASE@@ is the feed URL (with a trailing
// slash), @@OTHER@@ a second host's URL, @@OCI@@ the OCI registry host:port.
func remoteIndex(sums map[string]string, meta map[string][]byte) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nentries:\n")
	b.WriteString("  alpha:\n")
	b.WriteString(entry(meta["alpha-0.2.0.tgz"], sums["alpha-0.2.0.tgz"], "@@BASE@@charts/alpha-0.2.0.tgz"))
	b.WriteString("  delta:\n")
	b.WriteString(entry(meta["delta-3.0.0.tgz"], "sha256:"+sums["delta-3.0.0.tgz"], "oci://@@OCI@@/charts/delta:3.0.0"))
	b.WriteString("  epsilon:\n")
	b.WriteString(entry(meta["epsilon-1.0.0.tgz"], sums["epsilon-1.0.0.tgz"], "@@OTHER@@epsilon-1.0.0.tgz"))
	b.WriteString("generated: \"2026-01-02T03:04:05Z\"\n")
	return b.String()
}
