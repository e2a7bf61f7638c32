package slurm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/runner/driver"
)

func TestArrayList(t *testing.T) {
	for _, c := range []struct {
		in   []int
		want string
	}{{[]int{0}, "0"}, {[]int{0, 1, 2, 3}, "0-3"}, {[]int{0, 2, 3, 7}, "0,2-3,7"}, {[]int{5, 6, 9, 10, 11}, "5-6,9-11"}} {
		if got := arrayList(c.in); got != c.want {
			t.Errorf("arrayList(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestScriptsQuote: paths and names with spaces and quotes reach the runner intact.
func TestScriptsQuote(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "it's a dir")
	s := &Submission{Experiment: filepath.Join(odd, "exp.toml"), Out: odd, Cache: odd, Runner: "/bin/echo",
		Resources: Resources{Evaluators: 2}, Shards: make([]driver.ShardWork, 3),
		Experts: []driver.ExpertWork{{Task: "a", Seed: 1, Method: "M x"}, {Task: "b'c", Seed: 2, Method: "N"}}}
	if err := os.MkdirAll(filepath.Join(odd, Dir, "status"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		script, index, want string
	}{
		{s.trialsScript(), "2", "run " + s.Experiment + " --out " + odd + " --cache " + odd + " --jobs 2 --shard 2/3\n"},
		{s.expertsScript(), "1", "expert " + s.Experiment + " --cache " + odd + " --task b'c --seed 2 --method N\n"},
	} {
		cmd := exec.Command("bash", "-c", c.script)
		cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID="+c.index, "SLURM_ARRAY_JOB_ID=7")
		out, err := cmd.Output()
		if err != nil || string(out) != c.want {
			t.Errorf("script printed %q (%v), want %q\n%s", out, err, c.want, c.script)
		}
	}
	status, err := os.ReadFile(filepath.Join(odd, Dir, "status", "experts-1"))
	if err != nil || !strings.HasSuffix(string(status), "job 7_1 on "+hostname(t)+": exit 0\n") {
		t.Errorf("status line %q (%v)", status, err)
	}
}

func hostname(t *testing.T) string {
	out, err := exec.Command("hostname", "-s").Output()
	if err != nil {
		t.Skip("no hostname command")
	}
	return string(bytes.TrimSpace(out))
}

// TestStatus: states from the journals, the cache, the status lines and the logs.
func TestStatus(t *testing.T) {
	out := t.TempDir()
	entry := filepath.Join(out, "expert.safetensors")
	k := func(task string, sample int) driver.TrialKey {
		return driver.TrialKey{Split: "s", Task: task, Method: "m", Seed: 1, Sample: sample}
	}
	s := &Submission{Name: "x", Out: out, Experiment: "x.toml", Cache: out,
		Experts: []driver.ExpertWork{{Task: "a", Seed: 1, Method: "m", Path: entry}, {Task: "b", Seed: 1, Method: "m", Path: entry + "2"}},
		Shards: []driver.ShardWork{
			{Index: 0, Trials: []driver.TrialKey{k("a", 0), k("a", 1)}},
			{Index: 1, Trials: []driver.TrialKey{k("b", 0)}},
			{Index: 2, Trials: []driver.TrialKey{k("c", 0)}},
			{Index: 3, Trials: []driver.TrialKey{k("d", 0), k("d", 1)}},
		}}
	for _, sub := range []string{Dir + "/status", Dir + "/logs", driver.ShardDir} {
		if err := os.MkdirAll(filepath.Join(out, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		entry + ".sha256":          "x\n",
		"slurm/status/experts-1":   "t job 5_1 on n: exit 1\n",
		"slurm/logs/experts-1.err": "log\nrunner expert: boom\n",
		"slurm/status/trials-1":    "t job 6_1 on n: exit 0\n",
		"slurm/status/trials-2":    "t job 6_2 on n: exit 0\nt job 9_2 on n: exit 143\n",
		"slurm/logs/trials-2.err":  "runner: terminated by Slurm (scancel, time limit or node failure)\n",
		"slurm/status/trials-0":    "t job 6_0 on n: exit 0\n",
	}
	for name, text := range files {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(out, name)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	row := func(task string, sample int, err string) results.Row {
		return results.Row{Kind: results.KindTrial, Split: "s", Task: task, Method: "m", Seed: 1, Sample: sample, Error: err}
	}
	if err := results.Rewrite(driver.ShardJournal(out, 0), []results.Row{row("a", 0, ""), row("b", 0, "bad")}); err != nil {
		t.Fatal(err)
	}
	if err := results.Rewrite(filepath.Join(out, results.FileName), []results.Row{row("a", 1, ""), row("d", 0, "")}); err != nil {
		t.Fatal(err)
	}
	rep, err := Status(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	states := func(ts []TaskState) string {
		var s []string
		for _, x := range ts {
			s = append(s, x.State)
		}
		return strings.Join(s, ",")
	}
	if got := states(rep.Experts); got != "done,failed" {
		t.Errorf("experts %s", got)
	}
	if got := states(rep.Shards); got != "done,failed,failed,incomplete" {
		t.Errorf("shards %s", got)
	}
	if rep.Done != 3 || rep.Failed != 1 || rep.Remaining != 2 {
		t.Errorf("trials %d done, %d failed, %d remaining", rep.Done, rep.Failed, rep.Remaining)
	}
	var b bytes.Buffer
	rep.Print(&b)
	for _, want := range []string{"runner expert: boom", "exit 143", "terminated by Slurm", "--only-shard 1", "trials: 4 shards: 1 done, 2 failed, 1 incomplete; 6 trials: 3 done, 1 failed, 2 remaining"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
