package main

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/xrash/smetrics"
)

// This file holds the command-line conventions that main.go applies to
// every command: global flags anywhere, typo suggestions, flag names in
// errors as the user typed them, and help that shows a default only once.

func init() {
	// --version prints what the version command prints. No -v: it is
	// "verbose" to many users, and dbiam has --log-level for that.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version and exit", DisableDefaultText: true}
	cli.VersionPrinter = func(c *cli.Context) { _ = printVersion(c.App.Writer) }
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help", DisableDefaultText: true}
	defaultStringer := cli.FlagStringer
	cli.FlagStringer = func(f cli.Flag) string { return flagHelp(defaultStringer, f) }
}

// flagHelp is urfave/cli's help line for f without a default that tells
// nothing (false, 0, an empty string) or that the usage already states:
// "(default 100) (default: 0)" becomes "(default 100)".
func flagHelp(stringer cli.FlagStringFunc, f cli.Flag) string {
	s := stringer(f)
	df, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return s
	}
	def := df.GetDefaultText()
	suffix := " (default: " + def + ")"
	if def == "" || !strings.Contains(s, suffix) {
		return s
	}
	switch {
	case def == "false", def == "0", def == "0s", def == `""`, def == "[]",
		strings.Contains(df.GetUsage(), "(default"), strings.Contains(df.GetUsage(), "default:"):
		return strings.Replace(s, suffix, "", 1)
	}
	return s
}

// globalFlagAfterCommand lets flags be given where the Databricks CLI and
// gh take them: the global flags after the command ("dbiam export
// --profile prod"), and the command's flags after its arguments ("dbiam
// migrate apply plan.json --yes"; urfave/cli stops at the first
// argument). It returns args with every global flag found after the
// command path moved in front of the command, and every other flag that
// follows an argument moved in front of the first argument, each in the
// order given. The values of the command's flags stay with them;
// everything after "--" and anything that is not a command of app stay
// where they are.
func globalFlagAfterCommand(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	global := flagIndex(app.Flags)
	i := 1
	for i < len(args) && isFlagArg(args[i]) {
		if args[i] == "--" {
			return args
		}
		name, hasValue := flagArgName(args[i])
		f, ok := global[name]
		if !ok {
			return args // unknown: urfave/cli reports it
		}
		i++
		if takesValue(f) && !hasValue {
			i++
		}
	}
	if i >= len(args) {
		return args
	}
	cmd := findCommand(app.Commands, args[i])
	if cmd == nil {
		return args
	}
	out := append([]string(nil), args[:i]...)
	// rest is the command path and its flags up to the first argument,
	// late the flags after it, positional the arguments (and "--" on).
	var moved, rest, late, positional []string
	rest = append(rest, args[i])
	local := flagIndex(cmd.Flags)
	for j := i + 1; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			positional = append(positional, args[j:]...)
			break
		}
		if !isFlagArg(a) {
			if len(positional) == 0 {
				if sub := findCommand(cmd.Subcommands, a); sub != nil {
					cmd, local = sub, flagIndex(sub.Flags)
					rest = append(rest, a)
					continue
				}
			}
			positional = append(positional, a)
			continue
		}
		name, hasValue := flagArgName(a)
		to := &rest
		if len(positional) > 0 {
			to = &late
		}
		f, ok := local[name]
		if !ok {
			if f, ok = global[name]; ok {
				to = &moved
			}
		}
		*to = append(*to, a)
		if ok && takesValue(f) && !hasValue && j+1 < len(args) {
			j++
			*to = append(*to, args[j])
		}
	}
	out = append(out, moved...)
	out = append(out, rest...)
	out = append(out, late...)
	return append(out, positional...)
}

// isFlagArg reports whether a looks like a flag ("-x", "--name", "--").
func isFlagArg(a string) bool { return len(a) > 1 && a[0] == '-' }

// flagArgName returns the name in "-n", "--name" or "--name=value" and
// whether the value is attached.
func flagArgName(a string) (string, bool) {
	name := strings.TrimLeft(a, "-")
	name, _, hasValue := strings.Cut(name, "=")
	return name, hasValue
}

// flagIndex maps every name and alias of flags to its flag.
func flagIndex(flags []cli.Flag) map[string]cli.Flag {
	m := map[string]cli.Flag{}
	for _, f := range flags {
		for _, n := range f.Names() {
			m[n] = f
		}
	}
	for _, n := range cli.HelpFlag.Names() {
		m[n] = cli.HelpFlag
	}
	return m
}

func takesValue(f cli.Flag) bool {
	if _, ok := f.(*cli.BoolFlag); ok {
		return false
	}
	if v, ok := f.(cli.DocGenerationFlag); ok {
		return v.TakesValue()
	}
	return true
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// closest returns the candidate most similar to word, if one is similar
// enough to be the word mistyped: a Jaro-Winkler similarity (the measure
// urfave/cli's own suggestions use, which counts a swap of two letters as
// one mistake) of at least minSimilarity, case ignored.
func closest(word string, candidates []string) (string, bool) {
	const minSimilarity = 0.85
	best, bestS := "", 0.0
	for _, c := range candidates {
		s := smetrics.JaroWinkler(strings.ToLower(word), strings.ToLower(c), 0.7, 4)
		if s >= minSimilarity && s > bestS {
			best, bestS = c, s
		}
	}
	return best, best != ""
}

// commandNames lists the visible commands' names.
func commandNames(cmds []*cli.Command) []string {
	var out []string
	for _, c := range cmds {
		if !c.Hidden {
			out = append(out, c.Names()...)
		}
	}
	return out
}

// unknownCommand is the usage error for a command name that path does not
// have, with a suggestion when one is close.
func unknownCommand(name, path string, cmds []*cli.Command) error {
	err := fmt.Errorf("unknown command %q for '%s'", name, path)
	if path == "dbiam" {
		err = fmt.Errorf("unknown command %q", name)
	}
	if s, ok := closest(name, commandNames(cmds)); ok {
		return &usageError{err: err, hint: fmt.Sprintf("did you mean '%s %s'? Run '%s --help' for the commands", path, s, path)}
	}
	return &usageError{err: err, hint: fmt.Sprintf("run '%s --help' for the commands", path)}
}

// flagErrorPrefixes are the messages of Go's flag package (which
// urfave/cli uses) that end in, or contain, a flag name written with one
// dash.
var flagErrorPrefixes = []string{
	"flag provided but not defined: -",
	"flag needs an argument: -",
	"invalid boolean flag ",
}

// usageFlagError rewrites a flag parsing error of the command at path so
// that the flag is named as the user typed it (two dashes for a long
// name), with a suggestion for an unknown flag that is close to one the
// command takes.
func usageFlagError(err error, path string, args []string, flags []cli.Flag) error {
	msg := err.Error()
	hint := fmt.Sprintf("run '%s --help' for usage", path)
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		typed := typedFlag(name, args)
		msg = "unknown flag " + typed
		if path != "dbiam" {
			msg += " for '" + path + "'"
		}
		var names []string
		for _, f := range flags {
			for _, n := range f.Names() {
				if len(n) > 1 {
					names = append(names, n)
				}
			}
		}
		if s, ok := closest(name, names); ok {
			hint = fmt.Sprintf("did you mean --%s? Run '%s --help' for usage", s, path)
		}
		if name == "o" && slices.Contains(names, "out") {
			// -o was the path's short form; it is the output format
			// where a command has one, as in the Databricks CLI.
			hint = "the path is --out PATH (-o is the output format in dbiam, as in the Databricks CLI, and this command has none)"
		}
		return &usageError{err: errors.New(msg), hint: hint}
	}
	if pair, ok := strings.CutPrefix(msg, "Cannot use two forms of the same flag: "); ok {
		// urfave/cli refuses a flag given in its long and short form.
		a, b, _ := strings.Cut(pair, " ")
		msg = fmt.Sprintf("%s and %s are the same flag, given in both forms", typedFlag(a, args), typedFlag(b, args))
		hint = fmt.Sprintf("give it in one form (repeat it for more values); run '%s --help' for usage", path)
		if a == "o" || b == "o" {
			// A script of the time when -o was --out's short form.
			msg = fmt.Sprintf("%s and %s both give the output format", typedFlag(a, args), typedFlag(b, args))
			hint = "-o is the output format, as in the Databricks CLI (it was the short form of --out): pass the file as --out " + cmp.Or(flagValue("o", args), "PATH")
		}
		return &usageError{err: errors.New(msg), hint: hint}
	}
	for _, p := range flagErrorPrefixes[1:] {
		if name, ok := strings.CutPrefix(msg, p); ok {
			name = strings.TrimPrefix(name, "-")
			n, rest, _ := strings.Cut(name, ":")
			msg = strings.TrimSuffix(p, "-") + typedFlag(n, args) + cutColon(rest)
		}
	}
	// "invalid value "x" for flag -name: cause", "invalid boolean value "x" for -name: cause"
	for _, sep := range []string{" for flag -", " for -"} {
		if before, after, ok := strings.Cut(msg, sep); ok {
			n, rest, _ := strings.Cut(after, ":")
			if want := valueWanted(n, flags); want != "" && strings.TrimSpace(rest) == "parse error" {
				rest = " want " + want // Go's flag package says no more than "parse error"
			}
			msg = before + strings.TrimSuffix(sep, "-") + typedFlag(n, args) + cutColon(rest)
			break
		}
	}
	return &usageError{err: errors.New(msg), hint: hint}
}

// valueWanted says what kind of value the flag named name takes, for an
// error about a value that does not parse, or "" if unknown.
func valueWanted(name string, flags []cli.Flag) string {
	for _, f := range flags {
		if !slices.Contains(f.Names(), name) {
			continue
		}
		switch f.(type) {
		case *cli.DurationFlag:
			return "a duration such as 500ms, 3m or 1h30m"
		case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
			return "a whole number"
		case *cli.Float64Flag:
			return "a number such as 2.5"
		case *cli.BoolFlag:
			return "true or false (or the flag alone)"
		}
	}
	return ""
}

func cutColon(rest string) string {
	if rest == "" {
		return ""
	}
	return ":" + rest
}

// typedFlag returns name with the dashes the user typed in args, or two
// dashes for a long name and one for a letter.
func typedFlag(name string, args []string) string {
	for _, a := range args {
		if n, _ := flagArgName(a); n == name && isFlagArg(a) {
			dashes := len(a) - len(strings.TrimLeft(a, "-"))
			return strings.Repeat("-", dashes) + name
		}
	}
	if len([]rune(name)) == 1 {
		return "-" + name
	}
	return "--" + name
}

// flagValue returns the value typed for the one-letter flag -name
// ("-o x" or "-o=x"), or "".
func flagValue(name string, args []string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "-"+name+"="); ok {
			return v
		}
		if a == "-"+name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// allFlags is the flags of a command and the global flags, for
// suggestions.
func allFlags(local, global []cli.Flag) []cli.Flag {
	out := slices.Clone(local)
	return append(out, global...)
}
