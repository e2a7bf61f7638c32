// Package slurm runs an experiment on a Slurm cluster: `runner run FILE --slurm`
// submits, with sbatch, a job array training the experts the cache lacks (one array
// task per task, seed and training options) and, depending on it (afterok), a job
// array of trial shards (driver.Shard), each array task running the same runner binary
// on its shard. The output folder and the expert cache must be on storage every node
// sees; the array tasks append to their own journals there, and `runner report` (or
// the end of `runner run --slurm --wait`) merges them (results.Merge).
//
// Everything a submission did is kept under <out>/slurm: the record (SubmissionFile),
// the batch scripts, the runner binary the tasks run, each array task's stdout and
// stderr (logs/) and one status line per finished attempt (status/), which Status reads
// with squeue to say what is done, failed, queued or left, and how to resubmit it.
package slurm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sglab/sglab/framework/atomicfile"
	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/runner/driver"
)

// Dir, inside an output folder, holds what submissions wrote; SubmissionFile in it is
// the record of the last one.
const (
	Dir            = "slurm"
	SubmissionFile = "submission.json"
)

// Array job kinds.
const (
	KindExperts = "experts"
	KindTrials  = "trials"
)

// Resources are what each array task asks of Slurm: the experiment's [slurm] table
// overlaid with the command line's flags.
type Resources struct {
	Partition        string `json:"partition,omitempty"`
	Account          string `json:"account,omitempty"`
	Time             string `json:"time,omitempty"`
	Gres             string `json:"gres,omitempty"`
	CPUsPerEvaluator int    `json:"cpus_per_evaluator"`
	Evaluators       int    `json:"evaluators"`
	Shards           int    `json:"shards"`
}

// FromConfig is the resources of an experiment's [slurm] table (its defaults when the
// table is absent).
func FromConfig(s *config.Slurm) Resources {
	if s == nil {
		return Resources{CPUsPerEvaluator: 1, Evaluators: 1}
	}
	return Resources{Partition: s.Partition, Account: s.Account, Time: s.Time, Gres: s.Gres,
		CPUsPerEvaluator: s.CPUsPerEvaluator, Evaluators: s.Evaluators, Shards: s.Shards}
}

// Submission is the record of what was submitted into an output folder, rewritten by
// every submission: the last plan of work and every job submitted so far.
type Submission struct {
	Experiment string              `json:"experiment"` // absolute path of the experiment file
	Name       string              `json:"name"`
	Out        string              `json:"out"`    // absolute
	Cache      string              `json:"cache"`  // absolute
	Runner     string              `json:"runner"` // the binary the array tasks run
	Resources  Resources           `json:"resources"`
	Experts    []driver.ExpertWork `json:"experts"` // by array index of the last experts job
	Shards     []driver.ShardWork  `json:"shards"`  // by array index of the trials jobs
	Jobs       []Job               `json:"jobs"`    // every job submitted, oldest first
}

// Job is one sbatch of an array.
type Job struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`  // KindExperts or KindTrials
	Array      string    `json:"array"` // the array indices submitted, e.g. "0-20" or "7"
	Dependency string    `json:"dependency,omitempty"`
	Submitted  time.Time `json:"submitted"`
}

// Options of a submission.
type Options struct {
	Driver    driver.Options // Out and Cache are made absolute; Jobs is Resources.Evaluators
	Resources Resources
	// OnlyShard, when not negative, resubmits that trial shard alone (no experts job):
	// the command Status gives for a failed array task.
	OnlyShard int
	Log       io.Writer // what was submitted, for the user
}

func (o Options) dir() string { return filepath.Join(o.Driver.Out, Dir) }

// Submit submits exp's remaining work. It refuses while jobs of an earlier submission
// into the same folder are still queued or running, since they would do the same work.
func Submit(ctx context.Context, exp *config.Experiment, opt Options) (*Submission, error) {
	if _, err := exec.LookPath("sbatch"); err != nil {
		return nil, fmt.Errorf("sbatch is not on PATH: --slurm needs a Slurm client on this machine (Debian: apt-get install slurm-client)")
	}
	var err error
	if opt.Driver.Out == "" {
		opt.Driver.Out = exp.Output
	}
	if opt.Driver.Out, err = filepath.Abs(opt.Driver.Out); err != nil {
		return nil, err
	}
	if opt.Driver.Cache == "" {
		opt.Driver.Cache = filepath.Join(opt.Driver.Out, "cache")
	}
	if opt.Driver.Cache, err = filepath.Abs(opt.Driver.Cache); err != nil {
		return nil, err
	}
	file, err := filepath.Abs(exp.File)
	if err != nil {
		return nil, err
	}
	prev, err := Load(opt.Driver.Out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if prev != nil {
		queued, err := Queue(ctx, prev.Jobs)
		if err != nil {
			return nil, err
		}
		if len(queued) > 0 {
			return nil, fmt.Errorf("jobs of the last submission into %s are still queued or running (%s); wait for them (runner status %s) or cancel them (scancel %s) first",
				opt.Driver.Out, strings.Join(queued.Tasks(), ", "), opt.Driver.Out, strings.Join(jobIDs(prev.Jobs), " "))
		}
	}
	opt.Driver.Jobs = opt.Resources.Evaluators
	plan, err := driver.PrepareShards(ctx, exp, opt.Driver, opt.Resources.Shards)
	if err != nil {
		return nil, err
	}
	s := &Submission{Experiment: file, Name: exp.Name, Out: opt.Driver.Out, Cache: opt.Driver.Cache,
		Resources: opt.Resources, Experts: plan.Experts, Shards: plan.Shards}
	if s.Experts == nil {
		s.Experts = []driver.ExpertWork{}
	}
	if prev != nil {
		s.Jobs = prev.Jobs
	}
	var pending []int
	switch {
	case opt.OnlyShard >= len(plan.Shards):
		return nil, fmt.Errorf("--only-shard %d: the run has shards 0 … %d", opt.OnlyShard, len(plan.Shards)-1)
	case opt.OnlyShard >= 0:
		pending = []int{opt.OnlyShard}
		s.Experts = prev.expertsOrEmpty()
	default:
		for _, sw := range plan.Shards {
			if sw.Done < len(sw.Trials) {
				pending = append(pending, sw.Index)
			}
		}
	}
	for _, sub := range []string{"bin", "logs", "status"} {
		if err := os.MkdirAll(filepath.Join(opt.dir(), sub), 0o755); err != nil {
			return nil, fmt.Errorf("slurm: %w", err)
		}
	}
	if s.Runner, err = copyRunner(opt.dir()); err != nil {
		return nil, err
	}
	experts, trials := filepath.Join(opt.dir(), "experts.sbatch"), filepath.Join(opt.dir(), "trials.sbatch")
	if err := atomicfile.WriteBytes(experts, []byte(s.expertsScript())); err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	if err := atomicfile.WriteBytes(trials, []byte(s.trialsScript())); err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	log := opt.Log
	if log == nil {
		log = io.Discard
	}
	dep := ""
	if opt.OnlyShard < 0 && len(s.Experts) > 0 {
		job, err := s.sbatch(ctx, KindExperts, fmt.Sprintf("0-%d", len(s.Experts)-1), "", 1, experts)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "submitted job %s: %d expert trainings (array 0-%d), %s\n", job.ID, len(s.Experts), len(s.Experts)-1, experts)
		dep = "afterok:" + job.ID
	}
	if len(pending) > 0 {
		array := arrayList(pending)
		job, err := s.sbatch(ctx, KindTrials, array, dep, opt.Resources.Evaluators, trials)
		if err != nil {
			return nil, err
		}
		after := ""
		if dep != "" {
			after = ", after the experts"
		}
		fmt.Fprintf(log, "submitted job %s: %d of %d trial shards (array %s%s), %s\n", job.ID, len(pending), len(plan.Shards), array, after, trials)
	} else {
		fmt.Fprintln(log, "every trial is finished: nothing to submit")
	}
	if err := s.save(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Submission) expertsOrEmpty() []driver.ExpertWork {
	if s == nil || s.Experts == nil {
		return []driver.ExpertWork{}
	}
	return s.Experts
}

// sbatch submits script as an array job of kind and records it.
func (s *Submission) sbatch(ctx context.Context, kind, array, dependency string, evaluators int, script string) (Job, error) {
	r := s.Resources
	logs := filepath.Join(s.Out, Dir, "logs")
	args := []string{"--parsable", "--job-name", "sglab-" + s.Name + "-" + kind, "--array", array,
		"--output", filepath.Join(logs, kind+"-%a.out"), "--error", filepath.Join(logs, kind+"-%a.err"),
		"--cpus-per-task", strconv.Itoa(r.CPUsPerEvaluator * evaluators)}
	for _, o := range []struct{ flag, v string }{{"--partition", r.Partition}, {"--account", r.Account}, {"--time", r.Time}, {"--gres", r.Gres}} {
		if o.v != "" {
			args = append(args, o.flag, o.v)
		}
	}
	if dependency != "" {
		// A failed expert cancels the trials at once instead of leaving them pending
		// for ever; Status says so and a resubmission trains what is missing.
		args = append(args, "--dependency", dependency, "--kill-on-invalid-dep=yes")
	}
	args = append(args, script)
	cmd := exec.CommandContext(ctx, "sbatch", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Job{}, fmt.Errorf("sbatch %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	id, _, _ := strings.Cut(strings.TrimSpace(stdout.String()), ";") // "jobid" or "jobid;cluster"
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return Job{}, fmt.Errorf("sbatch printed %q, not a job id", stdout.String())
	}
	job := Job{ID: id, Kind: kind, Array: array, Dependency: dependency, Submitted: time.Now().UTC()}
	s.Jobs = append(s.Jobs, job)
	return job, nil
}

// arrayList writes array indices as sbatch --array wants them: "0-3,7".
func arrayList(idx []int) string {
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(idx[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// quote quotes s for a POSIX shell.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// scriptTail runs the command in a batch script and appends its status line, also when
// Slurm terminates the task (scancel, time limit): bash runs the TERM trap after the
// runner, which gets the signal too, has ended.
func (s *Submission) scriptTail(kind, command string) string {
	status := quote(filepath.Join(s.Out, Dir, "status", kind+"-"))
	return fmt.Sprintf(`trap 'echo "runner: terminated by Slurm (scancel, time limit or node failure)" >&2' TERM
%s
rc=$?
printf '%%s job %%s_%%s on %%s: exit %%d\n' "$(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)" "$SLURM_ARRAY_JOB_ID" "$SLURM_ARRAY_TASK_ID" "$(hostname -s)" "$rc" >> %s"$SLURM_ARRAY_TASK_ID"
exit $rc
`, command, status)
}

func (s *Submission) expertsScript() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n# Written by `runner run --slurm`: array task K trains expert K of %s into the cache.\n", s.Experiment)
	b.WriteString("case \"$SLURM_ARRAY_TASK_ID\" in\n")
	for i, e := range s.Experts {
		fmt.Fprintf(&b, "%d) set -- --task %s --seed %d --method %s ;;\n", i, quote(e.Task), e.Seed, quote(e.Method))
	}
	b.WriteString("*) echo \"runner: no expert for array task $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\nesac\n")
	b.WriteString(s.scriptTail(KindExperts, fmt.Sprintf(`%s expert %s --cache %s "$@"`, quote(s.Runner), quote(s.Experiment), quote(s.Cache))))
	return b.String()
}

func (s *Submission) trialsScript() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n# Written by `runner run --slurm`: array task K runs shard K of the %d trial shards of %s.\n", len(s.Shards), s.Experiment)
	b.WriteString(s.scriptTail(KindTrials, fmt.Sprintf(`%s run %s --out %s --cache %s --jobs %d --shard "$SLURM_ARRAY_TASK_ID/%d"`,
		quote(s.Runner), quote(s.Experiment), quote(s.Out), quote(s.Cache), s.Resources.Evaluators, len(s.Shards))))
	return b.String()
}

// copyRunner copies this runner binary into dir/bin, named by its digest, so the array
// tasks run exactly the binary that submitted them (and built-in plugins keep their
// identity), even when it was a temporary `go run` build or has been rebuilt since.
func copyRunner(dir string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("slurm: cannot find the runner's own executable: %w", err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		return "", fmt.Errorf("slurm: reading the runner's executable: %w", err)
	}
	sum := sha256.Sum256(data)
	dst := filepath.Join(dir, "bin", "runner-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := atomicfile.WriteBytes(dst, data); err != nil {
		return "", fmt.Errorf("slurm: copying the runner: %w", err)
	}
	if err := os.Chmod(dst, 0o755); err != nil {
		return "", fmt.Errorf("slurm: %w", err)
	}
	return dst, nil
}

// Load reads the record of the last submission into the output folder out.
func Load(out string) (*Submission, error) {
	path := filepath.Join(out, Dir, SubmissionFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	var s Submission
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("slurm: %s: %w", path, err)
	}
	return &s, nil
}

func (s *Submission) save() error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("slurm: %w", err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(s.Out, Dir, SubmissionFile), append(data, '\n')); err != nil {
		return fmt.Errorf("slurm: %w", err)
	}
	return nil
}

func jobIDs(jobs []Job) []string {
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return ids
}
