package config_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/config"
)

// TestHostileInputs checks that alias and merge-key tricks end quickly with
// an error instead of looping or expanding exponentially.
func TestHostileInputs(t *testing.T) {
	fan := func(prev, name string, n int) string {
		return name + ": &" + name + " {<<: [" + strings.TrimSuffix(strings.Repeat("*"+prev+", ", n), ", ") + "]}\n"
	}
	dag := "a0: &a0 {base_path: /x}\n"
	for i := 1; i < 40; i++ {
		dag += fan("a"+strconv.Itoa(i-1), "a"+strconv.Itoa(i), 4)
	}
	tests := map[string]string{
		"self merge":         "storage: &a {<<: [*a, *a]}\n",
		"self merge in list": "repositories:\n - {id: a, auth: {headers: &h {<<: [*h, *h, *h]}}}\n",
		"merge DAG":          dag + "storage: *a39\n",
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := config.Parse([]byte(src), "/cfg/config.yaml", nil)
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("Parse took %v", el)
			}
			if err == nil {
				t.Fatal("Parse accepted a hostile document")
			}
			if len(err.Error()) > 20000 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}
