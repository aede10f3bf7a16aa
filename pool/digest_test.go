package pool_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/pool"
)

// emptyHex is the SHA-256 of no bytes.
const emptyHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func TestParse(t *testing.T) {
	empty := pool.Sum(nil)
	tests := []struct {
		name    string
		in      string
		want    pool.Digest
		wantErr bool
	}{
		{name: "bare", in: emptyHex, want: empty},
		{name: "prefixed", in: "sha256:" + emptyHex, want: empty},
		{name: "upper case", in: strings.ToUpper(emptyHex), want: empty},
		{name: "zero", in: strings.Repeat("0", 64), want: pool.Digest{}},
		{name: "empty", in: "", wantErr: true},
		{name: "prefix only", in: "sha256:", wantErr: true},
		{name: "short", in: emptyHex[:63], wantErr: true},
		{name: "long", in: emptyHex + "0", wantErr: true},
		{name: "non-hex", in: "g" + emptyHex[1:], wantErr: true},
		{name: "other algorithm", in: "sha512:" + emptyHex, wantErr: true},
		{name: "upper-case prefix", in: "SHA256:" + emptyHex, wantErr: true},
		{name: "space", in: " " + emptyHex[1:], wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pool.Parse(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestDigestRoundTrip(t *testing.T) {
	for _, content := range []string{"", "a", "hello, pool\n", strings.Repeat("x", 1<<16)} {
		d := pool.Sum([]byte(content))
		want := sha256.Sum256([]byte(content))
		if s := d.String(); s != hex.EncodeToString(want[:]) {
			t.Errorf("String() = %s, want %x", s, want)
		}
		if d.IsZero() {
			t.Errorf("Sum(%.10q).IsZero() = true", content)
		}
		p, err := pool.Parse(d.String())
		if err != nil || p != d {
			t.Errorf("Parse(String()) = %s, %v; want %s", p, err, d)
		}
		text, err := d.MarshalText()
		if err != nil || string(text) != d.String() {
			t.Errorf("MarshalText() = %s, %v", text, err)
		}
		var u pool.Digest
		if err := u.UnmarshalText(text); err != nil || u != d {
			t.Errorf("UnmarshalText(MarshalText()) = %s, %v; want %s", u, err, d)
		}
		// Through encoding/json, as the catalog and the CLI's --json use it.
		j, err := json.Marshal(map[string]pool.Digest{"d": d})
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]pool.Digest
		if err := json.Unmarshal(j, &back); err != nil || back["d"] != d {
			t.Errorf("json round trip of %s = %s, %v (%s)", d, back["d"], err, j)
		}
	}
	if !(pool.Digest{}).IsZero() {
		t.Error("zero Digest: IsZero() = false")
	}
	var u pool.Digest
	if err := u.UnmarshalText([]byte("nope")); err == nil {
		t.Error("UnmarshalText(nope) succeeded")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(emptyHex)
	f.Add("sha256:" + emptyHex)
	f.Add(strings.ToUpper(emptyHex))
	f.Add("sha256:")
	f.Add("")
	f.Add("sha256:sha256:" + emptyHex[:57])
	f.Fuzz(func(t *testing.T, s string) {
		d, err := pool.Parse(s)
		if err != nil {
			if d != (pool.Digest{}) {
				t.Fatalf("Parse(%q) failed but returned %s", s, d)
			}
			return
		}
		bare := strings.TrimPrefix(s, "sha256:")
		if !strings.EqualFold(bare, d.String()) {
			t.Fatalf("Parse(%q) = %s: not the same digits", s, d)
		}
		str := d.String()
		if len(str) != 64 || strings.ToLower(str) != str {
			t.Fatalf("String() = %q: want 64 lower-case hex digits", str)
		}
		d2, err := pool.Parse(str)
		if err != nil || d2 != d {
			t.Fatalf("Parse(String()) = %s, %v; want %s", d2, err, d)
		}
		var u pool.Digest
		text, _ := d.MarshalText() // MarshalText never fails
		if err := u.UnmarshalText(text); err != nil || u != d {
			t.Fatalf("text round trip = %s, %v; want %s", u, err, d)
		}
	})
}
