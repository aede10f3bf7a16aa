package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/errata"
)

func errataCommand(env *appEnv) *cli.Command {
	return &cli.Command{
		Name:  "errata",
		Usage: "advisories: sync errata sources, list, show, diff and CVE status",
		Description: `Advisories come from the updateinfo of synced rpm repositories (read on
every sync) and from errata_sources (OSV) synced with "errata sync".

REF is REPO (its current state), REPO/SNAPSHOT, VIEW, view:VIEW or
view:VIEW/SNAPSHOT (a view snapshot); a bare name is a repository when one
has it, else a view.`,
		Subcommands: []*cli.Command{
			{
				Name:      "sync",
				Usage:     "read errata sources (OSV) into the catalog",
				ArgsUsage: "[SOURCE...]",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "all", Usage: "every configured errata source"}},
				Action: func(c *cli.Context) error {
					if c.Bool("all") == (c.NArg() > 0) {
						return usagef("errata sync needs SOURCE names or --all")
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					res, err := m.SyncErrata(c.Context, chantal.ErrataSyncRequest{Sources: c.Args().Slice(), All: c.Bool("all")})
					if err != nil {
						return usageError{err}
					}
					if err := env.out(res, func(w io.Writer) {
						for _, s := range res.Sources {
							switch {
							case s.Err != nil:
								fmt.Fprintf(w, "%s: failed: %v\n", s.Source, s.Err)
							case s.Unchanged:
								fmt.Fprintf(w, "%s: unchanged, %d advisories\n", s.Source, s.Advisories)
							default:
								fmt.Fprintf(w, "%s: %d advisories (+%d -%d, %d skipped)\n", s.Source, s.Advisories, s.Added, s.Removed, s.Skipped)
							}
						}
					}); err != nil {
						return err
					}
					return res.Err()
				},
			},
			{
				Name:  "list",
				Usage: "list advisories (of a repository, snapshot or view, with their status there)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "repo", Usage: "a repository's current state `REPO`"},
					&cli.StringFlag{Name: "snapshot", Usage: "a snapshot `REPO/NAME`"},
					&cli.StringFlag{Name: "view", Usage: "a view `VIEW` or view snapshot VIEW/NAME"},
					&cli.StringSliceFlag{Name: "type", Usage: "advisory `TYPE`: security, bugfix, enhancement, newpackage (repeatable)"},
					&cli.StringFlag{Name: "severity", Usage: "minimum `SEVERITY`: low, moderate, important, critical"},
					&cli.StringFlag{Name: "cve", Usage: "advisories naming `CVE`"},
					&cli.StringFlag{Name: "since", Usage: "issued on or after `DATE` (YYYY-MM-DD or RFC 3339)"},
				},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					q := chantal.ErrataQuery{Repo: c.String("repo"), Snapshot: c.String("snapshot"), View: c.String("view"),
						Types: c.StringSlice("type"), Severity: c.String("severity"), CVE: c.String("cve")}
					if s := c.String("since"); s != "" {
						t, err := parseDay(s)
						if err != nil {
							return usagef("--since %q: want YYYY-MM-DD or an RFC 3339 time", s)
						}
						q.Since = t
					}
					if q.Severity != "" {
						if _, ok := errata.ParseSeverity(q.Severity); !ok {
							return usagef("--severity %q: want low, moderate, important or critical", q.Severity)
						}
					}
					n := 0
					for _, s := range []string{q.Repo, q.Snapshot, q.View} {
						if s != "" {
							n++
						}
					}
					if n > 1 {
						return usagef("use at most one of --repo, --snapshot and --view")
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					advs, err := m.Errata(c.Context, q)
					if err != nil {
						return err
					}
					if advs == nil {
						advs = []chantal.AdvisoryInfo{}
					}
					return env.out(advs, func(w io.Writer) {
						tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "ID\tTYPE\tSEVERITY\tISSUED\tSTATUS\tSOURCE\tTITLE")
						for _, a := range advs {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Type, a.Severity, day(a.Issued), dash(a.Status), a.Source, a.Title)
						}
						tw.Flush()
					})
				},
			},
			{
				Name:      "show",
				Usage:     "show an advisory (every source that has it)",
				ArgsUsage: "ID",
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "advisory ID")
					if err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					advs, err := m.ShowErratum(c.Context, id)
					if err != nil {
						return err
					}
					return env.out(advs, func(w io.Writer) {
						for i := range advs {
							showAdvisory(w, &advs[i])
						}
					})
				},
			},
			{
				Name:      "diff",
				Usage:     "advisories whose fixes A lacks and B has",
				ArgsUsage: "A B",
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return usagef("errata diff needs two refs: A B (REPO, REPO/SNAPSHOT, VIEW ...)")
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					d, err := m.ErrataDiff(c.Context, c.Args().Get(0), c.Args().Get(1))
					if err != nil {
						return err
					}
					return env.out(d, func(w io.Writer) {
						if len(d.Fixed) == 0 {
							fmt.Fprintf(w, "%s fixes nothing %s lacks\n", d.B, d.A)
							return
						}
						for _, a := range d.Fixed {
							fmt.Fprintf(w, "%s  %s/%s  %s\n", a.ID, a.Type, a.Severity, a.Title)
							for _, p := range a.Packages {
								fmt.Fprintf(w, "    %s.%s %s\n", p.Name, p.Arch, p.Version)
							}
						}
					})
				},
			},
			{
				Name:      "cve",
				Usage:     "which repositories, snapshots and views are fixed for a CVE, which still affected",
				ArgsUsage: "CVE-ID",
				Action: func(c *cli.Context) error {
					cve, err := oneArg(c, "CVE-ID")
					if err != nil {
						return err
					}
					if !errata.IsCVE(strings.ToUpper(strings.TrimSpace(cve))) {
						return usagef("%q is not a CVE id (CVE-YYYY-NNNN)", cve)
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					rep, err := m.ErrataCVE(c.Context, cve)
					if err != nil {
						return err
					}
					return env.out(rep, func(w io.Writer) {
						if len(rep.Advisories) == 0 {
							fmt.Fprintf(w, "no advisory names %s\n", rep.CVE)
							return
						}
						for _, a := range rep.Advisories {
							fmt.Fprintf(w, "%s  %s  %s\n", a.ID, a.Severity, a.Source)
						}
						for _, sec := range []struct {
							label string
							ss    []chantal.CVEState
						}{{"fixed", rep.Fixed}, {"affected", rep.Affected}} {
							for _, s := range sec.ss {
								var pk []string
								for _, p := range s.Packages {
									pk = append(pk, p.Name+"-"+p.Version+"."+p.Arch)
								}
								fmt.Fprintf(w, "%-8s  %s %s  %s\n", sec.label, s.Kind, s.Name, strings.Join(pk, " "))
							}
						}
					})
				},
			},
		},
	}
}

func showAdvisory(w io.Writer, a *errata.Advisory) {
	fmt.Fprintf(w, "ID:        %s\nSource:    %s\nType:      %s\nSeverity:  %s\n", a.ID, a.Source, a.Type, a.Severity)
	if a.Title != "" {
		fmt.Fprintf(w, "Title:     %s\n", a.Title)
	}
	fmt.Fprintf(w, "Issued:    %s\n", day(a.Issued))
	if !a.Updated.IsZero() {
		fmt.Fprintf(w, "Updated:   %s\n", day(a.Updated))
	}
	if cves := a.CVEs(); len(cves) > 0 {
		fmt.Fprintf(w, "CVEs:      %s\n", strings.Join(cves, " "))
	}
	for _, p := range a.Packages {
		v := p.EVR()
		if v == "" {
			v = "fixed in " + strings.Join(p.FixedVersions(), ", ")
		}
		fmt.Fprintf(w, "Package:   %s %s %s\n", p.Name, v, p.Arch)
	}
	if d := strings.TrimSpace(a.Description); d != "" {
		fmt.Fprintf(w, "\n%s\n", d)
	}
	fmt.Fprintln(w)
}

func parseDay(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
