package slurm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/runner/driver"
)

// Queued are the array tasks squeue still lists, "jobid_index" -> state (PENDING,
// RUNNING, …).
type Queued map[string]string

// Tasks says how many array tasks of each job are in each state, e.g. "job 33: 2
// running, 47 pending".
func (q Queued) Tasks() []string {
	n := map[string]map[string]int{}
	for k, v := range q {
		job, _, _ := strings.Cut(k, "_")
		if n[job] == nil {
			n[job] = map[string]int{}
		}
		n[job][strings.ToLower(v)]++
	}
	var out []string
	for _, job := range slices.Sorted(maps.Keys(n)) {
		var parts []string
		for _, st := range slices.Sorted(maps.Keys(n[job])) {
			parts = append(parts, fmt.Sprintf("%d %s", n[job][st], st))
		}
		out = append(out, "job "+job+": "+strings.Join(parts, ", "))
	}
	return out
}

// state is the queue state of array task index of the jobs of kind, "" when none of
// them lists it.
func (q Queued) state(jobs []Job, kind string, index int) string {
	for i := len(jobs) - 1; i >= 0; i-- {
		if jobs[i].Kind != kind {
			continue
		}
		if st, ok := q[fmt.Sprintf("%s_%d", jobs[i].ID, index)]; ok {
			return strings.ToLower(st)
		}
	}
	return ""
}

// Queue asks squeue which array tasks of jobs are still queued or running. A job squeue
// no longer knows (ended long ago) is not queued.
func Queue(ctx context.Context, jobs []Job) (Queued, error) {
	q := Queued{}
	if len(jobs) == 0 {
		return q, nil
	}
	if _, err := exec.LookPath("squeue"); err != nil {
		return nil, fmt.Errorf("squeue is not on PATH: cannot tell which jobs are still queued (Debian: apt-get install slurm-client)")
	}
	for _, j := range jobs {
		cmd := exec.CommandContext(ctx, "squeue", "--noheader", "--array", "--format", "%i %T", "--jobs", j.ID)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			if strings.Contains(stderr.String(), "Invalid job id") {
				continue
			}
			return nil, fmt.Errorf("squeue --jobs %s: %v: %s", j.ID, err, strings.TrimSpace(stderr.String()))
		}
		sc := bufio.NewScanner(&stdout)
		for sc.Scan() {
			id, state, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
			if !ok {
				continue
			}
			if !strings.Contains(id, "_") {
				id += "_?" // an array squeue did not expand: not yet split into tasks
			}
			q[id] = state
		}
	}
	return q, nil
}

// Wait polls squeue every interval until none of the jobs is queued or running.
func Wait(ctx context.Context, jobs []Job, interval time.Duration) error {
	for {
		q, err := Queue(ctx, jobs)
		if err != nil {
			return err
		}
		if len(q) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// Report is the progress of a Slurm run, from its output folder: the submission record,
// the journals, the cache, the status lines and squeue.
type Report struct {
	Sub     *Submission
	Experts []TaskState // by array index of the last experts job
	Shards  []TaskState // by shard
	Queue   Queued
	// Trials counts every shard's trials.
	Done, Failed, Remaining int
}

// TaskState is one array task's progress.
type TaskState struct {
	Index int
	What  string // the expert (task, seed) or the shard's units
	// State is "done", "failed", "queued"/"running" (squeue's state), "incomplete" (ran,
	// and left work) or "not run".
	State                   string
	Done, Failed, Remaining int    // trials (a shard's)
	Exit                    string // the last status line, "" when the task never ended by itself
	Stderr                  string // its stderr file
	LastErr                 string // its stderr's last line
}

// Status reads the progress of the Slurm run in the output folder out.
func Status(ctx context.Context, out string) (*Report, error) {
	sub, err := Load(out)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s holds no Slurm submission (no %s): it was not run with --slurm", out, filepath.Join(Dir, SubmissionFile))
		}
		return nil, err
	}
	rep := &Report{Sub: sub}
	if rep.Queue, err = Queue(ctx, sub.Jobs); err != nil {
		return nil, err
	}
	finished, failed := map[string]bool{}, map[string]bool{}
	for _, path := range driver.Journals(sub.Out) {
		rows, err := results.Read(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if r.Error == "" {
				finished[r.Key()] = true
			} else {
				failed[r.Key()] = true
			}
		}
	}
	for i, e := range sub.Experts {
		ts := sub.taskState(KindExperts, i, rep.Queue)
		ts.What = fmt.Sprintf("task %s, seed %d, training of %s", e.Task, e.Seed, e.Method)
		if _, err := os.Stat(e.Path + ".sha256"); err == nil {
			ts.State = "done"
		} else if ts.State == "" {
			ts.State = "not run"
			if ts.Exit != "" {
				ts.State = "failed"
			}
		}
		rep.Experts = append(rep.Experts, ts)
	}
	for _, sw := range sub.Shards {
		ts := sub.taskState(KindTrials, sw.Index, rep.Queue)
		var units []string
		for _, u := range sw.Units {
			units = append(units, fmt.Sprintf("%s/%s/seed %d", u.Method, u.Split, u.Seed))
		}
		ts.What = strings.Join(units, "; ")
		for _, k := range sw.Trials {
			switch key := k.Key(); {
			case finished[key]:
				ts.Done++
			case failed[key]:
				ts.Failed++
			default:
				ts.Remaining++
			}
		}
		rep.Done, rep.Failed, rep.Remaining = rep.Done+ts.Done, rep.Failed+ts.Failed, rep.Remaining+ts.Remaining
		if ts.State == "" {
			switch {
			case ts.Failed == 0 && ts.Remaining == 0:
				ts.State = "done"
			case ts.Exit == "":
				ts.State = "not run"
				if ts.Done+ts.Failed > 0 {
					ts.State = "incomplete"
				}
			default:
				ts.State = "failed"
			}
		}
		rep.Shards = append(rep.Shards, ts)
	}
	return rep, nil
}

// taskState is what the queue and the files say of array task index of kind: its
// queue state, last status line and stderr.
func (s *Submission) taskState(kind string, index int, q Queued) TaskState {
	ts := TaskState{Index: index, State: q.state(s.Jobs, kind, index)}
	if ts.State == "" {
		if _, ok := q[s.lastJob(kind)+"_?"]; ok && s.lastJob(kind) != "" {
			ts.State = "pending"
		}
	}
	ts.Stderr = filepath.Join(s.Out, Dir, "logs", fmt.Sprintf("%s-%d.err", kind, index))
	ts.LastErr = lastLine(ts.Stderr)
	if line := lastLine(filepath.Join(s.Out, Dir, "status", fmt.Sprintf("%s-%d", kind, index))); line != "" {
		ts.Exit = line
		if ts.State == "" && !strings.HasSuffix(line, ": exit 0") {
			ts.State = "failed"
		}
	}
	return ts
}

func (s *Submission) lastJob(kind string) string {
	for i := len(s.Jobs) - 1; i >= 0; i-- {
		if s.Jobs[i].Kind == kind {
			return s.Jobs[i].ID
		}
	}
	return ""
}

// lastLine is the last non-empty line of a file, "" when it has none or is missing.
func lastLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Resubmit is the command that resubmits trial shard index alone.
func (s *Submission) Resubmit(index int) string {
	return fmt.Sprintf("runner run %s --slurm --out %s --cache %s --only-shard %d", s.Experiment, s.Out, s.Cache, index)
}

// Print writes the report for a user.
func (rep *Report) Print(w io.Writer) {
	sub := rep.Sub
	fmt.Fprintf(w, "%s: Slurm run of %s into %s (expert cache %s)\n", sub.Name, sub.Experiment, sub.Out, sub.Cache)
	for _, j := range sub.Jobs {
		dep := ""
		if j.Dependency != "" {
			dep = ", " + j.Dependency
		}
		fmt.Fprintf(w, "  job %s: %s, array %s, submitted %s%s\n", j.ID, j.Kind, j.Array, j.Submitted.Format(time.RFC3339), dep)
	}
	count := func(ts []TaskState) string {
		n := map[string]int{}
		for _, t := range ts {
			n[t.State]++
		}
		var parts []string
		for _, st := range []string{"done", "failed", "running", "pending", "incomplete", "not run"} {
			if n[st] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n[st], st))
				delete(n, st)
			}
		}
		for st, k := range n {
			parts = append(parts, fmt.Sprintf("%d %s", k, st))
		}
		return strings.Join(parts, ", ")
	}
	fmt.Fprintf(w, "\nexperts (the last submission's trainings): %d", len(rep.Experts))
	if len(rep.Experts) > 0 {
		fmt.Fprintf(w, ": %s", count(rep.Experts))
	}
	fmt.Fprintf(w, "\ntrials: %d shards: %s; %d trials: %d done, %d failed, %d remaining\n",
		len(rep.Shards), count(rep.Shards), rep.Done+rep.Failed+rep.Remaining, rep.Done, rep.Failed, rep.Remaining)
	problem := func(kind string, t TaskState) {
		fmt.Fprintf(w, "  %s array task %d (%s): %s", kind, t.Index, t.What, t.State)
		if t.Failed+t.Remaining > 0 && kind == KindTrials {
			fmt.Fprintf(w, ", %d done, %d failed, %d remaining", t.Done, t.Failed, t.Remaining)
		}
		fmt.Fprintln(w)
		if t.Exit != "" {
			fmt.Fprintf(w, "      last attempt: %s\n", t.Exit)
		}
		if t.LastErr != "" {
			fmt.Fprintf(w, "      stderr %s: %s\n", t.Stderr, t.LastErr)
		}
	}
	var bad []int
	expertFailed := false
	for _, t := range rep.Experts {
		if t.State == "failed" {
			problem(KindExperts, t)
			expertFailed = true
		}
	}
	for _, t := range rep.Shards {
		if t.State == "failed" || t.State == "incomplete" || t.State == "not run" {
			problem(KindTrials, t)
			bad = append(bad, t.Index)
		}
	}
	if len(rep.Queue) > 0 {
		fmt.Fprintf(w, "queued: %s\n", strings.Join(rep.Queue.Tasks(), "; "))
		return
	}
	if expertFailed {
		fmt.Fprintln(w, "\nan expert training failed, so Slurm cancelled the trials waiting for it (afterok); a resubmission trains the missing experts first")
	}
	if len(bad) > 0 {
		fmt.Fprintf(w, "\nresubmit one shard:  %s\n", sub.Resubmit(bad[0]))
		fmt.Fprintf(w, "resubmit all work left (skips what is finished): runner run %s --slurm --out %s --cache %s\n", sub.Experiment, sub.Out, sub.Cache)
	}
	fmt.Fprintf(w, "merge the shards and render the report: runner report %s\n", sub.Out)
}
