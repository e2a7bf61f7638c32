package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/reports"
	"github.com/sglab/sglab/runner/driver"
	"github.com/sglab/sglab/runner/slurm"
)

// clusterFlags are run's flags for sharded and Slurm runs.
type clusterFlags struct {
	slurm                    *bool
	partition, account, time *string
	only, shards             *int
	wait                     *bool
	shard                    *string
}

func addClusterFlags(fs *flag.FlagSet) clusterFlags {
	return clusterFlags{
		slurm:     fs.Bool("slurm", false, "submit the run to Slurm as job arrays (sbatch) instead of running it here"),
		partition: fs.String("partition", "", "with --slurm: sbatch --partition `NAME` (overrides [slurm] partition)"),
		account:   fs.String("account", "", "with --slurm: sbatch --account `NAME` (overrides [slurm] account)"),
		time:      fs.String("time", "", "with --slurm: sbatch --time `TIME` of each array task (overrides [slurm] time)"),
		shards:    fs.Int("shards", 0, "with --slurm: trial shards (overrides [slurm] shards; 0: one per seed, split and method)"),
		only:      fs.Int("only-shard", -1, "with --slurm: resubmit this trial shard alone"),
		wait:      fs.Bool("wait", false, "with --slurm: wait for the jobs, then merge the shards and render the report"),
		shard:     fs.String("shard", "", "run shard `K/N` of the trials only, into shards/ of the output folder (what a Slurm array task runs)"),
	}
}

// shardOption parses --shard K/N.
func (c clusterFlags) shardOption() (*driver.Shard, error) {
	if *c.shard == "" {
		return nil, nil
	}
	k, n, ok := strings.Cut(*c.shard, "/")
	ki, err1 := strconv.Atoi(k)
	ni, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || ni < 1 || ki < 0 || ki >= ni {
		return nil, fmt.Errorf("--shard %q: want K/N with 0 ≤ K < N", *c.shard)
	}
	return &driver.Shard{Index: ki, Count: ni}, nil
}

// resources are the experiment's [slurm] overlaid with the flags.
func (c clusterFlags) resources(exp *config.Experiment) slurm.Resources {
	r := slurm.FromConfig(exp.Slurm)
	for _, o := range []struct{ flag, dst *string }{{c.partition, &r.Partition}, {c.account, &r.Account}, {c.time, &r.Time}} {
		if *o.flag != "" {
			*o.dst = *o.flag
		}
	}
	if *c.shards > 0 {
		r.Shards = *c.shards
	}
	return r
}

// submit is `runner run FILE --slurm`.
func (c clusterFlags) submit(exp *config.Experiment, flags driverFlags, stdout, stderr io.Writer) int {
	if *c.shard != "" {
		fmt.Fprintln(stderr, "runner run: --shard is what an array task runs; with --slurm, resubmit one shard with --only-shard K")
		return 2
	}
	host := &rpc.Host{}
	defer host.KillAll()
	*flags.quiet = true // the plugins' logs of the preparation; warnings still show
	opt := flags.options(stderr, host)
	ctx, stop := interruptible(host, opt.Log)
	defer stop()
	sub, err := slurm.Submit(ctx, exp, slurm.Options{Driver: opt, Resources: c.resources(exp), OnlyShard: *c.only, Log: stdout})
	host.KillAll()
	if ctx.Err() != nil {
		return exitCode(ctx)
	}
	if err != nil {
		fmt.Fprintln(stderr, "runner run --slurm:", err)
		return 1
	}
	if !*c.wait {
		fmt.Fprintf(stdout, "follow it with: runner status %s\nmerge and report when it is done: runner report %s\n", sub.Out, sub.Out)
		return 0
	}
	if err := slurm.Wait(ctx, sub.Jobs, 2*time.Second); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "runner: stopped waiting; the jobs go on (runner status", sub.Out+")")
			return exitCode(ctx)
		}
		fmt.Fprintln(stderr, "runner run --slurm:", err)
		return 1
	}
	rep, err := slurm.Status(ctx, sub.Out)
	if err != nil {
		fmt.Fprintln(stderr, "runner run --slurm:", err)
		return 1
	}
	rep.Print(stdout)
	if code := mergeAndRender(sub.Out, exp.Name, stdout, stderr); code != 0 {
		return code
	}
	if rep.Failed+rep.Remaining > 0 {
		fmt.Fprintf(stderr, "runner: %d trials failed and %d did not run; see runner status %s\n", rep.Failed, rep.Remaining, sub.Out)
		return 1
	}
	return 0
}

// mergeAndRender merges the shards of the output folder out into its results.jsonl
// and renders its tables and figures.
func mergeAndRender(out, title string, stdout, stderr io.Writer) int {
	n, err := driver.MergeShards(out)
	if err != nil {
		fmt.Fprintln(stderr, "runner report:", err)
		return 1
	}
	if n > 0 {
		fmt.Fprintf(stdout, "merged the shards into %d rows of %s/results.jsonl\n", n, out)
	}
	if err := reports.Render(out, reports.Options{Title: title}); err != nil {
		fmt.Fprintln(stderr, "runner report:", err)
		return 1
	}
	return 0
}

// cmdStatus is `runner status DIR`: the progress of a Slurm run.
func cmdStatus(args []string, stdout, stderr io.Writer) int {
	pos, code, ok := parseArgs(newFlagSet("status"), args, 1, "one results folder", stdout, stderr)
	if !ok {
		return code
	}
	host := &rpc.Host{}
	ctx, stop := interruptible(host, newLogger(stderr, true))
	defer stop()
	rep, err := slurm.Status(ctx, pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "runner status:", err)
		return 1
	}
	rep.Print(stdout)
	return 0
}

// cmdExpert is `runner expert FILE --task T --seed S [--method M]`: train one expert
// into the cache (what a Slurm experts array task runs).
func cmdExpert(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("expert")
	flags := addPluginFlags(fs)
	id := fs.String("task", "", "the `TASK` whose expert to train")
	seed := fs.Uint64("seed", 0, "the experiment seed")
	method := fs.String("method", "", "the method `NAME` whose training options to use (default: the experiment's [train])")
	exp, code := loadExperiment(fs, args, stdout, stderr)
	if exp == nil {
		return code
	}
	*flags.jobs = 1
	host := &rpc.Host{}
	defer host.KillAll()
	opt := flags.options(stderr, host)
	ctx, stop := interruptible(host, opt.Log)
	defer stop()
	path, err := driver.TrainExpert(ctx, exp, opt, *id, *seed, *method)
	host.KillAll()
	if ctx.Err() != nil {
		return exitCode(ctx)
	}
	if err != nil {
		fmt.Fprintln(stderr, "runner expert:", err)
		return 1
	}
	fmt.Fprintln(stdout, path)
	return 0
}
