package main

import (
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestHelpOfEveryCommand asks every command for help, each way, through the real entry:
// usage on stdout, exit 0, nothing on stderr, and -h never taken as a file.
func TestHelpOfEveryCommand(t *testing.T) {
	for _, c := range commands {
		for _, args := range [][]string{
			{c.name, "-h"}, {c.name, "--help"}, {c.name, "-help"}, {"help", c.name},
			{c.name, "some.toml", "-h"}, // after a positional argument, as parse allows flags
		} {
			code, stdout, stderr := runCLI(t, args...)
			if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "usage: runner "+c.name) || !strings.Contains(stdout, c.summary) {
				t.Errorf("%q: exit %d, stderr %q, stdout:\n%s", args, code, stderr, stdout)
			}
		}
	}
}

// TestHelpListsFlags checks the flags the issue found missing from the docs, and that
// every flag of the usage line is explained below it.
func TestHelpListsFlags(t *testing.T) {
	for cmd, want := range map[string][]string{
		"run":      {"--cache DIR", "--fresh", "--start-timeout DURATION", "--call-timeout DURATION", "--jobs N", "--out DIR", "--quiet"},
		"transfer": {"--metric METRIC", "--cache DIR", "--fresh", "--start-timeout DURATION", "--call-timeout DURATION"},
		"generate": {"--method NAME", "--description TEXT", "--out DIR", "--samples N", "--seed N", "--split NAME", "--fit FILE"},
		"serve":    {"--addr HOST:PORT", "--max-samples N", "--parallel N", "--timeout DURATION", "--fit FILE"},
		"fit":      {"--method NAME", "--out FILE", "--split NAME"},
		"plan":     {"--json", "--out DIR", "--cache DIR", "--fresh"},
		"pretrain": {"--out FILE", "--epochs N", "--data DIR"},
	} {
		_, stdout, _ := runCLI(t, cmd, "-h")
		usageLine, rest, _ := strings.Cut(stdout, "\n")
		for _, w := range want {
			if !strings.Contains(usageLine, w) {
				t.Errorf("runner %s -h: usage line lacks %q: %s", cmd, w, usageLine)
			}
			if !strings.Contains(rest, "\n  "+w+" ") {
				t.Errorf("runner %s -h: no line explains %q:\n%s", cmd, w, rest)
			}
		}
	}
}

func TestTopLevelHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 || stderr != "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
		for _, c := range commands {
			if !strings.Contains(stdout, "\n  "+c.name) {
				t.Errorf("%q does not list %s:\n%s", args, c.name, stdout)
			}
		}
	}
	// No command is a usage error, with the list on stderr.
	if code, stdout, stderr := runCLI(t); code != 2 || stdout != "" || !strings.Contains(stderr, "\n  run FILE") {
		t.Errorf("no command: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}

// TestDidYouMean checks the suggestion for a mistyped command or flag, and exit 2.
func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" for no suggestion
	}{
		{[]string{"rnu"}, "did you mean run?"},
		{[]string{"valdiate", "x.toml"}, "did you mean validate?"},
		{[]string{"plugin"}, ""}, // exists: a usage error of its own below
		{[]string{"gen"}, "did you mean generate?"},
		{[]string{"xyzzy"}, ""},
		{[]string{"run", "--cahce", "c", "x.toml"}, "unknown flag --cahce; did you mean --cache?"},
		{[]string{"run", "-fersh", "x.toml"}, "unknown flag --fersh; did you mean --fresh?"},
		{[]string{"generate", "x.toml", "--metod", "m"}, "did you mean --method?"},
		{[]string{"pretrain", "--epoch", "3"}, "did you mean --epochs?"},
		{[]string{"plan", "x.toml", "--jsno"}, "did you mean --json?"},
		{[]string{"validate", "--verbose", "x.toml"}, "unknown flag --verbose\n"},
		{[]string{"plugin", "sevre", "generator/sglora"}, "did you mean serve?"},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != 2 || stdout != "" {
			t.Errorf("%q: exit %d, stdout %q; want 2 and nothing", tc.args, code, stdout)
		}
		if tc.want == "" && strings.Contains(stderr, "did you mean") || tc.want != "" && !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: stderr %q, want %q", tc.args, stderr, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"run", "run", 0}, {"rnu", "run", 1}, {"run", "rum", 1}, {"", "abc", 3},
		{"validate", "valdiate", 1}, {"plan", "plugins", 4}, {"cahce", "cache", 1}, {"ab", "ba", 1}, {"ca", "abc", 3}, // optimal string alignment: no edit of a swapped pair
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := editDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
}

// TestVersion checks that both spellings print the version and the commit: the binary's
// stamp, else the checkout's (a test binary carries no stamp), else why it is unknown.
func TestVersion(t *testing.T) {
	want := "commit unknown: "
	if out, err := exec.Command("git", "-C", repoRoot(), "rev-parse", "HEAD").Output(); repoRoot() != "" && err == nil {
		want = "commit " + strings.TrimSpace(string(out))
	}
	for _, args := range [][]string{{"--version"}, {"version"}, {"-version"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "runner ") || !strings.Contains(stdout, want) {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want %q", args, code, stderr, stdout, want)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the README's command list from the commands' help")

// TestREADMECommands keeps the README's command list equal to what the commands' help
// says, so that no flag goes missing there: `go test ./runner -run TestREADMECommands
// -update` rewrites it.
func TestREADMECommands(t *testing.T) {
	const begin, end = "<!-- commands: `go test ./runner -run TestREADMECommands -update` writes this list -->\n```\n", "```\n<!-- end of commands -->"
	var b strings.Builder
	for _, c := range commands {
		_, stdout, _ := runCLI(t, c.name, "-h")
		usageLine, _, _ := strings.Cut(stdout, "\n")
		b.WriteString("# " + c.summary + "\n" + wrap(strings.TrimPrefix(usageLine, "usage: "), 92) + "\n")
	}
	list := b.String()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the command list's markers %q ... %q", begin, end)
	}
	if got := readme[i+len(begin) : j]; got != list {
		if *update {
			if err := os.WriteFile("../README.md", []byte(readme[:i+len(begin)]+list+readme[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's command list differs from the commands' help; run go test ./runner -run TestREADMECommands -update\nREADME:\n%s\nhelp:\n%s", got, list)
	}
}

// wrap breaks a usage line before a bracket past width columns, indenting the rest
// under the first argument.
func wrap(line string, width int) string {
	indent := strings.Repeat(" ", len(strings.Join(strings.Fields(line)[:2], " "))+1)
	var out, cur string
	for _, word := range regexp.MustCompile(`\[[^\]]*\]|\S+`).FindAllString(line, -1) {
		if cur != "" && len(cur)+1+len(word) > width {
			out += cur + "\n"
			cur = indent + word
			continue
		}
		if cur != "" {
			cur += " "
		}
		cur += word
	}
	return out + cur
}

// TestCutRedraw checks that a progress redraw is cut to the terminal's width, rune by
// rune, keeping its control prefix and final newline, and that nothing else is touched.
func TestCutRedraw(t *testing.T) {
	const clr = "\r\033[K"
	for _, tc := range []struct {
		in    string
		width int
		want  string
	}{
		{clr + "trials [███░░] 3/5  ETA ≥4s", 12, clr + "trials [███"},
		{clr + "trials [███░░] 3/5\n", 10, clr + "trials [█\n"},
		{clr + "short", 80, clr + "short"},
		{clr + "exactly9!", 10, clr + "exactly9!"},
		{clr + "exactly10!", 10, clr + "exactly10"},
		{clr + "any width", 0, clr + "any width"},
		{"a log line, not a redraw, longer than the width", 10, "a log line, not a redraw, longer than the width"},
	} {
		if got := string(cut([]byte(tc.in), tc.width)); got != tc.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}
