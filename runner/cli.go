package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sglab/sglab/internal/buildinfo"
)

// command is one subcommand of the runner. Its flags are defined by its run function on
// a flag set from newFlagSet, so that `runner NAME -h` shows exactly what it parses.
type command struct {
	name string
	// args are its positional arguments and required flags, as the usage line shows them
	// before the optional flags.
	args    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands are the runner's subcommands, in the order `runner help` lists them. Set in
// init: their functions refer back to the table (for help).
var commands []command

func init() {
	commands = []command{
		{"run", "FILE", "run an experiment (here, or on a Slurm cluster with --slurm)", cmdRun},
		{"status", "DIR", "progress of a Slurm run: done, failed, queued; how to resubmit", cmdStatus},
		{"transfer", "FILE", "does a similar description mean a helpful expert?", cmdTransfer},
		{"fit", "FILE --method NAME --out FILE", "fit a generator once and save the fit with its library's hash", cmdFit},
		{"generate", "FILE --method NAME --description TEXT --out DIR", "write LoRAs generated for a description as PEFT folders", cmdGenerate},
		{"serve", "FILE --method NAME", "serve generated LoRAs over HTTP (POST /v1/adapters)", cmdServe},
		{"plan", "FILE", "what a run would do now and how long it should take", cmdPlan},
		{"validate", "FILE", "report every problem of an experiment file", cmdValidate},
		{"plugins", "", "list the built-in plugins and their parameters", cmdPlugins},
		{"report", "DIR", "merge a Slurm run's shards; render tables and figures of a results folder", cmdReport},
		{"expert", "FILE --task TASK --seed N", "train one expert into the cache (what a Slurm experts array task runs)", cmdExpert},
		{"pretrain", "--out FILE", "pretrain the default world's backbone", cmdPretrain},
		{"plugin", "serve KIND/NAME", "serve a built-in plugin (the runner does this itself)", cmdPlugin},
		{"version", "", "print the runner's version and git commit", cmdVersion},
		{"help", "[COMMAND]", "list the commands, or show one command's flags", cmdHelp},
	}
}

func lookup(name string) (command, bool) {
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == name })
	if i < 0 {
		return command{}, false
	}
	return commands[i], true
}

// run is the runner's entry: it dispatches args to a command and returns the exit code
// (0 done, 1 failed, 2 bad usage; 128+n interrupted by signal n).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "-version", "--version":
		return cmdVersion(args[1:], stdout, stderr)
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "runner: unknown command %q%s\nrun `runner help` for the list of commands\n", args[0], suggest(args[0], commandNames()))
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func commandNames() []string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	return names
}

// usage lists the commands.
func usage(w io.Writer) {
	fmt.Fprint(w, "runner: zero-shot LoRA-generation experiments (sglab)\n\nusage: runner COMMAND [ARGUMENTS] [FLAGS]\n\ncommands:\n")
	for _, c := range commands {
		if left := strings.TrimSpace(c.name + " " + c.args); len(left) > 40 {
			fmt.Fprintf(w, "  %s\n  %-40s %s\n", left, "", c.summary)
		} else {
			fmt.Fprintf(w, "  %-40s %s\n", left, c.summary)
		}
	}
	fmt.Fprint(w, "\nFlags may come before or after the arguments, with one dash or two.\n"+
		"`runner COMMAND -h` lists a command's flags; `runner --version` prints the version and commit.\n")
}

// newFlagSet returns the flag set of a command: parse errors and help are written by
// parse, not by the flag package.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// errHelp is what parse returns when help was asked for and printed: exit 0.
var errHelp = errors.New("help printed")

// parse parses flags that may come before or after the positional arguments. On -h it
// prints the command's help to stdout and returns errHelp; on a bad flag it says what is
// wrong (with the nearest flag for an unknown one) on stderr.
func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				help(stdout, fs)
				return nil, errHelp
			}
			msg := err.Error()
			if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
				var flags []string
				fs.VisitAll(func(f *flag.Flag) { flags = append(flags, "--"+f.Name) })
				name = "--" + strings.TrimLeft(name, "-")
				msg = "unknown flag " + name + suggest(name, flags)
			}
			fmt.Fprintf(stderr, "runner %s: %s\nrun `runner %s -h` for its flags\n", fs.Name(), msg, fs.Name())
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// exitCodeOf is the exit code of a failed parse: 0 after help, else 2.
func exitCodeOf(err error) int {
	if errors.Is(err, errHelp) {
		return 0
	}
	return 2
}

// parseArgs parses a command's flags and wants exactly n positional arguments, named
// what in the error; ok false comes with the exit code.
func parseArgs(fs *flag.FlagSet, args []string, n int, what string, stdout, stderr io.Writer) ([]string, int, bool) {
	pos, err := parse(fs, args, stdout, stderr)
	if err != nil {
		return nil, exitCodeOf(err), false
	}
	if len(pos) != n {
		if n == 0 {
			fmt.Fprintf(stderr, "runner %s: takes no arguments, got %q\n", fs.Name(), pos)
		} else {
			fmt.Fprintf(stderr, "runner %s: want exactly %s, got %d arguments\nrun `runner %s -h` for its usage\n", fs.Name(), what, len(pos), fs.Name())
		}
		return nil, 2, false
	}
	return pos, 0, true
}

// synopsis is a command's usage line: its arguments and required flags, then every
// other flag in brackets.
func synopsis(fs *flag.FlagSet) string {
	c, _ := lookup(fs.Name())
	parts := []string{"runner", c.name}
	if c.args != "" {
		parts = append(parts, c.args)
	}
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(strings.Fields(c.args), "--"+f.Name) {
			return
		}
		if arg := flagArg(f); arg != "" {
			parts = append(parts, "[--"+f.Name+" "+arg+"]")
		} else {
			parts = append(parts, "[--"+f.Name+"]")
		}
	})
	return strings.Join(parts, " ")
}

// flagArg names a flag's value: the word in backquotes in its usage, else its type.
func flagArg(f *flag.Flag) string {
	name, _ := flag.UnquoteUsage(f)
	switch name {
	case "int", "uint":
		return "N"
	case "float":
		return "X"
	case "duration":
		return "DURATION"
	case "string":
		return "VALUE"
	}
	return name
}

// help writes a command's usage line, what it does and every flag with its default.
func help(w io.Writer, fs *flag.FlagSet) {
	c, _ := lookup(fs.Name())
	fmt.Fprintf(w, "usage: %s\n\n%s\n", synopsis(fs), c.summary)
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprint(w, "\nflags:\n")
			first = false
		}
		_, doc := flag.UnquoteUsage(f)
		left := "  --" + f.Name
		if arg := flagArg(f); arg != "" {
			left += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			doc += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		if len(left) > 26 {
			fmt.Fprintf(w, "%s\n%28s%s\n", left, "", doc)
		} else {
			fmt.Fprintf(w, "%-28s%s\n", left, doc)
		}
	})
}

// cmdHelp lists the commands, or shows one command's help.
func cmdHelp(args []string, stdout, stderr io.Writer) int {
	pos, err := parse(newFlagSet("help"), args, stdout, stderr)
	if err != nil {
		return exitCodeOf(err)
	}
	switch len(pos) {
	case 0:
		usage(stdout)
		return 0
	case 1:
		if _, ok := lookup(pos[0]); !ok {
			return run(pos, stdout, stderr) // says it is unknown, with a suggestion
		}
		return run([]string{pos[0], "-h"}, stdout, stderr)
	}
	fmt.Fprintln(stderr, "runner help: at most one command")
	return 2
}

// cmdVersion prints the module version and the git commit the runner was built from.
func cmdVersion(args []string, stdout, stderr io.Writer) int {
	if _, code, ok := parseArgs(newFlagSet("version"), args, 0, "", stdout, stderr); !ok {
		return code
	}
	fmt.Fprintln(stdout, "runner", readBuild())
	return 0
}

// readBuild is the runner's build: without a VCS stamp (go run), git is asked about the
// repository the runner runs in, if any.
func readBuild() buildinfo.Info {
	return buildinfo.Read(repoRoot())
}

// suggest is ", did you mean X?" for the candidate nearest to word, or "" when none is
// near: within two edits (a swap of neighbours is one), or word a prefix of it (which
// counts as one edit).
func suggest(word string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		d := editDistance(word, c)
		if len(word) >= 2 && strings.HasPrefix(c, word) {
			d = 1 // an abbreviation
		}
		if d < bestD && d < len(word) {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %s?", best)
}

// editDistance is the optimal string alignment distance: insertions, deletions,
// substitutions and swaps of neighbours, each one edit.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}
