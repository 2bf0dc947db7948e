package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// The completion scripts ask dbiam itself for the candidates:
//
//	dbiam __complete SHELL CWORD WORD...
//
// where the WORDs are the command line after "dbiam" up to the word under
// the cursor, and CWORD is that word's index among them (equal to their
// count when the word is still empty, so that no shell has to pass an
// empty argument). dbiam prints one candidate a line: the commands or
// subcommands that can come next, or, for a word starting with "-", the
// flags of the command and the global flags (which may follow it); for
// zsh and fish with a description. It prints nothing where a value or a
// path is expected, and the shell then completes file names. The
// candidates come from the same command tree and flag rules as the
// parsing (see globalFlagAfterCommand), so global flags before the
// command, a flag's value and an exact flag name that is also the prefix
// of another (--workspace, --workspaces-file) are handled as the parser
// handles them.
const completeCommand = "__complete"

const bashCompletion = `# bash completion for dbiam.
# Load it now with:  source <(dbiam completion bash)
# or for every shell: dbiam completion bash > /etc/bash_completion.d/dbiam
_dbiam_complete() {
  local IFS=$'\n'
  COMPREPLY=($("${COMP_WORDS[0]}" __complete bash "$((COMP_CWORD - 1))" "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o bashdefault -o default -F _dbiam_complete dbiam
`

const zshCompletion = `#compdef dbiam
# zsh completion for dbiam.
# Load it now with:  source <(dbiam completion zsh)   (after compinit)
# or save it as _dbiam in a directory of your $fpath.
compdef _dbiam dbiam
_dbiam() {
  local -a candidates
  candidates=("${(@f)$(${words[1]} __complete zsh $((CURRENT - 2)) "${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if [[ -n "${candidates[1]}" ]]; then
    _describe 'dbiam' candidates
  else
    _files
  fi
}
# Loaded from $fpath, this file is the body of _dbiam: run it.
if [[ "$funcstack[1]" == "_dbiam" ]]; then
  _dbiam "$@"
fi
`

const fishCompletion = `# fish completion for dbiam.
# Load it now with:  dbiam completion fish | source
# or save it as ~/.config/fish/completions/dbiam.fish
function __dbiam_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($words[1] __complete fish (math (count $words) - 1) $words[2..-1] $cur 2>/dev/null)
    if test (count $out) -gt 0
        printf '%s\n' $out
    else
        __fish_complete_path "$cur"
    end
end
complete -c dbiam -f -a '(__dbiam_complete)'
`

const powershellCompletion = `# PowerShell completion for dbiam.
# Load it now with:  dbiam completion powershell | Out-String | Invoke-Expression
# or add that line to your $PROFILE.
Register-ArgumentCompleter -Native -CommandName dbiam -ScriptBlock {
  param($wordToComplete, $commandAst, $cursorPosition)
  $words = @($commandAst.CommandElements | Where-Object { $_.Extent.StartOffset -lt $cursorPosition } | ForEach-Object { $_.ToString() })
  $cword = $words.Count - 1
  if ($wordToComplete -ne '') { $cword = $words.Count - 2 }
  $rest = @()
  if ($words.Count -gt 1) { $rest = $words[1..($words.Count - 1)] }
  & $words[0] __complete powershell $cword @rest 2>$null | ForEach-Object {
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
			"  zsh:         source <(dbiam completion zsh)   (after compinit)\n" +
			"  fish:        dbiam completion fish | source\n" +
			"  powershell:  dbiam completion powershell | Out-String | Invoke-Expression",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return &usageError{err: fmt.Errorf("completion takes one argument, the shell (got %d)", c.NArg()),
					hint: "run 'dbiam completion " + strings.Join(completionShells, "|") + "'"}
			}
			return writeCompletion(c.Args().First(), c.App.Writer)
		},
	}
}

// writeCompletion writes the completion script of shell to w.
func writeCompletion(shell string, w io.Writer) error {
	var script string
	switch shell {
	case "bash":
		script = bashCompletion
	case "zsh":
		script = zshCompletion
	case "powershell", "pwsh":
		script = powershellCompletion
	case "fish":
		script = fishCompletion
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

// runComplete answers "dbiam __complete SHELL CWORD WORD..." (args are
// what follows __complete) on w. A malformed request prints nothing: the
// shell then completes file names.
func runComplete(app *cli.App, args []string, w io.Writer) int {
	if len(args) < 2 {
		return exitOK
	}
	shell := args[0]
	cword, err := strconv.Atoi(args[1])
	words := args[2:]
	if err != nil || cword < 0 || cword > len(words) {
		return exitOK
	}
	cur := ""
	if cword < len(words) {
		cur = words[cword]
	}
	var b strings.Builder
	for _, c := range completions(app, words[:cword], cur) {
		switch {
		case shell == "zsh" && c.desc != "":
			b.WriteString(strings.ReplaceAll(c.word, ":", `\:`) + ":" + c.desc)
		case shell == "fish" && c.desc != "":
			b.WriteString(c.word + "\t" + c.desc)
		default:
			b.WriteString(c.word)
		}
		b.WriteByte('\n')
	}
	_, _ = io.WriteString(w, b.String())
	return exitOK
}

// candidate is one completion: a word and what it is.
type candidate struct{ word, desc string }

// completions returns the candidates for the word cur typed after prev
// (the command line after "dbiam"): subcommands, flags (those of the
// command and the global ones, which may follow it), or the shells of
// "dbiam completion". None where a flag's value, a path or another
// argument is expected.
func completions(app *cli.App, prev []string, cur string) []candidate {
	global := flagIndex(app.Flags)
	var cmd *cli.Command
	cmds, local := app.Commands, map[string]cli.Flag{}
	positional := 0
	for i := 0; i < len(prev); i++ {
		a := prev[i]
		if a == "--" {
			return nil
		}
		if isFlagArg(a) {
			name, hasValue := flagArgName(a)
			f, ok := local[name]
			if !ok {
				f, ok = global[name]
			}
			if ok && takesValue(f) && !hasValue {
				if i+1 == len(prev) {
					return nil // cur is this flag's value
				}
				i++
			}
			continue
		}
		if positional == 0 {
			if sub := findCommand(cmds, a); sub != nil {
				cmd, cmds, local = sub, sub.Subcommands, flagIndex(sub.Flags)
				continue
			}
		}
		positional++
	}
	var out []candidate
	add := func(word, desc string) {
		if strings.HasPrefix(word, cur) && !slices.ContainsFunc(out, func(c candidate) bool { return c.word == word }) {
			out = append(out, candidate{word, desc})
		}
	}
	switch {
	case strings.HasPrefix(cur, "-"):
		if strings.Contains(cur, "=") {
			return nil // a value
		}
		var flags []cli.Flag
		if cmd != nil {
			flags = append(flags, cmd.Flags...)
		}
		flags = append(flags, app.Flags...)
		flags = append(flags, cli.HelpFlag)
		if cmd == nil {
			flags = append(flags, cli.VersionFlag)
		}
		for _, f := range flags {
			if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
				continue
			}
			desc := ""
			if d, ok := f.(cli.DocGenerationFlag); ok {
				desc = flagDescription(d.GetUsage())
			}
			for _, n := range f.Names() {
				if len([]rune(n)) == 1 {
					add("-"+n, desc)
				} else {
					add("--"+n, desc)
				}
			}
		}
	case positional > 0:
	case cmd != nil && cmd.Name == "completion":
		for _, s := range completionShells {
			add(s, "")
		}
	default:
		for _, c := range cmds {
			if !c.Hidden && c.Name != "help" {
				add(c.Name, c.Usage)
			}
		}
	}
	return out
}

// flagDescription is a flag's usage as one short line: urfave/cli's
// `PLACEHOLDER` quotes removed, the first line only.
func flagDescription(usage string) string {
	usage, _, _ = strings.Cut(usage, "\n")
	return strings.ReplaceAll(usage, "`", "")
}
