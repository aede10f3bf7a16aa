package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/snapshot"
)

func snapshotCommand(env *appEnv) *cli.Command {
	return &cli.Command{
		Name:  "snapshot",
		Usage: "freeze, compare, copy and delete repository states",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "freeze a repository's current state",
				ArgsUsage: "REPO NAME",
				Description: `NAME may be a template: {repo}, {date} (YYYY-MM-DD) and {datetime}
(YYYYMMDDTHHMMSSZ, UTC), e.g. "{repo}-{date}".`,
				Flags: []cli.Flag{&cli.StringFlag{Name: "description", Usage: "free `TEXT`"}},
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return usagef("snapshot create needs REPO and NAME")
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					s, err := m.Snapshot(c.Context, chantal.SnapshotRequest{Repo: c.Args().Get(0), Name: c.Args().Get(1), Description: c.String("description")})
					if err != nil {
						return err
					}
					return env.out(s, func(w io.Writer) { fmt.Fprintf(w, "created snapshot %s/%s (state %s)\n", s.Repo, s.Name, s.State[:12]) })
				},
			},
			{
				Name:      "list",
				Usage:     "list snapshots",
				ArgsUsage: "[REPO]",
				Action: func(c *cli.Context) error {
					if c.NArg() > 1 {
						return usagef("snapshot list takes at most one REPO")
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					ss, err := m.Snapshots(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					if ss == nil {
						ss = []chantal.SnapshotInfo{}
					}
					return env.out(ss, func(w io.Writer) {
						tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "SNAPSHOT\tCREATED\tITEMS\tPUBLISHED\tDESCRIPTION")
						for _, s := range ss {
							fmt.Fprintf(tw, "%s/%s\t%s\t%d\t%d\t%s\n", s.Repo, s.Name, s.Created.Local().Format("2006-01-02 15:04"), s.Items, len(s.Published), s.Description)
						}
						tw.Flush()
					})
				},
			},
			{
				Name:      "show",
				Usage:     "describe a snapshot",
				ArgsUsage: "REPO/NAME",
				Action: func(c *cli.Context) error {
					ref, err := oneArg(c, "REPO/NAME")
					if err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					s, err := m.ShowSnapshot(c.Context, ref)
					if err != nil {
						return err
					}
					return env.out(s, func(w io.Writer) {
						fmt.Fprintf(w, "Snapshot:   %s/%s\nState:      %s\nCreated:    %s\nState time: %s\nItems:      %d\nFiles:      %d\n",
							s.Repo, s.Name, s.State, s.Created.Local().Format(time.RFC3339), s.StateTime.UTC().Format(time.RFC3339), s.Items, s.Files)
						if s.Description != "" {
							fmt.Fprintf(w, "Description: %s\n", s.Description)
						}
						for _, p := range s.Published {
							fmt.Fprintf(w, "Published:  %s\n", p)
						}
						for _, v := range s.UsedBy {
							fmt.Fprintf(w, "Used by:    view snapshot %s\n", v)
						}
					})
				},
			},
			{
				Name:      "content",
				Usage:     "list a snapshot's items (a bare REPO lists its current state)",
				ArgsUsage: "REPO/NAME",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "format", Value: "table", Usage: "`FORMAT`: table, json or csv"}},
				Action: func(c *cli.Context) error {
					ref, err := oneArg(c, "REPO/NAME")
					if err != nil {
						return err
					}
					f := c.String("format")
					if env.json {
						f = "json"
					}
					if f != "table" && f != "json" && f != "csv" {
						return usagef("--format %q: want table, json or csv", f)
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					items, err := m.SnapshotContent(c.Context, ref)
					if err != nil {
						return err
					}
					if items == nil {
						items = []chantal.ContentItem{}
					}
					switch f {
					case "json":
						saved := env.json
						env.json = true
						defer func() { env.json = saved }()
						return env.out(items, nil)
					case "csv":
						cw := csv.NewWriter(env.stdout)
						_ = cw.Write([]string{"name", "version", "arch", "size", "sha256", "path"})
						for _, it := range items {
							_ = cw.Write([]string{it.Name, it.Version, it.Arch, fmt.Sprint(it.Size), it.Digest, it.Path})
						}
						cw.Flush()
						return cw.Error()
					}
					tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tVERSION\tARCH\tSIZE\tPATH")
					for _, it := range items {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", it.Name, it.Version, it.Arch, it.Size, it.Path)
					}
					return tw.Flush()
				},
			},
			{
				Name:      "diff",
				Usage:     "compare two snapshots (a bare REPO means its current state)",
				ArgsUsage: "REPO/A REPO/B",
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return usagef("snapshot diff needs two states: REPO/A REPO/B (or REPO for the current state)")
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					d, err := m.Diff(c.Context, c.Args().Get(0), c.Args().Get(1))
					if err != nil {
						return err
					}
					return env.out(d, func(w io.Writer) {
						if d.Equal || d.Empty() {
							fmt.Fprintf(w, "%s and %s hold the same state\n", d.A, d.B)
							return
						}
						for _, sec := range []struct {
							mark string
							gs   []chantalGroup
						}{{"+", groups(d.Added)}, {"-", groups(d.Removed)}, {"↑", groups(d.Upgraded)}, {"↓", groups(d.Downgraded)}, {"~", groups(d.Changed)}} {
							for _, g := range sec.gs {
								fmt.Fprintf(w, "%s %s.%s %s\n", sec.mark, g.Name, g.Arch, g.versions())
							}
						}
						for _, e := range d.Errata {
							fmt.Fprintf(w, "! %s.%s %s → %s applies", e.Name, e.Arch, e.Old, e.New)
							for _, a := range e.Advisories {
								fmt.Fprintf(w, " %s (%s/%s)", a.ID, a.Type, a.Severity)
							}
							fmt.Fprintln(w)
						}
						for _, p := range d.FilesAdded {
							fmt.Fprintf(w, "+ file %s\n", p)
						}
						for _, p := range d.FilesRemoved {
							fmt.Fprintf(w, "- file %s\n", p)
						}
						for _, p := range d.FilesChanged {
							fmt.Fprintf(w, "~ file %s\n", p)
						}
					})
				},
			},
			{
				Name:      "copy",
				Usage:     "copy (promote) a snapshot under another name or repository",
				ArgsUsage: "REPO/A REPO/B",
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return usagef("snapshot copy needs REPO/A and REPO/B")
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					s, err := m.CopySnapshot(c.Context, c.Args().Get(0), c.Args().Get(1))
					if err != nil {
						return err
					}
					return env.out(s, func(w io.Writer) { fmt.Fprintf(w, "copied %s to %s/%s\n", c.Args().Get(0), s.Repo, s.Name) })
				},
			},
			{
				Name:        "delete",
				Usage:       "delete a snapshot",
				ArgsUsage:   "REPO/NAME",
				Description: "Refused while the snapshot is published or frozen in a view snapshot, unless --force (which unpublishes it first).",
				Flags:       []cli.Flag{&cli.BoolFlag{Name: "force", Usage: "delete even if published or used by a view snapshot"}},
				Action: func(c *cli.Context) error {
					ref, err := oneArg(c, "REPO/NAME")
					if err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					if err := m.DeleteSnapshot(c.Context, chantal.DeleteSnapshotRequest{Ref: ref, Force: c.Bool("force")}); err != nil {
						return err
					}
					return env.out(map[string]any{"deleted": ref}, func(w io.Writer) { fmt.Fprintf(w, "deleted snapshot %s\n", ref) })
				},
			},
		},
	}
}

// chantalGroup wraps a diff group for text output.
type chantalGroup struct {
	Name, Arch string
	Old, New   []string
}

func (g chantalGroup) versions() string {
	switch {
	case len(g.Old) == 0:
		return strings.Join(g.New, ", ")
	case len(g.New) == 0:
		return strings.Join(g.Old, ", ")
	}
	return strings.Join(g.Old, ", ") + " -> " + strings.Join(g.New, ", ")
}

func groups(gs []snapshot.Group) []chantalGroup {
	out := make([]chantalGroup, 0, len(gs))
	for _, g := range gs {
		out = append(out, chantalGroup{Name: g.Name, Arch: g.Arch, Old: g.Old, New: g.New})
	}
	return out
}
