package formats_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/formattest"
	testformat "github.com/chantal-lite/chantal/formats/formattest/lines"
	"github.com/chantal-lite/chantal/internal/verify"
	"github.com/chantal-lite/chantal/pool"
)

type named struct {
	testformat.Format
	name string
}

func (n named) Name() string { return n.name }

func TestRegistry(t *testing.T) {
	r, err := formats.NewRegistry(named{name: "b"}, named{name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Names(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("Names() = %v", got)
	}
	if f, err := r.Lookup("a"); err != nil || f.Name() != "a" {
		t.Errorf("Lookup(a) = %v, %v", f, err)
	}
	if _, err := r.Lookup("zz"); !errors.Is(err, formats.ErrUnknownFormat) {
		t.Errorf("Lookup(zz) err = %v, want ErrUnknownFormat", err)
	}
	for _, bad := range [][]formats.Format{
		{named{name: "a"}, named{name: "a"}},
		{named{name: ""}},
		{named{name: "A/b"}},
		{nil},
	} {
		if _, err := formats.NewRegistry(bad...); err == nil {
			t.Errorf("NewRegistry(%v) succeeded, want error", bad)
		}
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]formats.Mode{"": formats.ModeFiltered, "mirror": formats.ModeMirror, "hosted": formats.ModeHosted, "filtered": formats.ModeFiltered} {
		if got, err := formats.ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := formats.ParseMode("Mirror"); err == nil {
		t.Error("ParseMode(Mirror) succeeded")
	}
}

func TestOpenFileVerifies(t *testing.T) {
	fs := &formattest.MemFS{}
	fs.Put("a", []byte("hello"))
	good := pool.Sum([]byte("hello")).String()
	ctx := context.Background()
	cases := []struct {
		name string
		f    formats.File
		want error
	}{
		{"ok", formats.File{Path: "a", Size: 5, Checksums: formats.Checksums{"sha256": good}}, nil},
		{"wrong sum", formats.File{Path: "a", Checksums: formats.Checksums{"sha256": pool.Sum([]byte("x")).String()}}, &verify.ChecksumError{}},
		{"wrong size", formats.File{Path: "a", Size: 4, Checksums: formats.Checksums{"sha256": good}}, &verify.SizeError{}},
		{"md5 only", formats.File{Path: "a", Checksums: formats.Checksums{"md5": "5d41402abc4b2a76b9719d911017c592"}}, verify.ErrNoChecksum},
		{"empty", formats.File{Path: "a", Checksums: formats.Checksums{"sha256": ""}}, verify.ErrNoChecksum},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, err := formats.OpenFile(ctx, fs, c.f)
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			switch want := c.want.(type) {
			case nil:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			case *verify.ChecksumError:
				if !errors.As(err, &want) {
					t.Fatalf("err = %v, want ChecksumError", err)
				}
			case *verify.SizeError:
				if !errors.As(err, &want) {
					t.Fatalf("err = %v, want SizeError", err)
				}
			default:
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
			}
		})
	}
}
