package rpm

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/formats"
)

const treeinfoFixture = `[header]
type = productmd.treeinfo
version = 1.2

[general]
arch = x86_64
family = Fixture
; a comment
# another

[images-x86_64]
boot.iso = images/boot.iso
kernel = images/pxeboot/vmlinuz
initrd = images/pxeboot/initrd.img

[images-xen]
kernel = images/pxeboot/vmlinuz
initrd = images/pxeboot/initrd.img

[stage2]
mainimage = images/install.img

[variant-AppStream]
repository = ../../../AppStream/x86_64/os

[checksums]
images/boot.iso = sha256:` + "1111111111111111111111111111111111111111111111111111111111111111" + `
images/pxeboot/vmlinuz = sha256:` + "2222222222222222222222222222222222222222222222222222222222222222" + `
images/pxeboot/initrd.img = sha256:` + "3333333333333333333333333333333333333333333333333333333333333333" + `
images/install.img = sha256:` + "4444444444444444444444444444444444444444444444444444444444444444" + `
`

// Pitfall (§4.2 #26, #27): every images-* section and [stage2] are taken,
// deduplicated by path, with [checksums]; paths are confined.
func TestParseTreeinfo(t *testing.T) {
	ti, err := ParseTreeinfo([]byte(treeinfoFixture))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, im := range ti.Images {
		got = append(got, im.Path+"="+im.Checksums["sha256"][:1])
	}
	want := "images/boot.iso=1 images/install.img=4 images/pxeboot/initrd.img=3 images/pxeboot/vmlinuz=2"
	if strings.Join(got, " ") != want {
		t.Errorf("images = %v, want %s", got, want)
	}
	for _, bad := range []string{
		"[images-x86_64]\nkernel = ../../etc/passwd\n",
		"[stage2]\nmainimage = /etc/shadow\n",
		"[images-x86_64]\nkernel = http://elsewhere.invalid/vmlinuz\n",
		"[checksums]\n../x = sha256:00\n",
	} {
		var le *LocationError
		if _, err := ParseTreeinfo([]byte(bad)); !errors.As(err, &le) {
			t.Errorf("%q: %v, want a LocationError", bad, err)
		}
	}
	for _, bad := range []string{"[images-x86_64\n", "just text\n", "[checksums]\na = md5:00\n", "[checksums]\na = 00\n"} {
		if _, err := ParseTreeinfo([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", bad, err)
		}
	}
}

func TestScanTreeinfo(t *testing.T) {
	src := memSource{}
	root := filepath.Join(fixtures, "repo")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		src[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	src[".treeinfo"] = []byte(treeinfoFixture + "[images-ppc]\nkernel = images/ppc/vmlinuz\n")
	s, err := scan(t, New(nil), formats.ScanRequest{Source: src, Mode: formats.ModeFiltered})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, fl := range s.files {
		if fl.Kind == KindTreeinfo || strings.HasSuffix(fl.Kind, KindImage) {
			kinds = append(kinds, fl.Path+":"+fl.Kind)
		}
	}
	want := ".treeinfo:treeinfo images/boot.iso:link:kickstart images/install.img:link:kickstart images/pxeboot/initrd.img:link:kickstart images/pxeboot/vmlinuz:link:kickstart"
	if strings.Join(kinds, " ") != want {
		t.Errorf("tree files:\n%s\nwant (the ppc kernel has no checksum):\n%s", strings.Join(kinds, " "), want)
	}

	// A filtered render republishes .treeinfo verbatim at the root. (The
	// caller publishes images as hard links and does not pass them to Render.)
	for _, p := range []string{"images/boot.iso", "images/install.img", "images/pxeboot/initrd.img", "images/pxeboot/vmlinuz"} {
		src[p] = []byte(p)
	}
	req := renderInput(t, src, formats.ModeFiltered)
	files := req.Files[:0]
	for _, fl := range req.Files {
		if !strings.HasPrefix(fl.Kind, formats.LinkKindPrefix) {
			files = append(files, fl)
		}
	}
	req.Files = files
	out := render(t, New(nil), req)
	if string(out.files[".treeinfo"]) != string(src[".treeinfo"]) {
		t.Error(".treeinfo not republished verbatim")
	}
	for p := range out.files {
		if strings.HasPrefix(p, "images/") {
			t.Errorf("image %s rendered; images are hard links, not rendered", p)
		}
	}
}

func FuzzTreeinfo(f *testing.F) {
	f.Add([]byte(treeinfoFixture))
	f.Add([]byte("[stage2]\nmainimage=a\n[checksums]\na=sha256:00\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ti, err := ParseTreeinfo(b)
		if err != nil {
			return
		}
		for _, im := range ti.Images {
			if _, err := confine("x", im.Path, ""); err != nil || strings.HasPrefix(im.Path, ".") && strings.HasPrefix(im.Path, "..") {
				t.Fatalf("unconfined image path %q", im.Path)
			}
		}
	})
}
