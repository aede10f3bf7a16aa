package config

import (
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
)

// Validate checks the configuration as Load does, without file and line
// information. It does not apply defaults and does not change c.
func (c *Config) Validate() error { return validate(c, nil) }

type validator struct {
	pos  map[any]pos
	cur  pos // the repository or view being checked, for values not written
	errs errorList
}

// add records a problem with the value ptr points to; ptr also locates it.
// A value that was not written in the file is reported at its repository or
// view.
func (v *validator) add(ptr any, cause error, format string, args ...any) {
	p, ok := v.pos[ptr]
	if !ok {
		p = v.cur
	}
	v.errs.add(p, fmt.Sprintf(format, args...), cause)
}

var (
	idRE         = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	typeRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	plainTokenRE = regexp.MustCompile(`^[A-Za-z0-9._+~-]+$`)
	headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	hexRE        = regexp.MustCompile(`^[0-9A-F]+$`)
)

// isID reports whether s is a repository id, view or snapshot name.
func isID(s string) bool { return idRE.MatchString(s) && s != "." && s != ".." }

// isPlainToken reports whether s can be used as an APT component or
// architecture: no '/', no whitespace, no "..".
func isPlainToken(s string) bool {
	return plainTokenRE.MatchString(s) && !strings.Contains(s, "..") && s != "."
}

// isDistribution allows plain tokens joined by single inner slashes
// ("bookworm/updates").
func isDistribution(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, "/") {
		if !isPlainToken(part) {
			return false
		}
	}
	return true
}

// isLocalPath reports whether p is a clean relative path that stays below
// its root.
func isLocalPath(p string) bool {
	return p != "." && path.Clean(p) == p && filepath.IsLocal(p) && !strings.ContainsAny(p, "\\\x00\r\n")
}

func validate(c *Config, positions map[any]pos) error {
	v := &validator{pos: positions}
	s := &c.Storage
	for _, p := range []*string{&s.BasePath, &s.PublishedPath, &s.TempPath} {
		if *p != "" && !filepath.IsAbs(*p) {
			v.add(p, nil, "storage: path %q must be absolute", *p)
		}
	}
	if s.GCGrace.Duration < 0 {
		v.add(&s.GCGrace, nil, "storage.gc_grace: must not be negative")
	}
	if c.Publish.KeepVersions < 0 {
		v.add(&c.Publish.KeepVersions, nil, "publish.keep_versions: must not be negative")
	}
	v.download("download", &c.Download)
	v.gpg("gpg", &c.GPG)

	repos := map[string]*Repository{}
	for i := range c.Repositories {
		r := &c.Repositories[i]
		v.repository(r)
		if prev, dup := repos[r.ID]; dup && r.ID != "" {
			v.add(&r.ID, nil, "repository %q already defined at %s", r.ID, where(v.pos[&prev.ID]))
			continue
		}
		repos[r.ID] = r
	}
	views := map[string]*View{}
	for i := range c.Views {
		w := &c.Views[i]
		v.view(w, repos)
		if prev, dup := views[w.Name]; dup && w.Name != "" {
			v.add(&w.Name, nil, "view %q already defined at %s", w.Name, where(v.pos[&prev.Name]))
			continue
		}
		views[w.Name] = w
	}
	v.errataSources(c, repos)
	return v.errs.err()
}

func where(p pos) string {
	switch {
	case p.file != "" && p.line > 0:
		return fmt.Sprintf("%s:%d", p.file, p.line)
	case p.file != "":
		return p.file
	case p.line > 0:
		return fmt.Sprintf("line %d", p.line)
	}
	return "an earlier entry"
}

func (v *validator) download(ctx string, d *Download) {
	if d.Parallel < 0 || d.Parallel > 1024 {
		v.add(&d.Parallel, nil, "%s.parallel: %d is out of range (1..1024, 0 for the default)", ctx, d.Parallel)
	}
	if d.Retries < 0 || d.Retries > 100 {
		v.add(&d.Retries, nil, "%s.retries: %d is out of range (0..100)", ctx, d.Retries)
	}
	if d.Timeout.Duration < 0 {
		v.add(&d.Timeout, nil, "%s.timeout: must not be negative", ctx)
	}
	if d.RateLimit < 0 {
		v.add(&d.RateLimit, nil, "%s.rate_limit: must not be negative", ctx)
	}
	if strings.ContainsAny(d.UserAgent, "\r\n\x00") {
		v.add(&d.UserAgent, nil, "%s.user_agent: must be a single line", ctx)
	}
}

func (v *validator) gpg(ctx string, g *GPG) {
	if g.Passphrase != "" && g.PassphraseFile != "" {
		v.add(&g.PassphraseFile, nil, "%s: passphrase and passphrase_file are exclusive", ctx)
	}
	if g.GenerateKey && g.KeyFile != "" {
		v.add(&g.KeyFile, nil, "%s: generate_key and key_file are exclusive", ctx)
	}
}

// formatOnly names filters that only make sense for one format.
func formatOnly(f *Filters) map[string][]string {
	m := map[string][]string{}
	add := func(format, key string, set bool) {
		if set {
			m[format] = append(m[format], key)
		}
	}
	add("rpm", "groups", !f.Groups.IsZero())
	add("rpm", "licenses", !f.Licenses.IsZero())
	add("rpm", "vendors", !f.Vendors.IsZero())
	add("rpm", "epochs", !f.Epochs.IsZero())
	add("rpm", "exclude_source", f.ExcludeSource)
	add("apt", "sections", !f.Sections.IsZero())
	add("apt", "priorities", !f.Priorities.IsZero())
	add("apt", "components", !f.Components.IsZero())
	add("helm", "skip_deprecated", f.SkipDeprecated)
	add("helm", "skip_prerelease", f.SkipPrerelease)
	add("helm", "versions", f.Versions != "")
	return m
}

var builtinFormats = map[string]bool{"rpm": true, "apt": true, "helm": true}

func (v *validator) repository(r *Repository) {
	v.cur = v.pos[r]
	ctx := fmt.Sprintf("repository %q", r.ID)
	if r.ID == "" {
		ctx = "repository"
		v.add(r, nil, "repository: id is required")
	} else if !isID(r.ID) {
		v.add(&r.ID, nil, "repository id %q: want letters, digits, '.', '_' or '-' (not \".\" or \"..\")", r.ID)
	}
	switch {
	case r.Type == "":
		v.add(r, nil, "%s: type is required (rpm, apt, helm, …)", ctx)
	case !typeRE.MatchString(r.Type):
		v.add(&r.Type, nil, "%s: type %q is not a lower-case format name", ctx, r.Type)
	}
	switch r.Mode {
	case "", ModeFiltered, ModeMirror:
		if r.Feed == "" {
			v.add(r, nil, "%s: feed is required (except in hosted mode)", ctx)
		}
	case ModeHosted:
		if r.Feed != "" {
			v.add(&r.Feed, nil, "%s: a hosted repository has no feed", ctx)
		}
	default:
		v.add(&r.Mode, nil, "%s: mode %q: want mirror, filtered or hosted", ctx, r.Mode)
	}
	if r.Feed != "" {
		if err := checkURL(r.Feed, "http", "https", "file"); err != nil {
			v.add(&r.Feed, nil, "%s: feed: %v", ctx, err)
		}
	}
	if r.PublishPath != "" && !isLocalPath(r.PublishPath) {
		v.add(&r.PublishPath, nil, "%s: publish_path %q must be a clean relative path without ..", ctx, r.PublishPath)
	}

	v.ssl(ctx, &r.SSL)
	v.auth(ctx, &r.Auth)
	v.proxy(ctx, &r.Proxy)
	if r.Download != nil {
		v.download(ctx+": download", r.Download)
	}
	if r.Mode == ModeMirror && !r.Filters.IsZero() {
		v.add(&r.Filters, nil, "%s: mirror mode publishes upstream metadata byte for byte; filters need mode: filtered", ctx)
	}
	v.filters(ctx, r)
	v.verify(ctx, &r.Verify)
	v.gpg(ctx+": gpg", &r.GPG)
	v.apt(ctx, r)

	if builtinFormats[r.Type] && r.Type != "rpm" && r.RPM != (RPM{}) {
		v.add(&r.RPM, nil, "%s: the rpm section applies to rpm repositories only", ctx)
	}
	if builtinFormats[r.Type] && r.Type != "helm" && r.Helm != (Helm{}) {
		v.add(&r.Helm, nil, "%s: the helm section applies to helm repositories only", ctx)
	}
	switch r.RPM.Compression {
	case "", "auto", "gz", "xz", "zst", "bz2", "none":
	default:
		if _, ok := compressionAliases[r.RPM.Compression]; !ok {
			v.add(&r.RPM.Compression, nil, "%s: rpm.compression %q: want auto, gz, xz, zst, bz2 or none", ctx, r.RPM.Compression)
		}
	}
	switch r.Retention.Policy {
	case "", RetentionMirror, RetentionNewestOnly, RetentionKeepAll:
		if r.Retention.KeepCount != 0 {
			v.add(&r.Retention.KeepCount, nil, "%s: retention.keep_count needs policy keep-last-n", ctx)
		}
	case RetentionKeepLastN:
		if r.Retention.KeepCount < 1 {
			v.add(&r.Retention, nil, "%s: retention policy keep-last-n needs keep_count of at least 1", ctx)
		}
	default:
		v.add(&r.Retention.Policy, nil, "%s: retention.policy %q: want mirror, newest-only, keep-last-n or keep-all", ctx, r.Retention.Policy)
	}
}

// checkURL checks an absolute URL with one of the given schemes.
func checkURL(s string, schemes ...string) error {
	if strings.ContainsAny(s, " \t\r\n\x00") {
		return fmt.Errorf("URL %q contains whitespace", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid URL: %w", err)
	}
	ok := false
	for _, sc := range schemes {
		ok = ok || u.Scheme == sc
	}
	if !ok {
		return fmt.Errorf("URL scheme %q: want %s", u.Scheme, strings.Join(schemes, ", "))
	}
	if u.Scheme == "file" {
		if u.Path == "" || u.Opaque != "" {
			return fmt.Errorf("file URL needs an absolute path (file:///dir)")
		}
	} else if u.Host == "" {
		return fmt.Errorf("URL has no host")
	}
	return nil
}

func (v *validator) ssl(ctx string, s *SSL) {
	if (s.ClientCert == "") != (s.ClientKey == "") {
		v.add(s, nil, "%s: ssl.client_cert and ssl.client_key go together", ctx)
	}
	if s.CertDir != "" && s.ClientCert != "" {
		v.add(&s.CertDir, nil, "%s: ssl.cert_dir and ssl.client_cert are exclusive", ctx)
	}
}

func (v *validator) auth(ctx string, a *Auth) {
	set := map[string]bool{"username": a.Username != "", "password": a.Password != "", "token": a.Token != "", "headers": len(a.Headers) > 0}
	allowed := map[string]bool{}
	switch a.Type {
	case "":
		for _, k := range []string{"username", "password", "token", "headers"} {
			if set[k] {
				v.add(a, nil, "%s: auth.%s needs auth.type (basic, bearer or custom)", ctx, k)
				return
			}
		}
		return
	case AuthBasic:
		allowed["username"], allowed["password"] = true, true
		if a.Username == "" {
			v.add(a, nil, "%s: auth type basic needs a username", ctx)
		}
	case AuthBearer:
		allowed["token"] = true
		if a.Token == "" {
			v.add(a, nil, "%s: auth type bearer needs a token", ctx)
		}
	case AuthCustom:
		allowed["headers"] = true
		if len(a.Headers) == 0 {
			v.add(a, nil, "%s: auth type custom needs headers", ctx)
		}
	default:
		v.add(&a.Type, nil, "%s: auth.type %q: want basic, bearer or custom", ctx, a.Type)
		return
	}
	for _, k := range []string{"username", "password", "token", "headers"} {
		if set[k] && !allowed[k] {
			v.add(a, nil, "%s: auth.%s does not apply to auth type %s", ctx, k, a.Type)
		}
	}
	for name, val := range a.Headers {
		if !headerNameRE.MatchString(name) {
			v.add(&a.Headers, nil, "%s: auth.headers: invalid header name %q", ctx, name)
		}
		if strings.ContainsAny(val, "\r\n\x00") {
			v.add(&a.Headers, nil, "%s: auth.headers: value of %s must be a single line", ctx, name)
		}
	}
}

func (v *validator) proxy(ctx string, p *Proxy) {
	if p.URL == "" {
		if p.Username != "" || p.Password != "" || p.NoProxy != "" {
			v.add(p, nil, "%s: proxy settings need proxy.url", ctx)
		}
		return
	}
	if err := checkURL(p.URL, "http", "https", "socks5"); err != nil {
		// The URL may hold credentials: do not repeat it.
		v.add(&p.URL, nil, "%s: proxy.url is not a valid http, https or socks5 URL", ctx)
		return
	}
	if p.Password != "" && p.Username == "" {
		v.add(&p.Password, nil, "%s: proxy.password needs proxy.username", ctx)
	}
}

func (v *validator) filters(ctx string, r *Repository) {
	f := &r.Filters
	ctx += ": filters"
	for _, l := range []*[]string{&f.Patterns.Include, &f.Patterns.Exclude} {
		for i := range *l {
			p := &(*l)[i]
			if _, err := regexp.Compile(*p); err != nil {
				v.add(p, err, "%s.patterns: invalid regular expression %q (RE2 syntax): %v", ctx, *p, reErrText(err))
			}
		}
	}
	for _, l := range []*[]string{&f.Architectures.Include, &f.Architectures.Exclude} {
		for i := range *l {
			if !isPlainToken((*l)[i]) {
				v.add(&(*l)[i], nil, "%s.architectures: %q is not a plain token", ctx, (*l)[i])
			}
		}
	}
	for _, l := range []*IncludeExclude{&f.Groups, &f.Licenses, &f.Vendors, &f.Sections, &f.Priorities, &f.Components} {
		for _, s := range [][]string{l.Include, l.Exclude} {
			for i := range s {
				if strings.TrimSpace(s[i]) == "" {
					v.add(&s[i], nil, "%s: empty value", ctx)
				}
			}
		}
	}
	for _, s := range [][]string{f.Epochs.Include, f.Epochs.Exclude} {
		for i := range s {
			if strings.Trim(s[i], "0123456789") != "" || s[i] == "" {
				v.add(&s[i], nil, "%s.epochs: %q is not a number", ctx, s[i])
			}
		}
	}
	sz := &f.SizeBytes
	if sz.Min < 0 || sz.Max < 0 {
		v.add(sz, nil, "%s.size_bytes: must not be negative", ctx)
	} else if sz.Max != 0 && sz.Min > sz.Max {
		v.add(sz, nil, "%s.size_bytes: min %d is above max %d", ctx, sz.Min, sz.Max)
	}
	bt := &f.BuildTime
	after, aerr := parseDate(bt.After)
	if aerr != nil {
		v.add(&bt.After, nil, "%s.build_time.newer_than: %q is not an RFC 3339 time or YYYY-MM-DD date", ctx, bt.After)
	}
	before, berr := parseDate(bt.Before)
	if berr != nil {
		v.add(&bt.Before, nil, "%s.build_time.older_than: %q is not an RFC 3339 time or YYYY-MM-DD date", ctx, bt.Before)
	}
	if aerr == nil && berr == nil && bt.After != "" && bt.Before != "" && !after.Before(before) {
		v.add(bt, nil, "%s.build_time: newer_than must be before older_than", ctx)
	}
	if bt.LastNDays < 0 {
		v.add(&bt.LastNDays, nil, "%s.build_time.last_n_days: must not be negative", ctx)
	}
	pp := &f.PostProcessing
	if pp.OnlyLatestNVersions < 0 {
		v.add(&pp.OnlyLatestNVersions, nil, "%s.post_processing.only_latest_n_versions: must not be negative", ctx)
	}
	if pp.OnlyLatestVersion && pp.OnlyLatestNVersions > 1 {
		v.add(pp, nil, "%s.post_processing: only_latest_version contradicts only_latest_n_versions: %d", ctx, pp.OnlyLatestNVersions)
	}
	if builtinFormats[r.Type] {
		only := formatOnly(f)
		for _, format := range []string{"apt", "helm", "rpm"} {
			if keys := only[format]; len(keys) > 0 && format != r.Type {
				v.add(f, nil, "%s: %s apply to %s repositories only", ctx, strings.Join(keys, ", "), format)
			}
		}
	}
}

// reErrText drops the "error parsing regexp: " prefix the message already implies.
func reErrText(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

func (v *validator) verify(ctx string, vf *Verify) {
	switch vf.OnInvalid {
	case "", OnInvalidFail, OnInvalidWarn, OnInvalidSkip:
	default:
		v.add(&vf.OnInvalid, nil, "%s: verify.on_invalid %q: want fail, warn or skip", ctx, vf.OnInvalid)
	}
	if vf.Enabled != nil && *vf.Enabled && len(vf.Keys) == 0 {
		v.add(vf, nil, "%s: verify is enabled but names no keys", ctx)
	}
	if vf.GPGCheck && !vf.IsEnabled() {
		v.add(&vf.GPGCheck, nil, "%s: verify.gpgcheck checks packages against the repository's keys: it needs verify enabled with keys", ctx)
	}
	for i := range vf.TrustedFingerprints {
		fp := normalizeFingerprint(vf.TrustedFingerprints[i])
		if len(fp) < 16 || len(fp) > 64 || !hexRE.MatchString(fp) {
			v.add(&vf.TrustedFingerprints[i], nil, "%s: verify.trusted_fingerprints: %q is not a key fingerprint (16 to 64 hex digits)", ctx, vf.TrustedFingerprints[i])
		}
	}
	for i := range vf.Keys {
		if vf.Keys[i] == "" {
			v.add(&vf.Keys[i], nil, "%s: verify.keys: empty path", ctx)
		}
	}
}

func (v *validator) apt(ctx string, r *Repository) {
	a := &r.APT
	if r.Type != "apt" {
		if builtinFormats[r.Type] && !reflect.ValueOf(*a).IsZero() {
			v.add(a, nil, "%s: the apt section applies to apt repositories only", ctx)
		}
		return
	}
	switch {
	case a.Flat:
		if a.Distribution != "" && a.Distribution != "." && !isLocalPath(a.Distribution) {
			v.add(&a.Distribution, nil, "%s: apt.distribution %q of a flat repository must be a relative directory", ctx, a.Distribution)
		}
		if len(a.Components) > 0 {
			v.add(&a.Components, nil, "%s: a flat apt repository has no components", ctx)
		}
	case a.Distribution == "":
		v.add(a, nil, "%s: apt.distribution is required", ctx)
	case !isDistribution(a.Distribution):
		v.add(&a.Distribution, nil, "%s: apt.distribution %q: want a token, '/' only between parts, no ..", ctx, a.Distribution)
	}
	for i := range a.Components {
		if !isPlainToken(a.Components[i]) {
			v.add(&a.Components[i], nil, "%s: apt.components: %q is not a plain token (no '/', spaces or ..)", ctx, a.Components[i])
		}
	}
	for i := range a.Architectures {
		if !isPlainToken(a.Architectures[i]) {
			v.add(&a.Architectures[i], nil, "%s: apt.architectures: %q is not a plain token (no '/', spaces or ..)", ctx, a.Architectures[i])
		}
	}
}

func (v *validator) view(w *View, repos map[string]*Repository) {
	v.cur = v.pos[w]
	ctx := fmt.Sprintf("view %q", w.Name)
	if w.Name == "" {
		ctx = "view"
		v.add(w, nil, "view: name is required")
	} else if !isID(w.Name) {
		v.add(&w.Name, nil, "view name %q: want letters, digits, '.', '_' or '-' (not \".\" or \"..\")", w.Name)
	}
	if len(w.Repos)+len(w.Snapshots) == 0 {
		v.add(w, nil, "%s: needs repos or snapshots", ctx)
	}
	if w.PublishPath != "" && !isLocalPath(w.PublishPath) {
		v.add(&w.PublishPath, nil, "%s: publish_path %q must be a clean relative path without ..", ctx, w.PublishPath)
	}
	v.errataFilter(ctx, w, repos)
	var typ, first string
	member := func(ptr *string, id, label string) {
		r, ok := repos[id]
		if !ok {
			v.add(ptr, nil, "%s: %s names unknown repository %q", ctx, label, id)
			return
		}
		switch {
		case typ == "":
			typ, first = r.Type, id
		case r.Type != typ:
			v.add(ptr, nil, "%s: repository %q is %s but %q is %s; a view holds one type", ctx, id, r.Type, first, typ)
		}
	}
	seen := map[string]bool{}
	for i := range w.Repos {
		id := w.Repos[i]
		if seen[id] {
			v.add(&w.Repos[i], nil, "%s: repository %q listed twice", ctx, id)
			continue
		}
		seen[id] = true
		member(&w.Repos[i], id, "repos")
	}
	for i := range w.Snapshots {
		s := w.Snapshots[i]
		repo, name, ok := strings.Cut(s, "/")
		if !ok || !isID(repo) || !isID(name) {
			v.add(&w.Snapshots[i], nil, "%s: snapshot %q: want REPO/NAME", ctx, s)
			continue
		}
		if seen[s] {
			v.add(&w.Snapshots[i], nil, "%s: snapshot %q listed twice", ctx, s)
			continue
		}
		seen[s] = true
		member(&w.Snapshots[i], repo, "snapshots")
	}
}

// errataTypes and errataSeverities are the words errata filters accept
// (the errata package's normalised types and severities).
var (
	errataTypes      = map[string]bool{"security": true, "bugfix": true, "enhancement": true, "newpackage": true}
	errataSeverities = map[string]bool{"none": true, "low": true, "moderate": true, "important": true, "critical": true}
	cveRE            = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)
)

func (v *validator) errataFilter(ctx string, w *View, repos map[string]*Repository) {
	f := w.ErrataFilter
	if f == nil {
		return
	}
	ctx += ": errata_filter"
	repo, name, ok := strings.Cut(f.Base, "/")
	switch {
	case !ok || !isID(repo) || !isID(name):
		v.add(&f.Base, nil, "%s.base %q: want REPO/SNAPSHOT", ctx, f.Base)
	case repos[repo] == nil:
		v.add(&f.Base, nil, "%s.base names unknown repository %q", ctx, repo)
	default:
		for _, id := range w.Repos {
			if r := repos[id]; r != nil && r.Type != repos[repo].Type {
				v.add(&f.Base, nil, "%s.base: repository %q is %s but member %q is %s", ctx, repo, repos[repo].Type, id, r.Type)
				break
			}
		}
	}
	for i := range f.Types {
		if !errataTypes[f.Types[i]] {
			v.add(&f.Types[i], nil, "%s.types: %q: want security, bugfix, enhancement or newpackage", ctx, f.Types[i])
		}
	}
	if f.Severity != "" && !errataSeverities[f.Severity] {
		v.add(&f.Severity, nil, "%s.severity %q: want low, moderate, important or critical", ctx, f.Severity)
	}
	for i := range f.CVEs {
		if !cveRE.MatchString(f.CVEs[i]) {
			v.add(&f.CVEs[i], nil, "%s.cves: %q is not a CVE id (CVE-YYYY-NNNN)", ctx, f.CVEs[i])
		}
	}
	for i := range f.IDs {
		if strings.TrimSpace(f.IDs[i]) == "" || strings.ContainsAny(f.IDs[i], "\x00\t\r\n") {
			v.add(&f.IDs[i], nil, "%s.ids: empty or multi-line id", ctx)
		}
	}
	if _, err := parseDate(f.IssuedBefore); err != nil {
		v.add(&f.IssuedBefore, nil, "%s.issued_before: %q is not an RFC 3339 time or YYYY-MM-DD date", ctx, f.IssuedBefore)
	}
}

func (v *validator) errataSources(c *Config, repos map[string]*Repository) {
	seen := map[string]*ErrataSource{}
	for i := range c.ErrataSources {
		s := &c.ErrataSources[i]
		v.cur = v.pos[s]
		ctx := fmt.Sprintf("errata source %q", s.ID)
		switch {
		case s.ID == "":
			ctx = "errata source"
			v.add(s, nil, "errata source: id is required")
		case !isID(s.ID):
			v.add(&s.ID, nil, "errata source id %q: want letters, digits, '.', '_' or '-' (not \".\" or \"..\")", s.ID)
		case repos[s.ID] != nil:
			v.add(&s.ID, nil, "%s: a repository has this id; errata sources and repositories share one namespace", ctx)
		case seen[s.ID] != nil:
			v.add(&s.ID, nil, "errata source %q already defined at %s", s.ID, where(v.pos[&seen[s.ID].ID]))
		}
		if s.ID != "" && seen[s.ID] == nil {
			seen[s.ID] = s
		}
		if s.Type != ErrataOSV {
			v.add(&s.Type, nil, "%s: type %q: want osv", ctx, s.Type)
		}
		switch {
		case (s.URL == "") == (s.Path == ""):
			v.add(s, nil, "%s: set exactly one of url and path", ctx)
		case s.URL != "":
			if err := checkURL(s.URL, "http", "https", "file"); err != nil {
				v.add(&s.URL, nil, "%s: url: %v", ctx, err)
			}
		case strings.ContainsAny(s.Path, "\x00\r\n"):
			v.add(&s.Path, nil, "%s: path must be a single line", ctx)
		}
		if s.Ecosystem != "" && (strings.TrimSpace(s.Ecosystem) != s.Ecosystem || strings.ContainsAny(s.Ecosystem, "\x00\t\r\n /")) {
			v.add(&s.Ecosystem, nil, "%s: ecosystem %q: want an OSV ecosystem such as Debian:12", ctx, s.Ecosystem)
		}
		for j := range s.AppliesTo {
			if repos[s.AppliesTo[j]] == nil {
				v.add(&s.AppliesTo[j], nil, "%s: applies_to names unknown repository %q", ctx, s.AppliesTo[j])
			}
		}
	}
}
