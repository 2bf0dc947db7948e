package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// The completion scripts ask dbiam itself for the candidates, with
// urfave/cli's own protocol: the words typed so far followed by
// --generate-bash-completion print the commands, subcommands or (after a
// "-") the flags that can come next, one per line. Fish gets the script
// urfave/cli generates from the command tree (App.ToFishCompletion).
// urfave/cli v2 ships no bash, zsh or PowerShell script inside its Go
// package, so these are short adapters to that protocol.

const bashCompletion = `# bash completion for dbiam.
# Load it now with:  source <(dbiam completion bash)
# or for every shell: dbiam completion bash > /etc/bash_completion.d/dbiam
_dbiam_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}" IFS=$'\n'
  local -a words=("${COMP_WORDS[@]:0:COMP_CWORD}")
  if [[ "$cur" == -* ]]; then words+=("$cur"); fi
  COMPREPLY=($(compgen -W "$("${words[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
}
complete -o bashdefault -o default -F _dbiam_complete dbiam
`

const zshCompletion = `#compdef dbiam
# zsh completion for dbiam.
# Load it now with:  source <(dbiam completion zsh)
# or save it as _dbiam in a directory of your $fpath.
_dbiam() {
  local -a opts
  local cur=${words[CURRENT]}
  if [[ "$cur" == -* ]]; then
    opts=("${(@f)$(_CLI_ZSH_AUTOCOMPLETE_HACK=1 ${words[@]:0:CURRENT-1} $cur --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(_CLI_ZSH_AUTOCOMPLETE_HACK=1 ${words[@]:0:CURRENT-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ -n "${opts[1]}" ]]; then
    _describe 'dbiam' opts
  else
    _files
  fi
}
compdef _dbiam dbiam
`

const powershellCompletion = `# PowerShell completion for dbiam.
# Load it now with:  dbiam completion powershell | Out-String | Invoke-Expression
# or add that line to your $PROFILE.
Register-ArgumentCompleter -Native -CommandName dbiam -ScriptBlock {
  param($wordToComplete, $commandAst, $cursorPosition)
  $words = @($commandAst.CommandElements | ForEach-Object { $_.ToString() })
  if ($wordToComplete -ne '' -and $words.Count -gt 0) { $words = $words[0..($words.Count - 2)] }
  if ($wordToComplete -like '-*') { $words += $wordToComplete }
  $exe = $words[0]
  $rest = @()
  if ($words.Count -gt 1) { $rest = $words[1..($words.Count - 1)] }
  & $exe @rest --generate-bash-completion 2>$null | Where-Object { $_ -like "$wordToComplete*" } | ForEach-Object {
    [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
  }
}
`

// completionShells lists the shells "dbiam completion" writes for.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// completionCommand is "dbiam completion SHELL".
func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh, fish or powershell",
		ArgsUsage: "SHELL",
		Description: "Prints a script that completes dbiam's commands and flags in SHELL.\n" +
			"  bash:        source <(dbiam completion bash)\n" +
			"  zsh:         source <(dbiam completion zsh)\n" +
			"  fish:        dbiam completion fish | source\n" +
			"  powershell:  dbiam completion powershell | Out-String | Invoke-Expression",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return &usageError{err: fmt.Errorf("completion takes one argument, the shell (got %d)", c.NArg()),
					hint: "run 'dbiam completion " + strings.Join(completionShells, "|") + "'"}
			}
			return writeCompletion(c.App, c.Args().First(), c.App.Writer)
		},
	}
}

// writeCompletion writes the completion script of shell to w.
func writeCompletion(app *cli.App, shell string, w io.Writer) error {
	var script string
	switch shell {
	case "bash":
		script = bashCompletion
	case "zsh":
		script = zshCompletion
	case "powershell", "pwsh":
		script = powershellCompletion
	case "fish":
		s, err := app.ToFishCompletion()
		if err != nil {
			return fmt.Errorf("completion fish: %w", err)
		}
		script = s
	default:
		err := fmt.Errorf("completion %q: unknown shell", shell)
		if s, ok := closest(shell, completionShells); ok {
			return &usageError{err: err, hint: fmt.Sprintf("did you mean '%s'? The shells are %s", s, strings.Join(completionShells, ", "))}
		}
		return &usageError{err: err, hint: "the shells are " + strings.Join(completionShells, ", ")}
	}
	_, err := io.WriteString(w, script)
	return err
}
