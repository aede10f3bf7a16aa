package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/chantal-lite/chantal"
)

func viewCommand(env *appEnv) *cli.Command {
	return &cli.Command{
		Name:  "view",
		Usage: "configured views over several repositories or snapshots of one format",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list the configured views",
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					vs, err := m.Views(c.Context)
					if err != nil {
						return err
					}
					if vs == nil {
						vs = []chantal.ViewInfo{}
					}
					return env.out(vs, func(w io.Writer) {
						tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "VIEW\tFORMAT\tMEMBERS\tSNAPSHOTS")
						for _, v := range vs {
							fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", v.Name, v.Format, len(v.Members), len(v.Snapshots))
						}
						tw.Flush()
					})
				},
			},
			{
				Name:      "show",
				Usage:     "describe a view: members in order (first wins on collisions) and snapshots",
				ArgsUsage: "VIEW",
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "VIEW")
					if err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					v, err := m.ShowView(c.Context, name)
					if err != nil {
						return err
					}
					return env.out(v, func(w io.Writer) {
						fmt.Fprintf(w, "View:   %s (%s)\nTarget: %s\n", v.Name, v.Format, v.Target)
						for i, mb := range v.Members {
							label := mb.Repo
							if mb.Snapshot != "" {
								label += "/" + mb.Snapshot
							}
							state := "(no state)"
							if mb.State != "" {
								state = fmt.Sprintf("%s, %d items", mb.State[:12], mb.Items)
							}
							fmt.Fprintf(w, "  %d. %s  %s\n", i+1, label, state)
						}
						for _, s := range v.Snapshots {
							fmt.Fprintf(w, "Snapshot: %s\n", s)
						}
					})
				},
			},
			{
				Name:        "snapshot",
				Usage:       "freeze every member of a view at once",
				ArgsUsage:   "VIEW NAME",
				Description: `NAME may be a template: {view}, {date} and {datetime}.`,
				Flags:       []cli.Flag{&cli.StringFlag{Name: "description", Usage: "free `TEXT`"}},
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return usagef("view snapshot needs VIEW and NAME")
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					vs, err := m.ViewSnapshot(c.Context, chantal.ViewSnapshotRequest{View: c.Args().Get(0), Name: c.Args().Get(1), Description: c.String("description")})
					if err != nil {
						return err
					}
					return env.out(vs, func(w io.Writer) {
						fmt.Fprintf(w, "created view snapshot %s/%s of %d members\n", vs.View, vs.Name, len(vs.Members))
					})
				},
			},
		},
	}
}
