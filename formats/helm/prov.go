package helm

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"go.yaml.in/yaml/v3"
)

// maxProvSize bounds a provenance file.
const maxProvSize = 1 << 20

// ErrProvenance is wrapped by CheckProvenance's errors.
var ErrProvenance = errors.New("helm: provenance does not match the chart")

// CheckProvenance checks that prov, a chart provenance file (Chart.yaml, "...",
// and a files: map, cleartext-signed), names the chart file called filename
// with the SHA-256 sha256hex, as helm's pull --verify checks after verifying
// the signature against the client's keyring. It does not verify the
// signature (the trust decision is the client's); it lets a mirror refuse a
// .prov that cannot belong to the chart it holds.
func CheckProvenance(prov []byte, filename, sha256hex string) error {
	if len(prov) > maxProvSize {
		return fmt.Errorf("%w: larger than %d bytes", ErrProvenance, maxProvSize)
	}
	block, _ := clearsign.Decode(prov)
	if block == nil {
		return fmt.Errorf("%w: no signed block", ErrProvenance)
	}
	parts := bytes.SplitN(block.Plaintext, []byte("\n...\n"), 2)
	if len(parts) < 2 {
		return fmt.Errorf("%w: no files section", ErrProvenance)
	}
	var sums struct {
		Files map[string]string `yaml:"files"`
	}
	if err := yaml.Unmarshal(parts[1], &sums); err != nil {
		return fmt.Errorf("%w: files section: %v", ErrProvenance, clipErr(err))
	}
	got, ok := sums.Files[filename]
	if !ok {
		return fmt.Errorf("%w: no sum for %q", ErrProvenance, clip(filename))
	}
	if got != "sha256:"+sha256hex {
		return fmt.Errorf("%w: %s is %q, chart is sha256:%s", ErrProvenance, clip(filename), clip(got), sha256hex)
	}
	return nil
}
