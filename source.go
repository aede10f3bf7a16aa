package chantal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chantal-lite/chantal/config"
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/internal/fetch"
	"github.com/chantal-lite/chantal/internal/pgp"
)

// source builds the upstream Source of a repository from its configuration.
func (m *Mirror) source(rc *config.Repository) (*fetch.Source, error) {
	dl := m.cfg.DownloadFor(rc)
	id := rc.ID
	retries := dl.Retries
	if retries == 0 {
		retries = -1 // the configuration's explicit 0; fetch reads 0 as its default
	}
	return fetch.New(rc.Feed, &fetch.Options{
		Parallel:  dl.Parallel,
		Retries:   retries,
		Timeout:   dl.Timeout.Duration,
		RateLimit: dl.RateLimit,
		UserAgent: dl.UserAgent,
		TLS: fetch.TLSOptions{
			CABundle: rc.SSL.CABundle, ClientCert: rc.SSL.ClientCert, ClientKey: rc.SSL.ClientKey,
			CertDir: rc.SSL.CertDir, Insecure: rc.SSL.Insecure,
		},
		Auth: fetch.AuthOptions{
			Type: rc.Auth.Type, Username: rc.Auth.Username, Password: rc.Auth.Password,
			Token: rc.Auth.Token, Headers: rc.Auth.Headers,
		},
		Proxy: fetch.ProxyOptions{
			URL: rc.Proxy.URL, Username: rc.Proxy.Username, Password: rc.Proxy.Password, NoProxy: rc.Proxy.NoProxy,
		},
		Logger:    m.log.With("repo", id),
		Transport: m.transport,
		Progress: func(p fetch.Progress) {
			m.reporter.Report(Event{Kind: FetchProgress, Repo: id, Path: p.Path, Bytes: p.Done, Total: p.Total})
		},
	})
}

// formatParams passes a repository's format-specific settings to its format;
// list values are comma-separated.
func formatParams(rc *config.Repository) map[string]string {
	p := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			p[k] = v
		}
	}
	set("distribution", rc.APT.Distribution)
	set("components", strings.Join(rc.APT.Components, ","))
	set("architectures", strings.Join(rc.APT.Architectures, ","))
	if rc.APT.ByHash != nil {
		p["by_hash"] = strconv.FormatBool(*rc.APT.ByHash)
	}
	if rc.APT.Udebs {
		p["udebs"] = "true"
	}
	if rc.APT.Sources {
		p["sources"] = "true"
	}
	if rc.APT.Flat {
		p["flat"] = "true"
	}
	set("compression", rc.RPM.Compression)
	if rc.Helm.OCIPlainHTTP {
		p["oci_plain_http"] = "true"
	}
	set("repo", rc.ID)
	return p
}

// keyring adapts a pgp keyring to formats.Keyring with the Mirror's clock.
type keyring struct {
	k   *pgp.Keyring
	now func() time.Time
}

func (k keyring) VerifyDetached(signed, sig []byte) error {
	_, err := k.k.VerifyDetached(signed, sig, k.now())
	return err
}

func (k keyring) VerifyClearsigned(msg []byte) ([]byte, error) {
	payload, _, err := k.k.VerifyClearsigned(msg, k.now())
	return payload, err
}

// verify checks the top-level metadata's signature as the repository's
// verify settings say: fail (default), warn or skip on an invalid signature.
func (rs *repoSync) verify(ctx context.Context, top *formats.TopLevel, sigPath string) error {
	v := &rs.rc.Verify
	if !v.IsEnabled() {
		return nil
	}
	err := rs.checkSignature(ctx, top, sigPath)
	if err == nil {
		return nil
	}
	switch v.OnInvalid {
	case config.OnInvalidWarn:
		rs.m.log.Warn("upstream signature invalid; continuing as configured (on_invalid: warn)", "repo", rs.rc.ID, "err", err)
		return nil
	case config.OnInvalidSkip:
		return nil
	}
	return err
}

func (rs *repoSync) checkSignature(ctx context.Context, top *formats.TopLevel, sigPath string) error {
	v := &rs.rc.Verify
	if len(v.Keys) == 0 {
		return fmt.Errorf("%w: verification is enabled but verify.keys names no key", ErrVerify)
	}
	kr, err := pgp.LoadKeyring(v.Keys...)
	if err != nil {
		return fmt.Errorf("%w: loading keys: %w", ErrVerify, err)
	}
	if len(v.TrustedFingerprints) > 0 {
		if kr, err = kr.Pin(v.TrustedFingerprints); err != nil {
			return fmt.Errorf("%w: %w", ErrVerify, err)
		}
	}
	keys := keyring{k: kr, now: rs.m.now}
	if fv, ok := rs.format.(formats.Verifier); ok {
		if err := fv.Verify(ctx, top, keys); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrVerify, top.Path, err)
		}
		return nil
	}
	if sigPath == "" {
		return fmt.Errorf("%w: format %s has no signature to verify", ErrVerify, rs.format.Name())
	}
	if top.Signature == nil {
		return fmt.Errorf("%w: upstream has no %s", ErrVerify, sigPath)
	}
	if err := keys.VerifyDetached(top.Data, top.Signature); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrVerify, sigPath, err)
	}
	return nil
}

// itemFilter returns the per-item part of a repository's filters (patterns,
// architectures, sizes, build times, field lists, source and pre-release
// exclusions), which Sync applies while scanning so excluded items are never
// held in memory.
func itemFilter(rc *config.Repository, f formats.Format) (func(*formats.Item) bool, error) {
	fl := &rc.Filters
	if fl.Versions != "" {
		if _, ok := f.(formats.VersionMatcher); !ok {
			return nil, fmt.Errorf("filters.versions is not supported by format %s", f.Name())
		}
	}
	if fl.FilterWithDeps {
		if _, ok := f.(formats.DependencyResolver); !ok {
			return nil, fmt.Errorf("filters.filter_with_deps is not supported by format %s", f.Name())
		}
	}
	inc, err := compileAll(fl.Patterns.Include)
	if err != nil {
		return nil, err
	}
	exc, err := compileAll(fl.Patterns.Exclude)
	if err != nil {
		return nil, err
	}
	after, before, err := fl.BuildTime.Range()
	if err != nil {
		return nil, err
	}
	keep := func(it *formats.Item) bool {
		if len(inc) > 0 && !anyMatch(inc, it.Name) || anyMatch(exc, it.Name) {
			return false
		}
		if !fl.Architectures.Allows(it.Arch) {
			return false
		}
		if fl.SizeBytes.Min > 0 && it.Size < fl.SizeBytes.Min || fl.SizeBytes.Max > 0 && it.Size > fl.SizeBytes.Max {
			return false
		}
		if !after.IsZero() || !before.IsZero() {
			bt, err := strconv.ParseInt(it.Fields["buildtime"], 10, 64)
			if err != nil {
				return false
			}
			t := time.Unix(bt, 0)
			if !after.IsZero() && t.Before(after) || !before.IsZero() && !t.Before(before) {
				return false
			}
		}
		for _, c := range []struct {
			l     config.IncludeExclude
			field string
		}{
			{fl.Groups, "group"}, {fl.Licenses, "license"}, {fl.Vendors, "vendor"}, {fl.Epochs, "epoch"},
			{fl.Sections, "section"}, {fl.Priorities, "priority"}, {fl.Components, "component"},
		} {
			if !c.l.IsZero() && !c.l.Allows(it.Fields[c.field]) {
				return false
			}
		}
		if fl.ExcludeSource && (it.Arch == "src" || it.Arch == "nosrc" || it.Arch == "source") {
			return false
		}
		if fl.SkipDeprecated && it.Fields["deprecated"] == "true" {
			return false
		}
		if fl.SkipPrerelease && it.Fields["prerelease"] == "true" {
			return false
		}
		return true
	}
	return keep, nil
}

// selectItems returns the indexes, in order, of the items the repository's
// filters keep: the per-item filters (unless prefiltered: Sync applies them
// while scanning), filters.versions, the dependency closure, then
// post-processing (only the latest N versions per name and architecture, in
// the format's own version order).
func selectItems(ctx context.Context, rc *config.Repository, f formats.Format, items []formats.Item, prefiltered bool) ([]int, error) {
	fl := &rc.Filters
	sel := make([]bool, len(items))
	if prefiltered {
		for i := range sel {
			sel[i] = true
		}
	} else {
		keep, err := itemFilter(rc, f)
		if err != nil {
			return nil, err
		}
		for i := range items {
			sel[i] = keep(&items[i])
		}
	}
	if fl.Versions != "" {
		vm := f.(formats.VersionMatcher)
		for i := range items {
			if !sel[i] {
				continue
			}
			ok, err := vm.MatchVersion(fl.Versions, items[i].Version)
			if err != nil {
				return nil, fmt.Errorf("filters.versions: %w", err)
			}
			sel[i] = ok
		}
	}
	if fl.FilterWithDeps {
		if err := f.(formats.DependencyResolver).AddDependencies(ctx, items, sel); err != nil {
			return nil, fmt.Errorf("resolving dependencies: %w", err)
		}
	}
	var idx []int
	for i := range items {
		if sel[i] {
			idx = append(idx, i)
		}
	}
	if n := fl.PostProcessing.LatestN(); n > 0 {
		cmp, ok := f.(formats.Comparer)
		if !ok {
			return nil, fmt.Errorf("only_latest_n_versions needs a version order, which format %s lacks", f.Name())
		}
		// latestN keeps items in order; find them again by index.
		sub := make([]formats.Item, len(idx))
		for j, i := range idx {
			sub[j] = formats.Item{Name: items[i].Name, Version: items[i].Version, Arch: items[i].Arch, Path: strconv.Itoa(i)}
		}
		idx = idx[:0]
		for _, it := range latestN(sub, n, cmp) {
			i, _ := strconv.Atoi(it.Path) // written just above
			idx = append(idx, i)
		}
	}
	return idx, nil
}

// postFilters reports whether selectItems has anything to do for items the
// per-item filters already passed.
func postFilters(rc *config.Repository) bool {
	fl := &rc.Filters
	return fl.Versions != "" || fl.FilterWithDeps || fl.PostProcessing.LatestN() > 0
}

func compileAll(pats []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(pats))
	for _, p := range pats {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("filter pattern %q: %w", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// latestN keeps, per (name, arch), the items of the n highest versions in the
// format's order (versions that compare equal count as one).
func latestN(items []formats.Item, n int, cmp formats.Comparer) []formats.Item {
	type key struct{ name, arch string }
	versions := map[key][]string{}
	for _, it := range items {
		k := key{it.Name, it.Arch}
		versions[k] = append(versions[k], it.Version)
	}
	keepV := map[key]map[string]bool{}
	for k, vs := range versions {
		sort.SliceStable(vs, func(i, j int) bool { return cmp.Compare(vs[i], vs[j]) > 0 })
		set := map[string]bool{}
		var kept []string
		for _, v := range vs {
			if len(kept) > 0 && cmp.Compare(v, kept[len(kept)-1]) == 0 {
				set[v] = true
				continue
			}
			if len(kept) == n {
				break
			}
			kept = append(kept, v)
			set[v] = true
		}
		keepV[k] = set
	}
	out := items[:0]
	for _, it := range items {
		if keepV[key{it.Name, it.Arch}][it.Version] {
			out = append(out, it)
		}
	}
	return out
}

// repoKeyring loads a repository's verify.keys, pinned to its
// trusted_fingerprints when it names any (package signatures, gpgcheck).
func repoKeyring(v *config.Verify) (*pgp.Keyring, error) {
	if len(v.Keys) == 0 {
		return nil, fmt.Errorf("%w: verify.gpgcheck is set but verify.keys names no key", ErrVerify)
	}
	kr, err := pgp.LoadKeyring(v.Keys...)
	if err != nil {
		return nil, fmt.Errorf("%w: loading keys: %w", ErrVerify, err)
	}
	if len(v.TrustedFingerprints) > 0 {
		if kr, err = kr.Pin(v.TrustedFingerprints); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrVerify, err)
		}
	}
	return kr, nil
}

// verifyKey fingerprints what package verification and the published
// upstream key depend on (gpgcheck, pins and the keys' bytes), so that a
// change makes the next sync rescan instead of short-circuiting.
func verifyKey(v *config.Verify) string {
	h := sha256.New()
	fmt.Fprintf(h, "%t %q\n", v.GPGCheck, v.TrustedFingerprints)
	for _, k := range v.Keys {
		b, err := os.ReadFile(k)
		if err != nil {
			fmt.Fprintf(h, "%s: %v\n", k, err)
			continue
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}
