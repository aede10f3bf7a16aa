package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/catalog"
)

func repoCommand(env *appEnv) *cli.Command {
	return &cli.Command{
		Name:  "repo",
		Usage: "list and inspect repositories",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list configured repositories with what the catalog holds of them",
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					repos, err := m.Repos(c.Context)
					if err != nil {
						return err
					}
					js := make([]repoJSON, 0, len(repos))
					for _, r := range repos {
						js = append(js, toRepoJSON(r))
					}
					return env.out(map[string]any{"repos": js}, func(w io.Writer) {
						tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "ID\tTYPE\tMODE\tITEMS\tLAST SYNC\tSTATUS")
						for _, r := range repos {
							last, st := "never", "-"
							if r.LastSync != nil {
								last = r.LastSync.Started.Local().Format("2006-01-02 15:04")
								st = r.LastSync.Status
							}
							id := r.ID
							if !r.Enabled {
								id += " (disabled)"
							}
							fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", id, r.Type, r.Mode, r.Items, last, st)
						}
						tw.Flush()
					})
				},
			},
			{
				Name:      "show",
				Usage:     "show one repository",
				ArgsUsage: "REPO",
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "REPO")
					if err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					r, err := m.Repo(c.Context, id)
					if err != nil {
						return err
					}
					return env.out(toRepoJSON(r), func(w io.Writer) {
						fmt.Fprintf(w, "ID:        %s\nType:      %s\nMode:      %s\nFeed:      %s\nEnabled:   %v\n", r.ID, r.Type, r.Mode, r.Feed, r.Enabled)
						if !r.Synced {
							fmt.Fprintln(w, "State:     never synced")
							return
						}
						fmt.Fprintf(w, "State:     %s (since %s)\nItems:     %d (%s)\nFiles:     %d\n", r.State, r.StateTime.Local().Format(time.RFC3339), r.Items, humanBytes(r.Bytes), r.Files)
						if r.LastSync != nil {
							fmt.Fprintf(w, "Last sync: %s, %s\n", r.LastSync.Started.Local().Format(time.RFC3339), r.LastSync.Status)
						}
					})
				},
			},
			{
				Name:      "history",
				Usage:     "show a repository's sync runs, newest first",
				ArgsUsage: "REPO",
				Flags:     []cli.Flag{&cli.IntFlag{Name: "limit", Value: 20, Usage: "show at most `N` runs (0 = all)"}},
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "REPO")
					if err != nil {
						return err
					}
					m, err := env.open()
					if err != nil {
						return err
					}
					runs, err := m.History(c.Context, id, c.Int("limit"))
					if err != nil {
						return err
					}
					js := make([]runJSON, 0, len(runs))
					for _, r := range runs {
						js = append(js, toRunJSON(r))
					}
					return env.out(map[string]any{"repo": id, "runs": js}, func(w io.Writer) {
						tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "#\tSTARTED\tFINISHED\tDURATION\tSTATUS\tADDED\tREMOVED\tUPDATED\tBYTES\tERRORS")
						for _, r := range runs {
							fin, d := "-", "-"
							if !r.Finished.IsZero() {
								fin = r.Finished.Local().Format("2006-01-02 15:04:05")
								d = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
							}
							fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d\n", r.Seq, r.Started.Local().Format("2006-01-02 15:04:05"), fin, d, r.Status, r.Added, r.Removed, r.Updated, humanBytes(r.Bytes), len(r.Errors))
						}
						tw.Flush()
						for _, r := range runs {
							for _, e := range r.Errors {
								fmt.Fprintf(w, "  #%d: %s\n", r.Seq, strings.TrimSpace(e))
							}
						}
					})
				},
			},
		},
	}
}

type repoJSON struct {
	ID        string   `json:"id"`
	Type      string   `json:"type"`
	Mode      string   `json:"mode"`
	Feed      string   `json:"feed,omitempty"`
	Enabled   bool     `json:"enabled"`
	Synced    bool     `json:"synced"`
	State     string   `json:"state,omitempty"`
	Items     int      `json:"items"`
	Files     int      `json:"files"`
	Bytes     int64    `json:"bytes,omitempty"`
	StateTime string   `json:"state_time,omitempty"`
	LastSync  *runJSON `json:"last_sync,omitempty"`
}

type runJSON struct {
	Seq      uint64   `json:"seq"`
	Started  string   `json:"started"`
	Finished string   `json:"finished,omitempty"`
	Status   string   `json:"status"`
	Added    int      `json:"added"`
	Removed  int      `json:"removed"`
	Updated  int      `json:"updated"`
	Bytes    int64    `json:"bytes"`
	Errors   []string `json:"errors,omitempty"`
}

func toRunJSON(r catalog.SyncRun) runJSON {
	j := runJSON{Seq: r.Seq, Started: r.Started.UTC().Format(time.RFC3339), Status: r.Status, Added: r.Added, Removed: r.Removed, Updated: r.Updated, Bytes: r.Bytes, Errors: r.Errors}
	if !r.Finished.IsZero() {
		j.Finished = r.Finished.UTC().Format(time.RFC3339)
	}
	return j
}

func toRepoJSON(r chantal.RepoInfo) repoJSON {
	j := repoJSON{ID: r.ID, Type: r.Type, Mode: r.Mode, Feed: redactURL(r.Feed), Enabled: r.Enabled, Synced: r.Synced, Items: r.Items, Files: r.Files, Bytes: r.Bytes}
	if r.Synced {
		j.State = r.State
		j.StateTime = r.StateTime.UTC().Format(time.RFC3339)
	}
	if r.LastSync != nil {
		rj := toRunJSON(*r.LastSync)
		j.LastSync = &rj
	}
	return j
}
