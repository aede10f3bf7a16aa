package config

import (
	"maps"
	"net/url"
	"slices"
)

// RedactedValue replaces every non-empty secret in Config.Redacted.
const RedactedValue = "REDACTED"

// Redacted returns a deep copy of c in which every secret that is set is
// replaced by RedactedValue: auth passwords, tokens and header values, proxy
// passwords, GPG passphrases, and passwords embedded in feed and proxy URLs.
// c itself is not changed.
func (c *Config) Redacted() *Config {
	out := c.clone()
	out.GPG.Passphrase = redact(out.GPG.Passphrase)
	for i := range out.Repositories {
		r := &out.Repositories[i]
		r.Auth.Password = redact(r.Auth.Password)
		r.Auth.Token = redact(r.Auth.Token)
		for k, v := range r.Auth.Headers {
			r.Auth.Headers[k] = redact(v)
		}
		r.Proxy.Password = redact(r.Proxy.Password)
		r.Proxy.URL = redactURL(r.Proxy.URL)
		r.Feed = redactURL(r.Feed)
		r.GPG.Passphrase = redact(r.GPG.Passphrase)
	}
	for i := range out.ErrataSources {
		out.ErrataSources[i].URL = redactURL(out.ErrataSources[i].URL)
	}
	return out
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return RedactedValue
}

// redactURL hides the password of a URL's userinfo.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), RedactedValue)
		return u.String()
	}
	return s
}

// clone returns a deep copy of c.
func (c *Config) clone() *Config {
	out := *c
	out.Include = slices.Clone(c.Include)
	out.Files = slices.Clone(c.Files)
	out.Repositories = slices.Clone(c.Repositories)
	for i := range out.Repositories {
		out.Repositories[i] = c.Repositories[i].clone()
	}
	out.Views = slices.Clone(c.Views)
	for i := range out.Views {
		w := &out.Views[i]
		w.Repos = slices.Clone(w.Repos)
		w.Snapshots = slices.Clone(w.Snapshots)
		if w.ErrataFilter != nil {
			f := *w.ErrataFilter
			f.Types, f.CVEs, f.IDs = slices.Clone(f.Types), slices.Clone(f.CVEs), slices.Clone(f.IDs)
			w.ErrataFilter = &f
		}
	}
	out.ErrataSources = slices.Clone(c.ErrataSources)
	for i := range out.ErrataSources {
		out.ErrataSources[i].AppliesTo = slices.Clone(out.ErrataSources[i].AppliesTo)
	}
	return &out
}

func cloneBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}

func (l IncludeExclude) clone() IncludeExclude {
	return IncludeExclude{Include: slices.Clone(l.Include), Exclude: slices.Clone(l.Exclude)}
}

func (r Repository) clone() Repository {
	r.Enabled = cloneBool(r.Enabled)
	r.Auth.Headers = maps.Clone(r.Auth.Headers)
	if r.Download != nil {
		d := *r.Download
		r.Download = &d
	}
	f := &r.Filters
	for _, l := range []*IncludeExclude{&f.Patterns, &f.Architectures, &f.Groups, &f.Licenses, &f.Vendors,
		&f.Epochs, &f.Sections, &f.Priorities, &f.Components} {
		*l = l.clone()
	}
	r.Verify.Enabled = cloneBool(r.Verify.Enabled)
	r.Verify.Keys = slices.Clone(r.Verify.Keys)
	r.Verify.TrustedFingerprints = slices.Clone(r.Verify.TrustedFingerprints)
	r.APT.Components = slices.Clone(r.APT.Components)
	r.APT.Architectures = slices.Clone(r.APT.Architectures)
	r.APT.ByHash = cloneBool(r.APT.ByHash)
	return r
}
