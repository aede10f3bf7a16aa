package main

import (
	"fmt"
	"io"
	"net/url"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"
)

func configCommand(env *appEnv) *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "check and show the configuration",
		Subcommands: []*cli.Command{
			{
				Name:  "validate",
				Usage: "load the configuration strictly and report every problem with file and line",
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					cfg, err := env.loadConfig()
					if err != nil {
						return err
					}
					return env.out(map[string]any{"valid": true, "files": cfg.Files, "repositories": len(cfg.Repositories), "views": len(cfg.Views)}, func(w io.Writer) {
						fmt.Fprintf(w, "%s: valid (%d repositories, %d views, %d files)\n", env.configPath, len(cfg.Repositories), len(cfg.Views), len(cfg.Files))
					})
				},
			},
			{
				Name:  "show",
				Usage: "print the effective configuration (defaults applied, includes merged, secrets redacted)",
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					cfg, err := env.loadConfig()
					if err != nil {
						return err
					}
					red := cfg.Redacted()
					if env.json {
						return env.out(red, nil)
					}
					b, err := yaml.Marshal(red)
					if err != nil {
						return fmt.Errorf("rendering configuration: %w", err)
					}
					fmt.Fprintf(env.stdout, "# effective configuration from %s (secrets redacted)\n%s", env.configPath, b)
					return nil
				},
			},
		},
	}
}

// redactURL drops userinfo and query from a URL for display.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	return u.String()
}
