package chantal_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/config"
)

// BenchmarkAPTRepublishUnchanged publishes a hosted apt repository of 20,000
// uploaded packages (CHANTAL_BENCH_APT_ITEMS overrides) once, then measures what a second chantal.Open + Publish of the same state
// costs (the facade's Key short-circuit: nothing is rendered or linked).
func BenchmarkAPTRepublishUnchanged(b *testing.B) {
	ctx := context.Background()
	open, dir := aptBenchConfig(b, `  - id: deb
    type: apt
    mode: hosted
    apt: {distribution: stable, components: [main, contrib], architectures: [amd64, arm64]}`)
	m := open()
	n, _ := uploadBenchDebs(ctx, b, m, dir, "deb")
	if _, err := m.Publish(ctx, chantal.PublishRequest{Repo: "deb"}); err != nil {
		b.Fatal(err)
	}
	m.Close()
	b.ResetTimer()
	for b.Loop() {
		m := open()
		res, err := m.Publish(ctx, chantal.PublishRequest{Repo: "deb"})
		if err != nil || !res.Unchanged {
			b.Fatalf("republish = %+v, %v", res, err)
		}
		m.Close()
	}
	b.ReportMetric(float64(n), "items") // after ResetTimer, which drops reported metrics
}

// BenchmarkAPTRepublishOneChange publishes a hosted apt repository of
// 20,000 uploaded packages (CHANTAL_BENCH_APT_ITEMS overrides; the issue's
// size is 63000) with Packages, .gz and .xz, then, each round, uploads one
// more package and publishes again: the ratios of the republish's wall and
// CPU time to the first publish's, and its file-system operations.
func BenchmarkAPTRepublishOneChange(b *testing.B) {
	ctx := context.Background()
	open, dir := aptBenchConfig(b, `  - id: deb
    type: apt
    mode: hosted
    apt: {distribution: stable, components: [main], architectures: [amd64]}
  - id: warm
    type: apt
    mode: hosted
    apt: {distribution: stable, components: [main], architectures: [amd64]}`)
	m := open()
	defer m.Close()
	n, debs := uploadBenchDebs(ctx, b, m, dir, "deb")
	// The signing key is generated once, by a publish of its own.
	if _, err := m.Upload(ctx, chantal.UploadRequest{Repo: "warm", Files: debs[:1]}); err != nil {
		b.Fatal(err)
	}
	if _, err := m.Publish(ctx, chantal.PublishRequest{Repo: "warm"}); err != nil {
		b.Fatal(err)
	}
	benchRepublish(b, m, "deb", func(round int) {
		deb := writeBenchDeb(b, filepath.Join(dir, "more"), n+round)
		if _, err := m.Upload(ctx, chantal.UploadRequest{Repo: "deb", Files: []string{deb}}); err != nil {
			b.Fatal(err)
		}
	})
}

// aptBenchConfig writes a configuration holding repos (YAML list items)
// below a temporary directory and returns how to open a Mirror on it, and
// the directory.
func aptBenchConfig(b *testing.B, repos string) (open func() *chantal.Mirror, dir string) {
	dir = b.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf("storage:\n  base_path: %s\n  published_path: %s\nrepositories:\n%s\n",
		filepath.Join(dir, "data"), filepath.Join(dir, "pub"), repos)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		b.Fatal(err)
	}
	return func() *chantal.Mirror {
		cfg, err := config.Load(cfgPath, nil)
		if err != nil {
			b.Fatal(err)
		}
		m, err := chantal.Open("", chantal.WithConfig(cfg), chantal.WithNoSync())
		if err != nil {
			b.Fatal(err)
		}
		return m
	}, dir
}

// aptBenchItems is the benchmarks' package count: 20,000, or
// CHANTAL_BENCH_APT_ITEMS.
// uploadBenchDebs writes aptBenchItems() generated packages below dir and
// uploads them to repo; it returns how many and their files.
func uploadBenchDebs(ctx context.Context, b *testing.B, m *chantal.Mirror, dir, repo string) (int, []string) {
	n := aptBenchItems()
	debs := make([]string, 0, n)
	for i := range n {
		debs = append(debs, writeBenchDeb(b, filepath.Join(dir, "debs"), i))
	}
	if _, err := m.Upload(ctx, chantal.UploadRequest{Repo: repo, Files: debs}); err != nil {
		b.Fatal(err)
	}
	return n, debs
}

func aptBenchItems() int {
	if v, err := strconv.Atoi(os.Getenv("CHANTAL_BENCH_APT_ITEMS")); err == nil && v > 0 {
		return v
	}
	return 20000
}

// writeBenchDeb writes a minimal valid .deb (ar: debian-binary, control.tar.gz
// with ./control, empty data.tar.gz) for package bench<i>.
func writeBenchDeb(b *testing.B, dir string, i int) string {
	b.Helper()
	tgz := func(files map[string]string) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		for name, body := range files {
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
			tw.Write([]byte(body))
		}
		tw.Close()
		zw.Close()
		return buf.Bytes()
	}
	arch := "amd64"
	if i%5 == 0 {
		arch = "all"
	}
	ctl := fmt.Sprintf("Package: bench%d\nSource: benchsrc%d\nVersion: 1.%d-1\nArchitecture: %s\nMaintainer: bench <bench@example.invalid>\nInstalled-Size: 1\nDepends: libc6 (>= 2.34)\nSection: libs\nPriority: optional\nDescription: benchmark package %d\n long description line\n", i, i/3, i%17, arch, i)
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		data []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", tgz(map[string]string{"./control": ctl})}, {"data.tar.gz", tgz(nil)}} {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 0, 0, 0, "100644", len(m.data))
		ar.Write(m.data)
		if len(m.data)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(dir, fmt.Sprintf("bench%d_%s.deb", i, arch))
	if err := os.WriteFile(p, ar.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}
