// Command runner runs sglab experiments: `runner run FILE` trains the experts, generates
// LoRAs for the novel tasks with every method, scores them and writes results.jsonl,
// tables and figures. It also serves its own built-in plugins (`runner plugin serve`).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/plugins/builtin"
	"github.com/sglab/sglab/reports"
	"github.com/sglab/sglab/runner/driver"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func newLogger(stderr io.Writer, quiet bool) hclog.Logger {
	level := hclog.Info
	if quiet {
		level = hclog.Warn
	}
	return hclog.New(&hclog.LoggerOptions{Name: "sglab", Output: stderr, Level: level})
}

// specFor turns an experiment's plugin reference into what to execute: built-ins are
// this very binary in plugin mode; others are the named executable. Its callers say
// where the reference is.
func specFor(kind string, ref config.PluginRef) (rpc.Spec, error) {
	if ref.Path != "" {
		return rpc.Spec{Kind: kind, Label: ref.Path, Path: ref.Path, SHA256: ref.SHA256}, nil
	}
	if _, ok := builtin.Lookup(kind, ref.Name); !ok {
		if name, renamed := builtin.Renamed(kind, ref.Name); renamed {
			return rpc.Spec{}, fmt.Errorf("built-in %s %q is now called %q: write plugin = %q", kind, ref.Name, name, name)
		}
		return rpc.Spec{}, fmt.Errorf("no built-in %s plugin %q (built-in %ss: %s)", kind, ref.Name, kind, strings.Join(builtin.Names(kind), ", "))
	}
	exe, err := os.Executable()
	if err != nil {
		return rpc.Spec{}, fmt.Errorf("cannot find the runner's own executable to serve built-in %s: %w", ref.Name, err)
	}
	return rpc.Spec{Kind: kind, Label: ref.Name, Path: exe, Args: []string{"plugin", "serve", kind + "/" + ref.Name}}, nil
}

// interruptible returns a context cancelled by SIGINT or SIGTERM, which also kills
// every plugin at once, so no plugin outlives an interrupted runner. The context's
// cause is an interrupted naming the signal.
func interruptible(host *rpc.Host, log hclog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case s := <-sig:
			log.Warn("interrupted; stopping plugins", "signal", s.String())
			cancel(interrupted{s})
			host.KillAll()
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(sig); cancel(nil) }
}

// interrupted is the cause of a context cancelled by a signal.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string { return "interrupted by " + i.sig.String() }

// exitCode is the shell's code for a process ended by the signal that interrupted ctx:
// 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
func exitCode(ctx context.Context) int {
	var i interrupted
	if errors.As(context.Cause(ctx), &i) {
		if s, ok := i.sig.(syscall.Signal); ok {
			return 128 + int(s)
		}
	}
	return 130
}

// driverFlags are the flags of the commands that drive an experiment's plugins.
type driverFlags struct {
	out, cache                *string
	jobs                      *int
	quiet, fresh              *bool
	startTimeout, callTimeout *time.Duration
}

func addDriverFlags(fs *flag.FlagSet) driverFlags {
	f := addPluginFlags(fs)
	f.out = fs.String("out", "", "output `DIR` (overrides the experiment's output)")
	return f
}

// addPluginFlags are the driver flags without --out, for commands whose --out is
// something else.
func addPluginFlags(fs *flag.FlagSet) driverFlags {
	return driverFlags{
		jobs:         fs.Int("jobs", runtime.NumCPU(), "evaluator processes working at once, and for run (seed, split) blocks of trials (results do not depend on it)"),
		quiet:        fs.Bool("quiet", false, "log only warnings and errors"),
		cache:        fs.String("cache", defaultCache(), "expert cache `DIR` (or set SGLAB_CACHE)"),
		fresh:        fs.Bool("fresh", false, "ignore the expert cache and train again"),
		startTimeout: fs.Duration("start-timeout", 0, "how long a plugin may take to start (0: the experiment's [timeouts] start)"),
		callTimeout:  fs.Duration("call-timeout", 0, "how long any plugin call may take before the plugin is killed, for every call (0: the experiment's [timeouts], per call)"),
	}
}

// loadExperiment parses a command's line (its flags and one experiment file) and loads
// the file; a nil experiment comes with the exit code.
func loadExperiment(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (*config.Experiment, int) {
	pos, code, ok := parseArgs(fs, args, 1, "one experiment file", stdout, stderr)
	if !ok {
		return nil, code
	}
	exp, err := config.Load(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, 1
	}
	return exp, 0
}

// options are the driver options of the flags, with a logger that goes to stderr and, on
// a terminal, a redrawn progress line in place of the info logs.
func (f driverFlags) options(stderr io.Writer, host *rpc.Host) driver.Options {
	var progress io.Writer
	if file, ok := stderr.(*os.File); ok && !*f.quiet && isTerminal(file) {
		progress = fitWidth{file}
	}
	out := ""
	if f.out != nil {
		out = *f.out
	}
	logOut := stderr
	if progress != nil {
		logOut = clearLine{stderr}
	}
	return driver.Options{Out: out, Jobs: *f.jobs, Cache: *f.cache, Fresh: *f.fresh, Host: host,
		Log: newLogger(logOut, *f.quiet || progress != nil), Progress: progress,
		StartTimeout: *f.startTimeout, CallTimeout: *f.callTimeout, Spec: specFor, Build: readBuild()}
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run")
	flags := addDriverFlags(fs)
	cluster := addClusterFlags(fs)
	exp, code := loadExperiment(fs, args, stdout, stderr)
	if exp == nil {
		return code
	}
	if *cluster.slurm {
		return cluster.submit(exp, flags, stdout, stderr)
	}
	shard, err := cluster.shardOption()
	if err != nil {
		fmt.Fprintln(stderr, "runner run:", err)
		return 2
	}
	host := &rpc.Host{}
	defer host.KillAll()
	opt := flags.options(stderr, host)
	opt.Shard = shard
	log := opt.Log
	ctx, stop := interruptible(host, log)
	defer stop()
	start := time.Now()
	sum, err := driver.Run(ctx, exp, opt)
	host.KillAll()
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "runner: interrupted; finished trials are in the journal and a rerun goes on from there")
		return exitCode(ctx)
	}
	if err != nil {
		fmt.Fprintln(stderr, "runner:", err)
		return 1
	}
	if shard != nil { // its rows are a part; runner report merges them
		log.Info("shard done", "shard", *cluster.shard, "ran", sum.Ran, "skipped", sum.Skipped, "failed", sum.Failed, "seconds", time.Since(start).Seconds())
		if sum.Failed > 0 {
			fmt.Fprintf(stderr, "runner: %d trials of shard %s failed; their errors are in %s\n", sum.Failed, *cluster.shard, driver.ShardJournal(sum.Out, shard.Index))
			return 1
		}
		return 0
	}
	splits := make([]string, len(exp.Splits))
	for i, sp := range exp.Splits {
		splits[i] = sp.Name
	}
	if err := reports.Table(stdout, sum.Rows, sum.Metrics, splits); err != nil {
		fmt.Fprintln(stderr, "runner: table:", err)
	}
	if err := reports.Render(sum.Out, reports.Options{Title: exp.Name}); err != nil {
		fmt.Fprintln(stderr, "runner: report:", err)
		return 1
	}
	log.Info("done", "out", sum.Out, "ran", sum.Ran, "skipped", sum.Skipped, "failed", sum.Failed, "superseded", sum.Stale, "seconds", time.Since(start).Seconds())
	fmt.Fprintln(stderr, sum.Line())
	if sum.Failed > 0 {
		fmt.Fprintf(stderr, "runner: %d trials failed; their errors are in %s/results.jsonl\n", sum.Failed, sum.Out)
		return 1
	}
	return 0
}

// cmdTransfer runs the transfer diagnostic: does an expert whose description is near a
// task's help that task, before any method is compared?
func cmdTransfer(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("transfer")
	flags := addDriverFlags(fs)
	metric := fs.String("metric", "", "the evaluator `METRIC` whose gain over zero-shot is compared (default: the evaluator's primary headline metric)")
	exp, code := loadExperiment(fs, args, stdout, stderr)
	if exp == nil {
		return code
	}
	host := &rpc.Host{}
	defer host.KillAll()
	opt := flags.options(stderr, host)
	if opt.Out == "" {
		opt.Out = exp.Output
	}
	ctx, stop := interruptible(host, opt.Log)
	defer stop()
	m, err := driver.Transfer(ctx, exp, driver.TransferOptions{Options: opt, Metric: *metric})
	host.KillAll()
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "runner: interrupted; trained experts are in the cache and a rerun reuses them")
		return exitCode(ctx)
	}
	if err != nil {
		fmt.Fprintln(stderr, "runner transfer:", err)
		return 1
	}
	rep, err := reports.WriteTransfer(opt.Out, m)
	if err != nil {
		fmt.Fprintln(stderr, "runner transfer:", err)
		return 1
	}
	rep.Summary(stdout)
	fmt.Fprintf(stdout, "wrote %s, %s and the figures %s and %s (png, svg) into %s\n",
		reports.TransferJSON, reports.TransferCSV, reports.TransferGain, reports.TransferScatter, opt.Out)
	return 0
}

// clearLine erases the progress line before a log line is written over it; the next
// redraw puts it back below.
type clearLine struct{ w io.Writer }

func (c clearLine) Write(p []byte) (int, error) {
	if _, err := io.WriteString(c.w, "\r\033[K"); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// fitWidth cuts each redraw of the progress line to the terminal's width: a line that
// wrapped would leave its first part behind at every redraw.
type fitWidth struct{ f *os.File }

func (w fitWidth) Write(p []byte) (int, error) {
	_, err := w.f.Write(cut(p, termWidth(w.f)))
	return len(p), err
}

// cut shortens a redraw ("\r\033[K" and a line, perhaps ending in "\n") to width-1
// columns, one a rune; width 0 leaves it whole.
func cut(p []byte, width int) []byte {
	body, ok := bytes.CutPrefix(p, []byte("\r\033[K"))
	if !ok || width <= 1 {
		return p
	}
	line, nl := bytes.CutSuffix(body, []byte("\n"))
	if utf8.RuneCount(line) < width {
		return p
	}
	out := []byte("\r\033[K")
	for n := 0; n < width-1; n++ {
		_, size := utf8.DecodeRune(line)
		out, line = append(out, line[:size]...), line[size:]
	}
	if nl {
		out = append(out, '\n')
	}
	return out
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// defaultCache is $SGLAB_CACHE, else the user's cache folder, so experiments share
// experts trained with the same settings.
func defaultCache() string {
	if d := os.Getenv("SGLAB_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "sglab")
	}
	return ""
}

func cmdReport(args []string, stdout, stderr io.Writer) int {
	pos, code, ok := parseArgs(newFlagSet("report"), args, 1, "one results folder", stdout, stderr)
	if !ok {
		return code
	}
	if code := mergeAndRender(pos[0], "", stdout, stderr); code != 0 {
		return code
	}
	fmt.Fprintln(stdout, "wrote the report into", pos[0])
	return 0
}

func cmdPlugin(args []string, stdout, stderr io.Writer) int {
	pos, code, ok := parseArgs(newFlagSet("plugin"), args, 2, "serve KIND/NAME", stdout, stderr)
	if !ok {
		return code
	}
	if pos[0] != "serve" {
		fmt.Fprintf(stderr, "runner plugin: unknown subcommand %q%s; usage: runner plugin serve KIND/NAME\n", pos[0], suggest(pos[0], []string{"serve"}))
		return 2
	}
	kind, name, _ := strings.Cut(pos[1], "/")
	e, ok := builtin.Lookup(kind, name)
	if !ok {
		fmt.Fprintf(stderr, "runner plugin serve: no built-in %q\n", pos[1])
		return 2
	}
	if err := rpc.Serve(e.New()); err != nil {
		fmt.Fprintf(stderr, "runner plugin serve %s: %v\n", pos[1], err)
		return 1
	}
	return 0
}

func cmdPlugins(args []string, stdout, stderr io.Writer) int {
	if _, code, ok := parseArgs(newFlagSet("plugins"), args, 0, "", stdout, stderr); !ok {
		return code
	}
	ctx := context.Background()
	for _, e := range builtin.All() {
		info, err := e.New().Info(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "%s/%s: %v\n", e.Kind, e.Name, err)
			return 1
		}
		printInfo(stdout, e.Kind+"/"+e.Name, info)
	}
	listBundled(ctx, stdout)
	return 0
}

// printInfo writes what a plugin says of itself, under title.
func printInfo(w io.Writer, title string, info plugin.Info) {
	fmt.Fprintf(w, "%s %s\n    %s\n", title, info.Version, info.Description)
	if n := info.Schema.NumParams(); n > 0 {
		fmt.Fprintf(w, "    adapters: %d modules, %d parameters\n", len(info.Schema), n)
	}
	if info.Backbone != "" {
		fmt.Fprintf(w, "    backbone: %s\n", info.Backbone)
	}
	if len(info.Datasets) > 0 {
		fmt.Fprintf(w, "    datasets: %s\n", strings.Join(info.Datasets, ", "))
	}
	if len(info.Transforms) > 0 {
		fmt.Fprintf(w, "    transforms: %s\n", strings.Join(info.Transforms, ", "))
	}
	if len(info.Metrics) > 0 {
		fmt.Fprintf(w, "    metrics (headline %s):\n", strings.Join(info.Headline, ", "))
		for _, m := range info.Metrics {
			dir := ""
			if m.LowerIsBetter {
				dir = " (lower is better)"
			}
			fmt.Fprintf(w, "      %-14s %s%s\n", m.Name, m.Description, dir)
		}
	}
	for _, p := range info.Params {
		doc := p.Doc
		if c := p.Constraint(); c != "" {
			doc = "[" + c + "] " + doc // what Configure accepts, before why
		}
		fmt.Fprintf(w, "    %-16s %-8s default %-10s %s\n", p.Name, p.Type, p.Default, doc)
	}
}

// cmdValidate reports every problem of an experiment file in one round: the file's own
// (syntax, keys, types, meaning, limits) and what the plugins say of their parameters,
// of the tasks and of the training options, each at its file and line.
func cmdValidate(args []string, stdout, stderr io.Writer) int {
	pos, code, ok := parseArgs(newFlagSet("validate"), args, 1, "one experiment file", stdout, stderr)
	if !ok {
		return code
	}
	exp, err := config.LoadPartial(pos[0])
	var problems []error
	if err != nil {
		var errs config.Errors
		if !errors.As(err, &errs) {
			fmt.Fprintln(stderr, err)
			return 1
		}
		for _, e := range errs {
			problems = append(problems, e)
		}
	}
	if exp != nil {
		host := &rpc.Host{}
		defer host.KillAll()
		log := newLogger(stderr, true)
		ctx, stop := interruptible(host, log)
		defer stop()
		problems = append(problems, driver.Check(ctx, exp, driver.Options{Host: host, Log: log, Spec: specFor})...)
		if ctx.Err() != nil {
			return exitCode(ctx)
		}
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "%d problems\n", len(problems))
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d tasks, %d splits, %d methods, %d seeds)\n", pos[0], len(exp.Tasks), len(exp.Splits), len(exp.Methods), len(exp.Seeds))
	return 0
}

// cmdPlan prints what `runner run` would do now, stage by stage, with time estimates
// from earlier measurements, without running or writing anything.
func cmdPlan(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("plan")
	flags := addDriverFlags(fs)
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	exp, code := loadExperiment(fs, args, stdout, stderr)
	if exp == nil {
		return code
	}
	host := &rpc.Host{}
	defer host.KillAll()
	*flags.quiet = true
	opt := flags.options(stderr, host)
	ctx, stop := interruptible(host, opt.Log)
	defer stop()
	p, err := driver.PlanRun(ctx, exp, opt)
	host.KillAll()
	if ctx.Err() != nil {
		return exitCode(ctx)
	}
	if err != nil {
		fmt.Fprintln(stderr, "runner plan:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(p); err != nil {
			fmt.Fprintln(stderr, "runner plan:", err)
			return 1
		}
		return 0
	}
	secs := func(v *float64) string {
		if v == nil {
			return "unknown"
		}
		d := time.Duration(*v * float64(time.Second))
		if d < time.Second {
			return d.Round(time.Millisecond).String()
		}
		return d.Round(100 * time.Millisecond).String()
	}
	fmt.Fprintf(stdout, "plan of %s: output %s, expert cache %s\n\n", p.Experiment, p.Out, p.Cache)
	fmt.Fprintf(stdout, "%-18s %7s %7s %9s %10s %10s\n", "stage", "total", "done", "remaining", "each", "estimate")
	for _, s := range p.Stages {
		fmt.Fprintf(stdout, "%-18s %7d %7d %9d %10s %10s\n", s.Name, s.Total, s.Done, s.Remaining, secs(s.Each), secs(s.Seconds))
	}
	all := secs(&p.Seconds)
	if len(p.Unknown) > 0 {
		all = fmt.Sprintf("%s + unknown (%s)", all, strings.Join(p.Unknown, ", "))
	}
	fmt.Fprintf(stdout, "%-18s %7s %7s %9s %10s %10s\n\n", "all", "", "", "", "", all)
	fmt.Fprintln(stdout, "estimates are work seconds summed over parallel work; \"done\" is the expert cache for trainings, the journal otherwise")
	for _, s := range p.Stages {
		fmt.Fprintf(stdout, "  %s: %s\n", s.Name, s.Source)
	}
	if p.Stale > 0 {
		fmt.Fprintf(stdout, "%d journal rows are stale (their configuration changed): a run moves them to superseded.jsonl and runs their trials again\n", p.Stale)
		for _, w := range p.StaleWhy {
			fmt.Fprintln(stdout, "  "+w)
		}
	}
	for _, w := range p.Warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	return 0
}
