package apt

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest"
	"github.com/chantal-lite/chantal/internal/pgp"
)

const fixtures = "../../testdata/apt"

// loadTree reads a fixture directory (following symlinks) into a MemFS.
func loadTree(t testing.TB, dir string) *formattest.MemFS {
	t.Helper()
	m := &formattest.MemFS{}
	root := filepath.Join(fixtures, dir)
	var walk func(abs, rel string)
	walk = func(abs, rel string) {
		ents, err := os.ReadDir(abs)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			a, r := filepath.Join(abs, e.Name()), e.Name()
			if rel != "" {
				r = rel + "/" + e.Name()
			}
			st, err := os.Stat(a)
			if err != nil {
				t.Fatal(err)
			}
			if st.IsDir() {
				walk(a, r)
				continue
			}
			b, err := os.ReadFile(a)
			if err != nil {
				t.Fatal(err)
			}
			m.Put(r, b)
		}
	}
	walk(root, "")
	return m
}

// testKeyring verifies with the fixtures' public key.
type testKeyring struct {
	k   *pgp.Keyring
	now time.Time
}

func (k testKeyring) VerifyDetached(signed, sig []byte) error {
	_, err := k.k.VerifyDetached(signed, sig, k.now)
	return err
}

func (k testKeyring) VerifyClearsigned(msg []byte) ([]byte, error) {
	p, _, err := k.k.VerifyClearsigned(msg, k.now)
	return p, err
}

func fixtureKeyring(t testing.TB) formats.Keyring {
	t.Helper()
	kr, err := pgp.LoadKeyring(filepath.Join(fixtures, "fixtures-key.asc"))
	if err != nil {
		t.Fatal(err)
	}
	return testKeyring{kr, time.Now()}
}

func scanAll(t testing.TB, f *Format, req formats.ScanRequest) ([]formats.Item, []formats.File) {
	t.Helper()
	var items []formats.Item
	var files []formats.File
	err := f.Scan(context.Background(), req, func(e formats.Entry) error {
		if e.Item != nil {
			items = append(items, *e.Item)
		} else {
			files = append(files, *e.File)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return items, files
}

func names(items []formats.Item) map[string]int {
	m := map[string]int{}
	for _, it := range items {
		m[it.Name+"="+it.Version]++
	}
	return m
}

func bufioWriter(w io.Writer) *bufio.Writer { return bufio.NewWriter(w) }
