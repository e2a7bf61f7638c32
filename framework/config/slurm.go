package config

import "regexp"

// Slurm is the [slurm] table: how `runner run --slurm` asks a Slurm cluster for the
// resources of each array task. It changes no number, so it is not in Hash. Empty
// strings leave the choice to the cluster's defaults.
type Slurm struct {
	Partition string // sbatch --partition
	Account   string // sbatch --account
	Time      string // sbatch --time of each array task, in Slurm's syntax ("30", "2:00:00", "1-12")
	Gres      string // sbatch --gres of each array task, e.g. "gpu:1" for its evaluator's GPU
	// CPUsPerEvaluator and Evaluators make each trial array task's --cpus-per-task
	// (CPUsPerEvaluator × Evaluators); Evaluators is the task's --jobs. An expert
	// training task runs one evaluator.
	CPUsPerEvaluator int
	Evaluators       int
	// Shards is how many array tasks share the trials; 0 means one per seed, split and
	// method, the finest grain.
	Shards int
	File   string
	Line   int
}

// Bounds of [slurm].
const (
	MaxCPUsPerEvaluator = 1024
	MaxEvaluators       = 256
	MaxShards           = 100_000
)

// slurmTime is Slurm's time syntax: minutes, minutes:seconds, hours:minutes:seconds,
// days-hours, days-hours:minutes, days-hours:minutes:seconds.
var slurmTime = regexp.MustCompile(`^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2})$`)

// slurmWord is what a partition, account or gres may hold: no spaces, quotes or shell
// characters, since they go into a batch script.
var slurmWord = regexp.MustCompile(`^[A-Za-z0-9_.:,+=-]+$`)

// slurm reads [slurm].
func (l *loader) slurm(t tbl) *Slurm {
	s := &Slurm{CPUsPerEvaluator: 1, Evaluators: 1, File: t.f.name, Line: t.f.pos.line(t.p)}
	t.allow("partition", "account", "time", "gres", "cpus_per_evaluator", "evaluators", "shards")
	for _, w := range []struct {
		key string
		dst *string
	}{{"partition", &s.Partition}, {"account", &s.Account}, {"gres", &s.Gres}} {
		k, dst := w.key, w.dst
		if v, ok := t.str(k, false); ok {
			if !slurmWord.MatchString(v) {
				t.f.errorf(t.at(k), "%q is not a Slurm %s (letters, digits and . _ : , + = - only)", v, k)
			}
			*dst = v
		}
	}
	if v, ok := t.str("time", false); ok {
		if !slurmTime.MatchString(v) {
			t.f.errorf(t.at("time"), "%q is not a Slurm time limit such as \"30\" (minutes), \"2:00:00\" or \"1-12:00:00\"", v)
		}
		s.Time = v
	}
	for _, b := range []struct {
		key string
		dst *int
		lo  int64
		hi  int64
	}{{"cpus_per_evaluator", &s.CPUsPerEvaluator, 1, MaxCPUsPerEvaluator}, {"evaluators", &s.Evaluators, 1, MaxEvaluators}, {"shards", &s.Shards, 0, MaxShards}} {
		if n, ok := t.integer(b.key); ok && t.f.bounded(t.at(b.key), n, b.lo, b.hi) {
			*b.dst = int(n)
		}
	}
	return s
}
