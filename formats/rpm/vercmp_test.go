package rpm

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestCompareEVRMatchesRPM(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "rpm", "vercmp", "table.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		A, B string
		Want int
	}
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) < 300 {
		t.Fatalf("table has %d rows, want at least 300", len(rows))
	}
	f := New(nil)
	for _, r := range rows {
		if got := f.Compare(r.A, r.B); got != r.Want {
			t.Errorf("Compare(%q, %q) = %d, rpm says %d", r.A, r.B, got, r.Want)
		}
		if got := f.Compare(r.B, r.A); got != -r.Want {
			t.Errorf("Compare(%q, %q) = %d, rpm says %d", r.B, r.A, got, -r.Want)
		}
	}
}

func TestVercmp(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0~rc1", "1.0", -1},
		{"1.0^git1", "1.0", 1},
		{"1.0^git1", "1.0.1", -1},
		{"1.0^git1", "1.0~rc1", 1},
		{"1.01", "1.1", 0},
		{"1.0a", "1.0.1", -1},
		{"2", "1a", 1},
		{"a", "1", -1},
		{"1.0\x00zzz", "1.0", 0},
		{"", "", 0},
		{"", "~", 1},
		{"", "^", -1},
		{"99999999999999999999999", "99999999999999999999998", 1},
	} {
		if got := Vercmp(c.a, c.b); got != c.want {
			t.Errorf("Vercmp(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestParseEVR(t *testing.T) {
	for _, c := range []struct {
		in   string
		want EVR
		str  string
	}{
		{"1:2.0-3.el9", EVR{"1", "2.0", "3.el9"}, "1:2.0-3.el9"},
		{"0:2.0-3", EVR{"0", "2.0", "3"}, "2.0-3"},
		{"2.0", EVR{"", "2.0", ""}, "2.0"},
		{"a:1-2-3", EVR{"", "a:1-2", "3"}, "a:1-2-3"},
		{":1.0", EVR{"", "1.0", ""}, "1.0"},
	} {
		got := ParseEVR(c.in)
		if got != c.want {
			t.Errorf("ParseEVR(%q) = %+v, want %+v", c.in, got, c.want)
		}
		if s := got.String(); s != c.str {
			t.Errorf("ParseEVR(%q).String() = %q, want %q", c.in, s, c.str)
		}
	}
}

func FuzzCompare(f *testing.F) {
	for _, s := range [][2]string{{"1.0~rc1", "1.0"}, {"1:1.0-1", "1.0^a"}, {"", "~"}, {"0:0-0", "^^~~"}, {"1.\x00", "1"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		x, y := CompareEVR(a, b), CompareEVR(b, a)
		if x != -y {
			t.Fatalf("CompareEVR(%q, %q) = %d but CompareEVR(%q, %q) = %d", a, b, x, b, a, y)
		}
		if x < -1 || x > 1 {
			t.Fatalf("CompareEVR(%q, %q) = %d, want -1, 0 or 1", a, b, x)
		}
		if CompareEVR(a, a) != 0 || Vercmp(a, a) != 0 {
			t.Fatalf("%q does not equal itself", a)
		}
		if v, w := Vercmp(a, b), Vercmp(b, a); v != -w {
			t.Fatalf("Vercmp(%q, %q) = %d but reversed %d", a, b, v, w)
		}
	})
}
