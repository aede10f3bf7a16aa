package config_test

import (
	"strings"
	"testing"

	"github.com/chantal-lite/chantal/config"
)

const errataBase = `
storage: {base_path: /data}
repositories:
  - {id: el9, type: rpm, feed: "https://mirror.example/el9/"}
  - {id: deb12, type: apt, feed: "https://deb.example/debian/", apt: {distribution: bookworm}}
`

func TestErrataConfig(t *testing.T) {
	src := errataBase + `
views:
  - name: sec
    repos: [el9]
    errata_filter:
      base: el9/2026-10
      types: [security, bugfix]
      severity: important
      cves: [CVE-2026-0001]
      ids: [FIX-2026:0001]
      issued_before: 2026-11-01
errata_sources:
  - {id: osv-deb, type: osv, path: osv/debian, ecosystem: "Debian:12", applies_to: [deb12]}
  - {id: osv-url, type: osv, url: "https://osv.example/all.zip"}
`
	c, err := config.Parse([]byte(src), "/etc/chantal-lite/config.yaml", &config.LoadOptions{Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	f := c.Views[0].ErrataFilter
	if f == nil || f.Base != "el9/2026-10" || f.Severity != "important" || len(f.Types) != 2 {
		t.Fatalf("errata_filter = %+v", f)
	}
	if bt, err := f.IssuedBeforeTime(); err != nil || bt.Format("2006-01-02") != "2026-11-01" {
		t.Errorf("IssuedBeforeTime = %v, %v", bt, err)
	}
	s, ok := c.ErrataSource("osv-deb")
	if !ok || s.Path != "/etc/chantal-lite/osv/debian" || s.AppliesTo[0] != "deb12" {
		t.Errorf("errata source = %+v (path resolved against the main file)", s)
	}
	r := c.Redacted()
	if r.Views[0].ErrataFilter == f || &r.ErrataSources[0] == &c.ErrataSources[0] {
		t.Error("Redacted shares errata settings with the original")
	}
}

func TestErrataConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"base form", `views: [{name: v, repos: [el9], errata_filter: {base: el9}}]`, "want REPO/SNAPSHOT"},
		{"base repo", `views: [{name: v, repos: [el9], errata_filter: {base: nope/x}}]`, "unknown repository"},
		{"base type", `views: [{name: v, repos: [el9], errata_filter: {base: deb12/x}}]`, "is apt but member"},
		{"type", `views: [{name: v, repos: [el9], errata_filter: {base: el9/x, types: [securty]}}]`, "want security"},
		{"severity", `views: [{name: v, repos: [el9], errata_filter: {base: el9/x, severity: high}}]`, "severity"},
		{"cve", `views: [{name: v, repos: [el9], errata_filter: {base: el9/x, cves: [cve-1]}}]`, "not a CVE id"},
		{"date", `views: [{name: v, repos: [el9], errata_filter: {base: el9/x, issued_before: soon}}]`, "issued_before"},
		{"unknown key", `views: [{name: v, repos: [el9], errata_filter: {base: el9/x, severty: low}}]`, "severty"},
		{"source type", `errata_sources: [{id: s, type: csaf, path: x}]`, "want osv"},
		{"source both", `errata_sources: [{id: s, type: osv, path: x, url: "https://a.example/x"}]`, "exactly one of url and path"},
		{"source none", `errata_sources: [{id: s, type: osv}]`, "exactly one of url and path"},
		{"source url", `errata_sources: [{id: s, type: osv, url: "ftp://a.example/x"}]`, "scheme"},
		{"source id", `errata_sources: [{id: el9, type: osv, path: x}]`, "share one namespace"},
		{"source dup", `errata_sources: [{id: s, type: osv, path: x}, {id: s, type: osv, path: y}]`, "already defined"},
		{"applies_to", `errata_sources: [{id: s, type: osv, path: x, applies_to: [nope]}]`, "unknown repository"},
		{"ecosystem", `errata_sources: [{id: s, type: osv, path: x, ecosystem: "Debian 12"}]`, "ecosystem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := loadErr(t, errataBase+tc.src, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
