package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// bashCompletion is urfave/cli's bash script, bound to chantal-lite. It asks
// the binary itself for candidates (--generate-bash-completion), so it
// always matches the installed version's commands.
const bashCompletion = `# bash completion for chantal-lite
# Install: chantal-lite completion bash > /etc/bash_completion.d/chantal-lite

_chantal_lite_init_completion() {
  COMPREPLY=()
  _get_comp_words_by_ref "$@" cur prev words cword
}

_chantal_lite_complete() {
  local cur words cword requestComp opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion -n "=:" || return
  else
    _chantal_lite_init_completion -n "=:" || return
  fi
  words=("${words[@]:0:$cword}")
  if [[ "$cur" == "-"* ]]; then
    requestComp="${words[*]} ${cur} --generate-bash-completion"
  else
    requestComp="${words[*]} --generate-bash-completion"
  fi
  opts=$(eval "${requestComp}" 2>/dev/null)
  COMPREPLY=($(compgen -W "${opts}" -- ${cur}))
  return 0
}

complete -o bashdefault -o default -o nospace -F _chantal_lite_complete chantal-lite
`

// zshCompletion is urfave/cli's zsh script, bound to chantal-lite.
const zshCompletion = `#compdef chantal-lite
# Install: chantal-lite completion zsh > "${fpath[1]}/_chantal-lite"

_chantal_lite() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}

if [[ "$funcstack[1]" = "_chantal_lite" ]]; then
  _chantal_lite "$@"
else
  compdef _chantal_lite chantal-lite
fi
`

func completionCommand(env *appEnv) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash|zsh|fish",
		Description: `Prints the completion script for the shell on stdout, for example:

   chantal-lite completion bash > /etc/bash_completion.d/chantal-lite
   chantal-lite completion zsh  > "${fpath[1]}/_chantal-lite"
   chantal-lite completion fish > ~/.config/fish/completions/chantal-lite.fish`,
		Action: func(c *cli.Context) error {
			shell, err := oneArg(c, "shell (bash, zsh or fish)")
			if err != nil {
				return err
			}
			var script string
			switch shell {
			case "bash":
				script = bashCompletion
			case "zsh":
				script = zshCompletion
			case "fish":
				if script, err = c.App.ToFishCompletion(); err != nil {
					return fmt.Errorf("generate fish completion: %w", err)
				}
			default:
				return usagef("completion: unknown shell %q: want bash, zsh or fish", shell)
			}
			_, err = fmt.Fprint(env.stdout, script)
			return err
		},
	}
}

func manCommand(env *appEnv) *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the manual page (roff) generated from the command definitions",
		Description: `Prints chantal-lite(1) in roff on stdout, for example:

   chantal-lite man > /usr/share/man/man1/chantal-lite.1`,
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			page, err := c.App.ToManWithSection(1)
			if err != nil {
				return fmt.Errorf("generate man page: %w", err)
			}
			if !strings.HasSuffix(page, "\n") {
				page += "\n"
			}
			_, err = fmt.Fprint(env.stdout, page)
			return err
		},
	}
}
