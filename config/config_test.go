package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chantal-lite/chantal/config"
	"github.com/google/go-cmp/cmp"
)

// env returns a Getenv over a fixed map.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

var fullEnv = map[string]string{
	"EPEL_PW":    "p@ss: #word {x}", // YAML-special characters stay as they are
	"API_KEY":    "key-123",
	"RHEL_TOKEN": "tok-456",
}

func ptr[T any](v T) *T { return &v }

func TestLoadFull(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "full"))
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join("testdata", "full", "config.yaml")
	got, err := config.Load(name, &config.LoadOptions{Getenv: env(fullEnv)})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &config.Config{
		Storage: config.Storage{
			BasePath:      "/var/lib/chantal-lite",
			PublishedPath: "/srv/repos",
			TempPath:      filepath.Join(dir, "tmp"),
			GCGrace:       config.Duration{30 * time.Minute},
		},
		Download: config.Download{Parallel: 4, Retries: 0, Timeout: config.Duration{2 * time.Minute},
			RateLimit: 10 << 20, UserAgent: "chantal-lite-test"},
		Publish: config.Publish{KeepVersions: 5},
		GPG:     config.GPG{KeyFile: filepath.Join(dir, "keys/signing.asc"), PassphraseFile: filepath.Join(dir, "keys/passphrase")},
		Include: []string{"conf.d/*.yaml"},
		Repositories: []config.Repository{
			{
				ID: "epel9", Name: "EPEL 9", Type: "rpm",
				Feed:    "https://dl.fedoraproject.org/pub/epel/9/Everything/x86_64/",
				Mode:    "filtered",
				Enabled: ptr(true),
				SSL: config.SSL{CABundle: filepath.Join(dir, "certs/ca.pem"),
					ClientCert: "/etc/pki/entitlement/1.pem", ClientKey: "/etc/pki/entitlement/1-key.pem"},
				Auth:  config.Auth{Type: "basic", Username: "mirror", Password: "p@ss: #word {x}"},
				Proxy: config.Proxy{URL: "http://proxy.example:3128", Username: "px", Password: "proxysecret", NoProxy: "localhost,.internal"},
				Download: &config.Download{Parallel: 4, Retries: 0, Timeout: config.Duration{10 * time.Minute},
					RateLimit: 10 << 20, UserAgent: "chantal-lite-test"},
				Filters: config.Filters{
					Patterns:       config.IncludeExclude{Include: []string{"^nginx", `^g\+\+$`}, Exclude: []string{"-debug"}},
					Architectures:  config.IncludeExclude{Include: []string{"x86_64", "noarch"}},
					SizeBytes:      config.SizeRange{Min: 1000, Max: 2 << 30},
					BuildTime:      config.BuildTime{After: "2024-01-01", Before: "2026-01-01T00:00:00Z", LastNDays: 400},
					Groups:         config.IncludeExclude{Exclude: []string{"System Environment/Base"}},
					Licenses:       config.IncludeExclude{Include: []string{"MIT", "GPLv2"}},
					Vendors:        config.IncludeExclude{Exclude: []string{"Evil"}},
					Epochs:         config.IncludeExclude{Include: []string{"0", "1"}},
					ExcludeSource:  true,
					PostProcessing: config.PostProcessing{OnlyLatestNVersions: 3},
					FilterWithDeps: true,
				},
				Verify: config.Verify{
					Enabled:             ptr(true),
					Keys:                []string{filepath.Join(dir, "keys/RPM-GPG-KEY-EPEL-9")},
					TrustedFingerprints: []string{"FF8AD1344597106ECE813B918A3872BF3228467C"},
					OnInvalid:           "warn",
					GPGCheck:            true,
				},
				GPG:         config.GPG{Passphrase: "${literal}", GenerateKey: true},
				RPM:         config.RPM{Compression: "zst"},
				Retention:   config.Retention{Policy: "keep-last-n", KeepCount: 2},
				PublishPath: "el9/epel",
			},
			{
				ID: "bookworm", Type: "apt", Feed: "http://debian-mirror.example/debian", Mode: "mirror",
				Enabled: ptr(false),
				Auth:    config.Auth{Type: "custom", Headers: map[string]string{"X-API-Key": "key-123"}},
				Verify:  config.Verify{OnInvalid: "fail"},
				APT: config.APT{Distribution: "bookworm", Components: []string{"main", "contrib"},
					Architectures: []string{"amd64", "arm64"}, ByHash: ptr(true), Udebs: true, Sources: true},
				Retention: config.Retention{Policy: "mirror"},
			},
			{
				ID: "local-charts", Type: "helm", Mode: "hosted",
				Filters:   config.Filters{SkipDeprecated: true, SkipPrerelease: true, Versions: ">=1.0.0"},
				Verify:    config.Verify{OnInvalid: "fail"},
				Retention: config.Retention{Policy: "mirror"},
			},
			{
				ID: "rhel9-baseos", Type: "rpm", Feed: "file:///srv/upstream/rhel9/baseos", Mode: "filtered",
				SSL:       config.SSL{CertDir: filepath.Join(dir, "conf.d", "entitlement")},
				Auth:      config.Auth{Type: "bearer", Token: "tok-456"},
				Verify:    config.Verify{OnInvalid: "fail"},
				RPM:       config.RPM{Compression: "auto"},
				Retention: config.Retention{Policy: "mirror"},
			},
		},
		Views: []config.View{
			{Name: "el9-stack", Description: "EPEL plus the baseos snapshot", Repos: []string{"epel9"},
				Snapshots: []string{"rhel9-baseos/2026-01"}, PublishPath: "stacks/el9"},
			{Name: "el9-base", Repos: []string{"rhel9-baseos"}},
		},
		Files: []string{name, filepath.Join(dir, "conf.d", "10-rhel.yaml")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load mismatch (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate of a loaded config: %v", err)
	}
	if r, ok := got.Repository("bookworm"); !ok || r.IsEnabled() {
		t.Errorf("Repository(bookworm) = %v, %v; want a disabled repository", r, ok)
	}
	if r, ok := got.Repository("epel9"); !ok || !r.IsEnabled() || !r.Verify.IsEnabled() {
		t.Errorf("Repository(epel9) = %v, %v; want enabled with verification", r, ok)
	}
	if _, ok := got.Repository("nope"); ok {
		t.Error("Repository(nope) found")
	}
	if v, ok := got.View("el9-base"); !ok || v.Repos[0] != "rhel9-baseos" {
		t.Errorf("View(el9-base) = %v, %v", v, ok)
	}
	if _, ok := got.View("nope"); ok {
		t.Error("View(nope) found")
	}
	r, _ := got.Repository("local-charts")
	if d := got.DownloadFor(r); d != got.Download {
		t.Errorf("DownloadFor(local-charts) = %+v, want the global %+v", d, got.Download)
	}
}

func TestDefaults(t *testing.T) {
	src := `
repositories:
  - {id: a, type: apt, feed: "https://x.example/debian", apt: {distribution: bookworm}, download: {retries: 0, parallel: 2}}
  - {id: flat, type: apt, feed: "https://x.example/flat", apt: {flat: true}}
  - {id: r, type: rpm, feed: "https://x.example/el9"}
`
	c, err := config.Parse([]byte(src), "/cfg/config.yaml", &config.LoadOptions{Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	wantStorage := config.Storage{BasePath: config.DefaultBasePath, PublishedPath: config.DefaultBasePath + "/published",
		TempPath: config.DefaultBasePath + "/tmp", GCGrace: config.Duration{time.Hour}}
	if diff := cmp.Diff(wantStorage, c.Storage); diff != "" {
		t.Errorf("storage (-want +got):\n%s", diff)
	}
	wantDL := config.Download{Parallel: 8, Retries: 4, Timeout: config.Duration{5 * time.Minute}}
	if diff := cmp.Diff(wantDL, c.Download); diff != "" {
		t.Errorf("download (-want +got):\n%s", diff)
	}
	if c.Publish.KeepVersions != 3 {
		t.Errorf("keep_versions = %d, want 3", c.Publish.KeepVersions)
	}
	a, _ := c.Repository("a")
	wantA := config.Download{Parallel: 2, Retries: 0, Timeout: config.Duration{5 * time.Minute}}
	if a.Download == nil || *a.Download != wantA {
		t.Errorf("merged per-repo download = %+v, want %+v", a.Download, wantA)
	}
	if a.Mode != "filtered" || !a.IsEnabled() || a.Verify.IsEnabled() || a.Verify.OnInvalid != "fail" || a.Retention.Policy != "mirror" {
		t.Errorf("repository defaults wrong: %+v", a)
	}
	if diff := cmp.Diff([]string{"main"}, a.APT.Components); diff != "" {
		t.Errorf("apt components (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"amd64"}, a.APT.Architectures); diff != "" {
		t.Errorf("apt architectures (-want +got):\n%s", diff)
	}
	flat, _ := c.Repository("flat")
	if len(flat.APT.Components) != 0 {
		t.Errorf("flat repository got components %v", flat.APT.Components)
	}
	r, _ := c.Repository("r")
	if r.RPM.Compression != "auto" || r.APT.Architectures != nil {
		t.Errorf("rpm defaults wrong: %+v", r)
	}

	// Explicit zeros that mean something stay zero.
	c, err = config.Parse([]byte("storage: {gc_grace: 0}\npublish: {keep_versions: 0}\ndownload: {retries: 0}\n"), "/cfg/c.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.GCGrace.Duration != 0 || c.Publish.KeepVersions != 0 || c.Download.Retries != 0 {
		t.Errorf("explicit zeros replaced by defaults: %+v %+v %+v", c.Storage, c.Publish, c.Download)
	}
}

func TestEmptyConfig(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "---\n", "~\n"} {
		c, err := config.Parse([]byte(src), "/cfg/config.yaml", nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		if len(c.Repositories) != 0 || c.Storage.BasePath != config.DefaultBasePath {
			t.Errorf("Parse(%q) = %+v", src, c)
		}
	}
}

// loadErr parses src as /cfg/config.yaml and returns the error text.
func loadErr(t *testing.T, src string, files map[string]string, environ map[string]string) error {
	t.Helper()
	_, err := config.Parse([]byte(src), "/cfg/config.yaml", &config.LoadOptions{
		Getenv:   env(environ),
		ReadFile: memRead(files),
		Glob:     memGlob(files),
	})
	return err
}

func memRead(files map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		s, ok := files[p]
		if !ok {
			return nil, &os.PathError{Op: "open", Path: p, Err: os.ErrNotExist}
		}
		return []byte(s), nil
	}
}

func memGlob(files map[string]string) func(string) ([]string, error) {
	return func(pat string) ([]string, error) {
		var out []string
		for p := range files {
			if ok, err := filepath.Match(pat, p); err != nil {
				return nil, err
			} else if ok {
				out = append(out, p)
			}
		}
		return out, nil
	}
}

const repoHead = "repositories:\n  - id: r\n    type: rpm\n    feed: https://x.example/r\n"

func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		files map[string]string
		env   map[string]string
		want  []string // substrings of the error, the first usually "file:line"
	}{
		{"unknown top-level key", "storage: {}\nrepositoriez: []\n", nil, nil,
			[]string{`/cfg/config.yaml:2: unknown key "repositoriez" in the top level`}},
		{"unknown nested key", repoHead + "    filters:\n      patterns:\n        inclde: [x]\n", nil, nil,
			[]string{`/cfg/config.yaml:7: unknown key "inclde" in includeexclude (known: include, exclude)`}},
		{"unknown key in repository", repoHead + "    feeds: x\n", nil, nil,
			[]string{`/cfg/config.yaml:5: unknown key "feeds" in repository`}},
		{"unknown key in storage", "storage:\n  pool_path: /x\n", nil, nil,
			[]string{`/cfg/config.yaml:2: unknown key "pool_path" in storage`}},
		{"duplicate key", "storage:\n  base_path: /a\n  base_path: /b\n", nil, nil,
			[]string{`/cfg/config.yaml:3: key "base_path" already defined at line 2`}},
		{"duplicate top-level key", "include: a.yaml\ninclude: b.yaml\n", nil, nil,
			[]string{`/cfg/config.yaml:2: key "include" already defined at line 1`}},
		{"bad regex", repoHead + "    filters:\n      patterns:\n        include:\n          - ok\n          - ^g++$\n", nil, nil,
			[]string{`/cfg/config.yaml:9: repository "r": filters.patterns: invalid regular expression "^g++$"`}},
		{"wrong type", "download:\n  parallel: many\n", nil, nil,
			[]string{`/cfg/config.yaml:2: invalid integer "many"`}},
		{"mapping for list", repoHead + "    verify:\n      keys: {a: b}\n", nil, nil,
			[]string{`/cfg/config.yaml:6: expected a list, got a mapping`}},
		{"bad duration", "download: {timeout: 5 minutes}\n", nil, nil,
			[]string{`/cfg/config.yaml:1: invalid duration "5 minutes"`}},
		{"bad size", "download: {rate_limit: 10 parsecs}\n", nil, nil,
			[]string{`/cfg/config.yaml:1: invalid size unit`}},
		{"bad bool", repoHead + "    enabled: maybe\n", nil, nil,
			[]string{`/cfg/config.yaml:5: invalid boolean "maybe"`}},
		{"yaml syntax", "storage: [\n", nil, nil,
			[]string{`/cfg/config.yaml:`, "invalid YAML"}},
		{"two documents", "storage: {}\n---\nviews: []\n", nil, nil,
			[]string{`/cfg/config.yaml:`, "more than one YAML document"}},
		{"custom tag", "storage: {base_path: !vault secret}\n", nil, nil,
			[]string{`/cfg/config.yaml:1: unsupported YAML tag !vault`}},
		{"unset variable", repoHead + "    auth: {type: basic, username: u, password: \"${NOPE}\"}\n", nil, nil,
			[]string{`/cfg/config.yaml:5: environment variable NOPE is not set`}},
		{"bad variable", "storage: {base_path: \"/x/${1X}\"}\n", nil, nil,
			[]string{`/cfg/config.yaml:1: invalid variable reference ${1X}`}},
		{"unterminated variable", "storage: {base_path: \"/x/${X\"}\n", nil, nil,
			[]string{`/cfg/config.yaml:1: unterminated ${`}},
		{"id with slash", "repositories:\n  - {id: a/b, type: rpm, feed: \"https://x.example/\"}\n", nil, nil,
			[]string{`/cfg/config.yaml:2: repository id "a/b"`}},
		{"id dotdot", "repositories:\n  - {id: \"..\", type: rpm, feed: \"https://x.example/\"}\n", nil, nil,
			[]string{`/cfg/config.yaml:2: repository id ".."`}},
		{"id with space", "repositories:\n  - {id: a b, type: rpm, feed: \"https://x.example/\"}\n", nil, nil,
			[]string{`/cfg/config.yaml:2: repository id "a b"`}},
		{"missing id", "repositories:\n  - {type: rpm, feed: \"https://x.example/\"}\n", nil, nil,
			[]string{`/cfg/config.yaml:2: repository: id is required`}},
		{"upper-case type", "repositories:\n  - {id: a, type: RPM, feed: \"https://x.example/\"}\n", nil, nil,
			[]string{`/cfg/config.yaml:2: repository "a": type "RPM" is not a lower-case format name`}},
		{"apt component with slash", "repositories:\n  - id: d\n    type: apt\n    feed: https://x.example/\n    apt:\n      distribution: bookworm\n      components: [main, updates/main]\n", nil, nil,
			[]string{`/cfg/config.yaml:7: repository "d": apt.components: "updates/main" is not a plain token`}},
		{"apt distribution leading slash", "repositories:\n  - id: d\n    type: apt\n    feed: https://x.example/\n    apt: {distribution: /bookworm}\n", nil, nil,
			[]string{`/cfg/config.yaml:5: repository "d": apt.distribution "/bookworm"`}},
		{"apt distribution dotdot", "repositories:\n  - id: d\n    type: apt\n    feed: https://x.example/\n    apt: {distribution: bookworm/../x}\n", nil, nil,
			[]string{`apt.distribution "bookworm/../x"`}},
		{"apt without distribution", "repositories:\n  - {id: d, type: apt, feed: \"https://x.example/\"}\n", nil, nil,
			[]string{`repository "d": apt.distribution is required`}},
		{"apt section on rpm", repoHead + "    apt: {distribution: x}\n", nil, nil,
			[]string{`/cfg/config.yaml:5: repository "r": the apt section applies to apt repositories only`}},
		{"apt filter on rpm", repoHead + "    filters: {sections: {include: [net]}}\n", nil, nil,
			[]string{`repository "r": filters: sections apply to apt repositories only`}},
		{"mirror with filters", "repositories:\n  - id: m\n    type: rpm\n    feed: https://x.example/\n    mode: mirror\n    filters:\n      patterns: {include: [x]}\n", nil, nil,
			[]string{`/cfg/config.yaml:6: repository "m": mirror mode publishes upstream metadata byte for byte; filters need mode: filtered`}},
		{"bad mode", repoHead + "    mode: copy\n", nil, nil,
			[]string{`/cfg/config.yaml:5: repository "r": mode "copy"`}},
		{"missing feed", "repositories:\n  - {id: a, type: rpm}\n", nil, nil,
			[]string{`repository "a": feed is required`}},
		{"hosted with feed", "repositories:\n  - {id: a, type: rpm, mode: hosted, feed: \"https://x.example/\"}\n", nil, nil,
			[]string{`repository "a": a hosted repository has no feed`}},
		{"feed scheme", "repositories:\n  - {id: a, type: rpm, feed: \"ftp://x.example/\"}\n", nil, nil,
			[]string{`repository "a": feed: URL scheme "ftp"`}},
		{"publish path escapes", repoHead + "    publish_path: ../elsewhere\n", nil, nil,
			[]string{`/cfg/config.yaml:5: repository "r": publish_path "../elsewhere"`}},
		{"bad fingerprint", repoHead + "    verify: {keys: [k.asc], trusted_fingerprints: [\"ABCD\"]}\n", nil, nil,
			[]string{`verify.trusted_fingerprints: "ABCD" is not a key fingerprint`}},
		{"non-hex fingerprint", repoHead + "    verify: {keys: [k.asc], trusted_fingerprints: [\"ZZZZ ZZZZ ZZZZ ZZZZ\"]}\n", nil, nil,
			[]string{`is not a key fingerprint`}},
		{"verify without keys", repoHead + "    verify: {enabled: true}\n", nil, nil,
			[]string{`repository "r": verify is enabled but names no keys`}},
		{"gpgcheck without keys", repoHead + "    verify: {gpgcheck: true}\n", nil, nil,
			[]string{`verify.gpgcheck checks packages against the repository's keys`}},
		{"gpgcheck with verify off", repoHead + "    verify: {enabled: false, keys: [k.asc], gpgcheck: true}\n", nil, nil,
			[]string{`verify.gpgcheck checks packages against the repository's keys`}},
		{"on_invalid", repoHead + "    verify: {on_invalid: explode}\n", nil, nil,
			[]string{`verify.on_invalid "explode"`}},
		{"auth without type", repoHead + "    auth: {username: u}\n", nil, nil,
			[]string{`repository "r": auth.username needs auth.type`}},
		{"basic auth with token", repoHead + "    auth: {type: basic, username: u, token: t}\n", nil, nil,
			[]string{`auth.token does not apply to auth type basic`}},
		{"header with newline", repoHead + "    auth: {type: custom, headers: {X-A: \"a\\nb\"}}\n", nil, nil,
			[]string{`value of X-A must be a single line`}},
		{"proxy without url", repoHead + "    proxy: {username: u}\n", nil, nil,
			[]string{`proxy settings need proxy.url`}},
		{"client cert without key", repoHead + "    ssl: {client_cert: c.pem}\n", nil, nil,
			[]string{`ssl.client_cert and ssl.client_key go together`}},
		{"retention", repoHead + "    retention: {policy: keep-last-n}\n", nil, nil,
			[]string{`keep-last-n needs keep_count`}},
		{"compression", repoHead + "    rpm: {compression: lz4}\n", nil, nil,
			[]string{`rpm.compression "lz4"`}},
		{"size range", repoHead + "    filters: {size_bytes: {min: 2M, max: 1M}}\n", nil, nil,
			[]string{`size_bytes: min 2000000 is above max 1000000`}},
		{"build time", repoHead + "    filters: {build_time: {newer_than: yesterday}}\n", nil, nil,
			[]string{`/cfg/config.yaml:5: repository "r": filters.build_time.newer_than: "yesterday"`}},
		{"latest conflict", repoHead + "    filters: {post_processing: {only_latest_version: true, only_latest_n_versions: 3}}\n", nil, nil,
			[]string{`only_latest_version contradicts only_latest_n_versions: 3`}},
		{"negative parallel", "download: {parallel: -1}\n", nil, nil,
			[]string{`/cfg/config.yaml:1: download.parallel: -1 is out of range`}},
		{"duplicate repository id", repoHead + "  - {id: r, type: rpm, feed: \"https://y.example/\"}\n", nil, nil,
			[]string{`/cfg/config.yaml:5: repository "r" already defined at /cfg/config.yaml:2`}},
		{"view of unknown repo", repoHead + "views:\n  - {name: v, repos: [r, nope]}\n", nil, nil,
			[]string{`/cfg/config.yaml:6: view "v": repos names unknown repository "nope"`}},
		{"view of mixed types", repoHead + "  - {id: d, type: helm, feed: \"https://x.example/charts\"}\nviews:\n  - name: v\n    repos: [r, d]\n", nil, nil,
			[]string{`/cfg/config.yaml:8: view "v": repository "d" is helm but "r" is rpm; a view holds one type`}},
		{"view name", repoHead + "views:\n  - {name: a/b, repos: [r]}\n", nil, nil,
			[]string{`view name "a/b"`}},
		{"view snapshot syntax", repoHead + "views:\n  - {name: v, snapshots: [r]}\n", nil, nil,
			[]string{`view "v": snapshot "r": want REPO/NAME`}},
		{"duplicate view", repoHead + "views:\n  - {name: v, repos: [r]}\n  - {name: v, repos: [r]}\n", nil, nil,
			[]string{`/cfg/config.yaml:7: view "v" already defined at /cfg/config.yaml:6`}},
		{"empty view", "views:\n  - {name: v}\n", nil, nil,
			[]string{`view "v": needs repos or snapshots`}},
		{"relative storage via Validate-only rule is resolved", "storage: {base_path: 5}\ninclude: [\"\"]\n", nil, nil,
			[]string{`/cfg/config.yaml:2: empty include pattern`}},
		// includes
		{"duplicate id across files", repoHead + "include: conf.d/*.yaml\n",
			map[string]string{"/cfg/conf.d/a.yaml": "repositories:\n  - {id: x, type: rpm, feed: \"https://x.example/\"}\n  - {id: r, type: rpm, feed: \"https://x.example/\"}\n"},
			nil, []string{`/cfg/conf.d/a.yaml:3: repository "r" already defined at /cfg/config.yaml:2`}},
		{"nested include", "include: conf.d/*.yaml\n",
			map[string]string{"/cfg/conf.d/a.yaml": "views: []\ninclude: more/*.yaml\n"},
			nil, []string{`/cfg/conf.d/a.yaml:2: include is not allowed in an included file`}},
		{"storage in included file", "include: conf.d/*.yaml\n",
			map[string]string{"/cfg/conf.d/a.yaml": "repositories: []\nstorage:\n  base_path: /x\n"},
			nil, []string{`/cfg/conf.d/a.yaml:2: key "storage" is not allowed in an included file (only repositories and views)`}},
		{"unknown key in included file", "include: conf.d/*.yaml\n",
			map[string]string{"/cfg/conf.d/a.yaml": "repositories:\n  - id: x\n    type: rpm\n    feed: https://x.example/\n    filters: {patterns: {inclde: [a]}}\n"},
			nil, []string{`/cfg/conf.d/a.yaml:5: unknown key "inclde"`}},
		{"bad yaml in included file", "include: conf.d/*.yaml\n",
			map[string]string{"/cfg/conf.d/a.yaml": "repositories: [\n"},
			nil, []string{`/cfg/conf.d/a.yaml:`, "invalid YAML"}},
		{"missing literal include", "storage: {}\ninclude: [extra.yaml]\n", nil, nil,
			[]string{`/cfg/config.yaml:2: included file /cfg/extra.yaml does not exist`}},
		{"bad include pattern", "include: \"conf.d/[\"\n", nil, nil,
			[]string{`/cfg/config.yaml:1: invalid include pattern "conf.d/["`}},
		{"merge at top level", "<<: {storage: {}}\n", nil, nil,
			[]string{`merge keys (<<) are not supported at the top level`}},
		{"top level list", "- a\n- b\n", nil, nil,
			[]string{`/cfg/config.yaml:1: expected a mapping at the top level, got a list`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := loadErr(t, tt.src, tt.files, tt.env)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %v\ndoes not contain\n  %s", err, w)
				}
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			var ce *config.Error
			if !errors.As(err, &ce) || ce.File == "" {
				t.Errorf("error %v carries no *config.Error with a file", err)
			}
		})
	}
}

func TestErrorLine(t *testing.T) {
	src := "storage: {}\nrepositories:\n  - id: r\n    type: rpm\n    feed: https://x.example/\n    filters:\n      patterns:\n        inclde: [x]\n"
	err := loadErr(t, src, nil, nil)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *config.Error", err)
	}
	if ce.File != "/cfg/config.yaml" || ce.Line != 8 {
		t.Errorf("error at %s:%d, want /cfg/config.yaml:8", ce.File, ce.Line)
	}
}

func TestAllErrorsReported(t *testing.T) {
	src := "storage: {bad1: 1}\ndownload: {bad2: 2}\n"
	err := loadErr(t, src, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "bad1") || !strings.Contains(err.Error(), "bad2") {
		t.Errorf("err = %v, want both unknown keys reported", err)
	}
}

func TestIncludes(t *testing.T) {
	files := map[string]string{
		"/cfg/conf.d/20-b.yaml":  "repositories:\n  - {id: b, type: rpm, feed: \"https://x.example/b\", verify: {keys: [b.asc]}}\n",
		"/cfg/conf.d/10-a.yml":   "repositories:\n  - {id: a, type: rpm, feed: \"https://x.example/a\"}\nviews:\n  - {name: ab, repos: [a, b, main]}\n",
		"/cfg/conf.d/notes.txt":  "not yaml: [",
		"/cfg/conf.d/empty.yaml": "",
		"/abs/extra.yaml":        "repositories:\n  - {id: c, type: rpm, feed: \"https://x.example/c\"}\n",
		"/cfg/config.yaml":       "never read through the glob",
	}
	src := "include: [conf.d/*, /abs/extra.yaml, \"*.yaml\", conf.d/*.yaml]\nrepositories:\n  - {id: main, type: rpm, feed: \"https://x.example/m\"}\n"
	c, err := config.Parse([]byte(src), "/cfg/config.yaml", &config.LoadOptions{Getenv: env(nil), ReadFile: memRead(files), Glob: memGlob(files)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range c.Repositories {
		ids = append(ids, r.ID)
	}
	if diff := cmp.Diff([]string{"main", "a", "b", "c"}, ids); diff != "" {
		t.Errorf("repository order (-want +got):\n%s", diff)
	}
	wantFiles := []string{"/cfg/config.yaml", "/cfg/conf.d/10-a.yml", "/cfg/conf.d/20-b.yaml", "/cfg/conf.d/empty.yaml", "/abs/extra.yaml"}
	if diff := cmp.Diff(wantFiles, c.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	b, _ := c.Repository("b")
	if diff := cmp.Diff([]string{"/cfg/conf.d/b.asc"}, b.Verify.Keys); diff != "" {
		t.Errorf("key path not relative to the included file (-want +got):\n%s", diff)
	}
	if _, ok := c.View("ab"); !ok {
		t.Error("view from included file missing")
	}
}

func TestIncludeFromDisk(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/config.yaml", "include: repos/*.yaml\nstorage: {base_path: data}\n")
	write("etc/repos/a.yaml", "repositories:\n  - {id: a, type: helm, feed: \"https://charts.example/\"}\n")
	c, err := config.Load(filepath.Join(dir, "etc", "config.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Repositories) != 1 || c.Repositories[0].ID != "a" {
		t.Errorf("repositories = %+v", c.Repositories)
	}
	if want := filepath.Join(dir, "etc", "data"); c.Storage.BasePath != want {
		t.Errorf("base_path = %q, want %q (relative to the config file)", c.Storage.BasePath, want)
	}
	if want := filepath.Join(dir, "etc", "data", "published"); c.Storage.PublishedPath != want {
		t.Errorf("published_path = %q, want %q", c.Storage.PublishedPath, want)
	}
	if _, err := config.Load(filepath.Join(dir, "missing.yaml"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}

func TestEnvExpansion(t *testing.T) {
	tests := []struct {
		value string
		env   map[string]string
		want  string
	}{
		{"${A}", map[string]string{"A": "x"}, "x"},
		{"pre-${A}-post", map[string]string{"A": "x"}, "pre-x-post"},
		{"${A:-dflt}", nil, "dflt"},
		{"${A:-dflt}", map[string]string{"A": ""}, "dflt"},
		{"${A:-dflt}", map[string]string{"A": "set"}, "set"},
		{"${A}", map[string]string{"A": ""}, ""},
		{"${A:-}", nil, ""},
		{"$$", nil, "$"},
		{"$${A}", nil, "${A}"},
		{"pa$word$", nil, "pa$word$"},
		{"${A}${B}", map[string]string{"A": "1", "B": "2"}, "12"},
		{"${A}", map[string]string{"A": "${B}"}, "${B}"}, // values are not expanded again
		{"${A}", map[string]string{"A": "x: [y] # z\n'\""}, "x: [y] # z\n'\""},
	}
	for _, tt := range tests {
		src := "repositories:\n  - id: r\n    type: rpm\n    feed: https://x.example/\n    auth:\n      type: basic\n      username: u\n      password: '" + strings.ReplaceAll(tt.value, "'", "''") + "'\n"
		c, err := config.Parse([]byte(src), "/cfg/config.yaml", &config.LoadOptions{Getenv: env(tt.env)})
		if err != nil {
			t.Errorf("%q: %v", tt.value, err)
			continue
		}
		if got := c.Repositories[0].Auth.Password; got != tt.want {
			t.Errorf("%q expands to %q, want %q", tt.value, got, tt.want)
		}
	}
	// Expansion also feeds typed values.
	c, err := config.Parse([]byte("download: {parallel: \"${P}\", timeout: \"${T:-90}\"}\n"), "/cfg/config.yaml",
		&config.LoadOptions{Getenv: env(map[string]string{"P": "3"})})
	if err != nil {
		t.Fatal(err)
	}
	if c.Download.Parallel != 3 || c.Download.Timeout.Duration != 90*time.Second {
		t.Errorf("download = %+v", c.Download)
	}
}

func TestEnvDefaultIsOSEnvironment(t *testing.T) {
	t.Setenv("CHANTAL_TEST_BASE", "/from/env")
	c, err := config.Parse([]byte("storage: {base_path: \"${CHANTAL_TEST_BASE}\"}\n"), "/cfg/config.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.BasePath != "/from/env" {
		t.Errorf("base_path = %q", c.Storage.BasePath)
	}
}

func TestMergeKeys(t *testing.T) {
	src := `
repositories:
  - &base
    id: one
    type: rpm
    feed: https://x.example/one
    filters: {architectures: {include: [x86_64]}}
  - <<: *base
    id: two
    feed: https://x.example/two
`
	c, err := config.Parse([]byte(src), "/cfg/config.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	two, ok := c.Repository("two")
	if !ok || two.Type != "rpm" || two.Feed != "https://x.example/two" || len(two.Filters.Architectures.Include) != 1 {
		t.Errorf("merged repository = %+v", two)
	}
}

func TestRedacted(t *testing.T) {
	load := func() *config.Config {
		t.Helper()
		c, err := config.Load(filepath.Join("testdata", "full", "config.yaml"), &config.LoadOptions{Getenv: env(fullEnv)})
		if err != nil {
			t.Fatal(err)
		}
		c.Repositories[1].Feed = "https://user:hunter2@deb.example/debian"
		c.Repositories[0].Proxy.URL = "http://px:hunter3@proxy.example:3128"
		return c
	}
	c, orig := load(), load()
	r := c.Redacted()

	if diff := cmp.Diff(orig, c); diff != "" {
		t.Fatalf("Redacted changed the original (-before +after):\n%s", diff)
	}
	text := strings.Join([]string{
		r.Repositories[0].Auth.Password, r.Repositories[0].Proxy.Password, r.Repositories[0].GPG.Passphrase,
		r.Repositories[1].Auth.Headers["X-API-Key"], r.Repositories[3].Auth.Token,
	}, ",")
	if want := "REDACTED,REDACTED,REDACTED,REDACTED,REDACTED"; text != want {
		t.Errorf("secrets = %s, want %s", text, want)
	}
	if got := r.Repositories[1].Feed; strings.Contains(got, "hunter2") || !strings.Contains(got, "user:REDACTED@") {
		t.Errorf("feed = %q, want its password redacted", got)
	}
	if got := r.Repositories[0].Proxy.URL; strings.Contains(got, "hunter3") {
		t.Errorf("proxy url = %q, want its password redacted", got)
	}
	if r.Repositories[2].Auth.Password != "" {
		t.Errorf("empty secret became %q", r.Repositories[2].Auth.Password)
	}
	// No secret value survives anywhere in the copy.
	dump := cmp.Diff(nil, r)
	for _, s := range []string{"p@ss", "proxysecret", "key-123", "tok-456", "${literal}", "hunter"} {
		if strings.Contains(dump, s) {
			t.Errorf("redacted config still contains %q", s)
		}
	}
	// The copy shares nothing mutable with the original.
	r.Repositories[0].Filters.Patterns.Include[0] = "changed"
	r.Repositories[1].Auth.Headers["X-New"] = "v"
	*r.Repositories[0].Enabled = false
	r.Repositories[0].Download.Parallel = 99
	r.Views[0].Repos[0] = "changed"
	if diff := cmp.Diff(orig, c); diff != "" {
		t.Errorf("changing the redacted copy changed the original (-before +after):\n%s", diff)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5m", 5 * time.Minute, true},
		{"30s", 30 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"300", 300 * time.Second, true},
		{"0", 0, true},
		{"-5s", 0, false},
		{"-1", 0, false},
		{"5 minutes", 0, false},
		{"", 0, false},
		{"99999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := config.ParseDuration(tt.in)
		if (err == nil) != tt.ok || got.Duration != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	b, err := config.Duration{90 * time.Second}.MarshalText()
	if err != nil || string(b) != "1m30s" {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
	var d config.Duration
	if err := d.UnmarshalText([]byte("2m")); err != nil || d.Duration != 2*time.Minute {
		t.Errorf("UnmarshalText = %v, %v", d, err)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1234", 1234, true},
		{"500k", 500_000, true},
		{"10MiB", 10 << 20, true},
		{"10 MiB", 10 << 20, true},
		{"3G", 3_000_000_000, true},
		{"1TiB", 1 << 40, true},
		{"8589934592GiB", 0, false},
		{"MiB", 0, false},
		{"-1", 0, false},
		{"1.5M", 0, false},
		{"10 parsecs", 0, false},
	}
	for _, tt := range tests {
		got, err := config.ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestMatcher(t *testing.T) {
	tests := []struct {
		include, exclude []string
		name             string
		want             bool
	}{
		{nil, nil, "anything", true},
		{[]string{"^nginx"}, nil, "nginx-mod", true},
		{[]string{"^nginx"}, nil, "libnginx", false},
		{[]string{"nginx"}, nil, "libnginx", true},
		{nil, []string{"-debug"}, "foo-debuginfo", false},
		{[]string{"^foo"}, []string{"-debug"}, "foo-debug", false}, // exclude wins
		{[]string{"^a$", "^b$"}, nil, "b", true},
	}
	for _, tt := range tests {
		m, err := config.CompileMatcher(tt.include, tt.exclude)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Match(tt.name); got != tt.want {
			t.Errorf("Match(%q) with include %q exclude %q = %v, want %v", tt.name, tt.include, tt.exclude, got, tt.want)
		}
	}
	if _, err := (config.IncludeExclude{Include: []string{"^g++$"}}).Matcher(); err == nil {
		t.Error("Matcher accepted ^g++$")
	}
	var nilMatcher *config.Matcher
	if !nilMatcher.Match("x") {
		t.Error("nil Matcher refused a name")
	}
	l := config.IncludeExclude{Include: []string{"x86_64", "noarch"}, Exclude: []string{"noarch"}}
	if !l.Allows("x86_64") || l.Allows("noarch") || l.Allows("i686") || !(config.IncludeExclude{}).Allows("any") {
		t.Error("IncludeExclude.Allows wrong")
	}
}

func TestValidateHandBuilt(t *testing.T) {
	c := &config.Config{
		Storage: config.Storage{BasePath: "relative/path"},
		Repositories: []config.Repository{
			{ID: "a", Type: "rpm", Feed: "https://x.example/"},
			{ID: "a", Type: "rpm", Feed: "https://x.example/"},
		},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a relative base_path and a duplicate id")
	}
	for _, w := range []string{`storage: path "relative/path" must be absolute`, `repository "a" already defined`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate error %q lacks %q", err, w)
		}
	}
	ok := &config.Config{Repositories: []config.Repository{{ID: "a", Type: "rpm", Feed: "https://x.example/"}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(minimal) = %v", err)
	}
}

func TestPostProcessingLatestN(t *testing.T) {
	for _, tt := range []struct {
		p    config.PostProcessing
		want int
	}{{config.PostProcessing{}, 0}, {config.PostProcessing{OnlyLatestVersion: true}, 1}, {config.PostProcessing{OnlyLatestNVersions: 3}, 3}} {
		if got := tt.p.LatestN(); got != tt.want {
			t.Errorf("%+v.LatestN() = %d, want %d", tt.p, got, tt.want)
		}
	}
}
