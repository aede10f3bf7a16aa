package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadOptions are the hooks Load and Parse use to reach the outside world.
// A nil *LoadOptions, or a nil field, means the operating system's.
type LoadOptions struct {
	Getenv   func(string) (string, bool)    // default os.LookupEnv
	ReadFile func(string) ([]byte, error)   // default os.ReadFile
	Glob     func(string) ([]string, error) // default filepath.Glob
}

func (o *LoadOptions) withDefaults() LoadOptions {
	var r LoadOptions
	if o != nil {
		r = *o
	}
	if r.Getenv == nil {
		r.Getenv = os.LookupEnv
	}
	if r.ReadFile == nil {
		r.ReadFile = os.ReadFile
	}
	if r.Glob == nil {
		r.Glob = filepath.Glob
	}
	return r
}

// Load reads the configuration file at path and everything it includes, and
// returns it expanded, validated and with defaults applied. Problems in the
// files are reported as *Error values (joined when there are several).
func Load(path string, o *LoadOptions) (*Config, error) {
	opts := o.withDefaults()
	data, err := opts.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data, path, &opts)
}

// Parse is Load for a main file whose contents are already in memory. name
// is used in error messages, and its directory anchors include patterns and
// relative paths.
func Parse(data []byte, name string, o *LoadOptions) (*Config, error) {
	opts := o.withDefaults()
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		return nil, fmt.Errorf("resolving config directory: %w", err)
	}
	d := newDecoder(opts.Getenv)
	d.file = name
	cfg := &Config{Files: []string{name}}

	root, err := parseYAML(data, name)
	if err != nil {
		return nil, err
	}
	var parts []filePart
	main := d.split(root, true)
	main.dir = dir
	if main.rest != nil {
		d.decode(main.rest, reflect.ValueOf(cfg).Elem(), 0, false)
	}
	parts = append(parts, main)
	if err := d.errs.err(); err != nil {
		return nil, err
	}

	files, errs := includes(cfg, dir, name, d.pos, opts.Glob)
	for _, f := range files {
		data, err := opts.ReadFile(f.path)
		if err != nil {
			errs.add(f.at, "reading included file "+f.path, err)
			continue
		}
		cfg.Files = append(cfg.Files, f.path)
		root, err := parseYAML(data, f.path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.file = f.path
		p := d.split(root, false)
		p.dir = filepath.Dir(f.path)
		parts = append(parts, p)
	}
	errs = append(errs, d.errs...)
	if err := errs.err(); err != nil {
		return nil, err
	}

	// Decode the lists into slices of their final size, so the addresses the
	// decoder records stay valid for validation.
	var nr, nv int
	for _, p := range parts {
		nr += len(p.repos)
		nv += len(p.views)
	}
	if nr > 0 {
		cfg.Repositories = make([]Repository, nr)
	}
	if nv > 0 {
		cfg.Views = make([]View, nv)
	}
	ri, vi := 0, 0
	for _, p := range parts {
		d.file = p.file
		for _, n := range p.repos {
			d.decode(n, reflect.ValueOf(&cfg.Repositories[ri]).Elem(), 1, false)
			resolveRepoPaths(&cfg.Repositories[ri], p.dir)
			ri++
		}
		for _, n := range p.views {
			d.decode(n, reflect.ValueOf(&cfg.Views[vi]).Elem(), 1, false)
			vi++
		}
	}
	if err := d.errs.err(); err != nil {
		return nil, err
	}

	resolveStoragePaths(&cfg.Storage, dir)
	for i := range cfg.ErrataSources {
		cfg.ErrataSources[i].Path = resolvePath(dir, cfg.ErrataSources[i].Path)
	}
	cfg.GPG = resolveGPG(cfg.GPG, dir)
	normalize(cfg)
	if err := validate(cfg, d.pos); err != nil {
		return nil, err
	}
	applyDefaults(cfg, d.present)
	return cfg, nil
}

// filePart is what one file contributes.
type filePart struct {
	file  string
	dir   string
	rest  *yaml.Node   // the mapping without repositories and views (main file only)
	repos []*yaml.Node // repository mappings
	views []*yaml.Node // view mappings
}

// split separates a file's repositories and views from the rest. An included
// file may hold nothing else.
func (d *decoder) split(root *yaml.Node, main bool) filePart {
	p := filePart{file: d.file}
	if root == nil || isNull(root) {
		return p
	}
	if root.Kind != yaml.MappingNode {
		d.fail(root, "expected a mapping at the top level, got %s", kindName(root))
		return p
	}
	rest := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: root.Line, Column: root.Column}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, "mapping key must be a scalar, got %s", kindName(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			d.fail(k, "merge keys (<<) are not supported at the top level")
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.fail(k, "key %q already defined at line %d", k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		switch {
		case k.Value == "repositories":
			p.repos = d.list(v)
		case k.Value == "views":
			p.views = d.list(v)
		case main:
			rest.Content = append(rest.Content, k, v)
		case k.Value == "include":
			d.fail(k, "include is not allowed in an included file (no nested includes)")
		default:
			d.fail(k, "key %q is not allowed in an included file (only repositories and views)", k.Value)
		}
	}
	if main {
		p.rest = rest
	}
	return p
}

// list returns the elements of a sequence of mappings.
func (d *decoder) list(n *yaml.Node) []*yaml.Node {
	n = d.deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, "expected a list, got %s", kindName(n))
		return nil
	}
	var out []*yaml.Node
	for _, e := range n.Content {
		if isNull(d.deref(e)) {
			d.fail(e, "empty list element")
			continue
		}
		out = append(out, e)
	}
	return out
}

type includedFile struct {
	path string
	at   pos // the include entry that named it
}

// includes expands the include patterns of the main file. Relative patterns
// are relative to dir. Matches are sorted; only *.yaml and *.yml files are
// taken, each once, and never the main file itself. A pattern without glob
// characters must name an existing file.
func includes(cfg *Config, dir, mainName string, positions map[any]pos, glob func(string) ([]string, error)) ([]includedFile, errorList) {
	var errs errorList
	var out []includedFile
	mainAbs, _ := filepath.Abs(mainName) // on error the comparison below just never matches
	seen := map[string]bool{filepath.Clean(mainAbs): true}
	for i := range cfg.Include {
		at := positions[&cfg.Include[i]]
		pat := cfg.Include[i]
		if pat == "" {
			errs.add(at, "empty include pattern", nil)
			continue
		}
		if !filepath.IsAbs(pat) {
			pat = filepath.Join(dir, pat)
		}
		if _, err := filepath.Match(pat, ""); err != nil {
			errs.add(at, fmt.Sprintf("invalid include pattern %q", cfg.Include[i]), err)
			continue
		}
		matches, err := glob(pat)
		if err != nil {
			errs.add(at, fmt.Sprintf("expanding include pattern %q", cfg.Include[i]), err)
			continue
		}
		if len(matches) == 0 && !strings.ContainsAny(pat, `*?[\`) {
			errs.add(at, fmt.Sprintf("included file %s does not exist", pat), nil)
			continue
		}
		slices.Sort(matches)
		for _, m := range matches {
			ext := strings.ToLower(filepath.Ext(m))
			if ext != ".yaml" && ext != ".yml" {
				continue
			}
			abs, err := filepath.Abs(m)
			if err != nil {
				abs = m
			}
			if seen[filepath.Clean(abs)] {
				continue
			}
			seen[filepath.Clean(abs)] = true
			out = append(out, includedFile{path: m, at: at})
		}
	}
	return out, errs
}

func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func resolveStoragePaths(s *Storage, dir string) {
	s.BasePath = resolvePath(dir, s.BasePath)
	s.PublishedPath = resolvePath(dir, s.PublishedPath)
	s.TempPath = resolvePath(dir, s.TempPath)
}

func resolveGPG(g GPG, dir string) GPG {
	g.KeyFile = resolvePath(dir, g.KeyFile)
	g.PassphraseFile = resolvePath(dir, g.PassphraseFile)
	return g
}

// resolveRepoPaths makes the file paths of a repository absolute against the
// directory of the file that declares it.
func resolveRepoPaths(r *Repository, dir string) {
	r.SSL.CABundle = resolvePath(dir, r.SSL.CABundle)
	r.SSL.ClientCert = resolvePath(dir, r.SSL.ClientCert)
	r.SSL.ClientKey = resolvePath(dir, r.SSL.ClientKey)
	r.SSL.CertDir = resolvePath(dir, r.SSL.CertDir)
	for i := range r.Verify.Keys {
		r.Verify.Keys[i] = resolvePath(dir, r.Verify.Keys[i])
	}
	r.GPG = resolveGPG(r.GPG, dir)
}

// normalize rewrites values that have several accepted spellings into one.
func normalize(c *Config) {
	for i := range c.Repositories {
		r := &c.Repositories[i]
		for j, fp := range r.Verify.TrustedFingerprints {
			r.Verify.TrustedFingerprints[j] = normalizeFingerprint(fp)
		}
		if v, ok := compressionAliases[r.RPM.Compression]; ok {
			r.RPM.Compression = v
		}
	}
}

func normalizeFingerprint(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// compressionAliases is a constant table of accepted spellings.
var compressionAliases = map[string]string{
	"gzip": "gz", "zstd": "zst", "zstandard": "zst", "bzip2": "bz2",
}

// applyDefaults fills in what the files left out. present tells which keys
// were given, for settings whose zero value is meaningful.
func applyDefaults(c *Config, present map[any]map[string]bool) {
	s := &c.Storage
	if s.BasePath == "" {
		s.BasePath = DefaultBasePath
	}
	if s.PublishedPath == "" {
		s.PublishedPath = filepath.Join(s.BasePath, "published")
	}
	if s.TempPath == "" {
		s.TempPath = filepath.Join(s.BasePath, "tmp")
	}
	if !present[s]["gc_grace"] {
		s.GCGrace = Duration{DefaultGCGrace}
	}
	if !present[&c.Publish]["keep_versions"] {
		c.Publish.KeepVersions = DefaultKeepVersions
	}
	g := &c.Download
	if g.Parallel == 0 {
		g.Parallel = DefaultParallel
	}
	if !present[g]["retries"] {
		g.Retries = DefaultRetries
	}
	if g.Timeout.Duration == 0 {
		g.Timeout = Duration{DefaultTimeout}
	}
	for i := range c.Repositories {
		r := &c.Repositories[i]
		if r.Mode == "" {
			r.Mode = ModeFiltered
		}
		if r.Download != nil {
			r.Download = mergeDownload(*g, *r.Download, present[r.Download])
		}
		if r.Verify.OnInvalid == "" {
			r.Verify.OnInvalid = OnInvalidFail
		}
		if r.Retention.Policy == "" {
			r.Retention.Policy = RetentionMirror
		}
		switch r.Type {
		case "rpm":
			if r.RPM.Compression == "" {
				r.RPM.Compression = "auto"
			}
		case "apt":
			if !r.APT.Flat && len(r.APT.Components) == 0 {
				r.APT.Components = []string{"main"}
			}
			if len(r.APT.Architectures) == 0 {
				r.APT.Architectures = []string{"amd64"}
			}
		}
	}
}

// mergeDownload overlays the keys given in a repository's download section on
// the global one.
func mergeDownload(global, own Download, given map[string]bool) *Download {
	m := global
	if given["parallel"] && own.Parallel != 0 {
		m.Parallel = own.Parallel
	}
	if given["retries"] {
		m.Retries = own.Retries
	}
	if given["timeout"] && own.Timeout.Duration != 0 {
		m.Timeout = own.Timeout
	}
	if given["rate_limit"] {
		m.RateLimit = own.RateLimit
	}
	if given["user_agent"] {
		m.UserAgent = own.UserAgent
	}
	return &m
}
