package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/chantal-lite/chantal"
	"github.com/chantal-lite/chantal/catalog"
	"github.com/chantal-lite/chantal/config"
)

// Exit codes, documented in the package comment and README.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitPartial     = 3
	exitLocked      = 4
	exitInterrupted = 130
)

// usageError marks a mistake in the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitCode is the one table from errors to exit codes.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, catalog.ErrLocked), errors.Is(err, chantal.ErrBusy):
		return exitLocked
	case errors.Is(err, chantal.ErrPartial):
		return exitPartial
	}
	return exitError
}

// run builds the app and runs it; it never calls os.Exit, so tests can drive it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	env := &appEnv{stdout: stdout, stderr: stderr, getenv: os.LookupEnv}
	err := newApp(env).RunContext(ctx, args)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", context.Canceled, err)
	}
	env.close()
	if err != nil {
		fmt.Fprintln(stderr, "chantal-lite:", err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, "Run 'chantal-lite --help' for usage.")
		}
	}
	return exitCode(err)
}

// appEnv is what the commands share: the writers, the loaded configuration and
// the opened Mirror (opened on first use, closed at the end).
type appEnv struct {
	stdout, stderr io.Writer
	getenv         func(string) (string, bool)
	json           bool
	quiet, verbose bool
	log            *slog.Logger
	configPath     string
	cfg            *config.Config
	mirror         *chantal.Mirror
	progress       *progress
}

func (e *appEnv) close() {
	if e.mirror != nil {
		e.mirror.Close()
	}
	if e.progress != nil {
		e.progress.finish()
	}
}

func (e *appEnv) loadConfig() (*config.Config, error) {
	if e.cfg != nil {
		return e.cfg, nil
	}
	p, err := config.Find(e.configPath, e.getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(p, &config.LoadOptions{Getenv: e.getenv})
	if err != nil {
		return nil, err
	}
	e.configPath, e.cfg = p, cfg
	return cfg, nil
}

func (e *appEnv) open() (*chantal.Mirror, error) {
	if e.mirror != nil {
		return e.mirror, nil
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, err
	}
	e.progress = newProgress(e.stderr, e.quiet || !isTerminal(e.stderr), e.verbose)
	m, err := chantal.Open(cfg.Storage.BasePath,
		chantal.WithConfig(cfg), chantal.WithLogger(e.log), chantal.WithReporter(e.progress))
	if err != nil {
		return nil, err
	}
	e.mirror = m
	return m, nil
}

// out writes one JSON document (with --json) or calls text to write human text.
func (e *appEnv) out(v any, text func(w io.Writer)) error {
	if e.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	if !e.quiet {
		text(e.stdout)
	}
	return nil
}

func newApp(env *appEnv) *cli.App {
	app := &cli.App{
		Name:  "chantal-lite",
		Usage: "mirror RPM, APT and Helm repositories for offline and air-gapped sites",
		Description: `chantal-lite syncs upstream repositories into one content-addressed pool,
records what each holds in an embedded catalog, and publishes static, signed
trees that stock dnf, apt and helm consume.

The configuration is read from --config, $CHANTAL_CONFIG,
/etc/chantal-lite/config.yaml or $XDG_CONFIG_HOME/chantal-lite/config.yaml,
the first that exists (see docs/config.md).

Exit codes: 0 ok, 1 error, 2 usage, 3 partial sync, 4 locked, 130 interrupted.`,
		Version:              chantalVersion(),
		Writer:               env.stdout,
		ErrWriter:            env.stderr,
		EnableBashCompletion: true,
		HideVersion:          true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "configuration file `FILE`"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "more output (info logs, per-item progress lines)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only errors"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "log `LEVEL`: debug, info, warn or error"},
		},
		Before: func(c *cli.Context) error {
			env.json, env.quiet, env.verbose = c.Bool("json"), c.Bool("quiet"), c.Bool("verbose")
			env.configPath = c.String("config")
			if env.quiet && env.verbose {
				return usagef("--quiet and --verbose exclude each other")
			}
			lvl := c.String("log-level")
			if env.verbose && !c.IsSet("log-level") {
				lvl = "info"
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(lvl)); err != nil {
				return usagef("--log-level %q: want debug, info, warn or error", lvl)
			}
			if env.quiet && !c.IsSet("log-level") {
				level = slog.LevelError
			}
			env.log = slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))
			return nil
		},
		OnUsageError:   func(c *cli.Context, err error, isSub bool) error { return usageError{err} },
		ExitErrHandler: func(*cli.Context, error) {}, // run maps errors to exit codes
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("unknown command %q", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		Commands: []*cli.Command{
			syncCommand(env),
			checkUpdatesCommand(env),
			repoCommand(env),
			packageCommand(env),
			snapshotCommand(env),
			viewCommand(env),
			publishCommand(env),
			errataCommand(env),
			poolCommand(env),
			configCommand(env),
			dbCommand(env),
			completionCommand(env),
			manCommand(env),
			versionCommand(env),
		},
	}
	for _, cmd := range app.Commands {
		setUsageErrors(cmd)
	}
	return app
}

func setUsageErrors(cmd *cli.Command) {
	cmd.OnUsageError = func(c *cli.Context, err error, isSub bool) error { return usageError{err} }
	for _, s := range cmd.Subcommands {
		setUsageErrors(s)
	}
}

// noArgs refuses stray arguments.
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("%s takes no arguments, got %q", c.Command.FullName(), strings.Join(c.Args().Slice(), " "))
	}
	return nil
}

// oneArg returns the single argument named what.
func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 {
		return "", usagef("%s needs exactly one %s", c.Command.FullName(), what)
	}
	return c.Args().First(), nil
}
