package driver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/framework/results"
)

// runLogged runs exp into out and returns the summary and the log.
func runLogged(t *testing.T, text, out string) (*Summary, string) {
	t.Helper()
	host := &rpc.Host{}
	defer host.KillAll()
	var logs bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	sum, err := Run(context.Background(), load(t, text), Options{Out: out, Cache: filepath.Join(out, "cache"), Host: host, Spec: testSpec, Log: log, StartTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return sum, logs.String()
}

// TestChangedConfigurationReruns changes one thing at a time under the same method
// names and checks that exactly the trials it determines run again, that the log says
// which and why, that the journal then holds only rows of the new configuration (the
// old ones kept in SupersededFile) and that every invocation stays in the manifest.
func TestChangedConfigurationReruns(t *testing.T) {
	out := t.TempDir()
	first, _ := runLogged(t, experiment, out)
	if first.Ran != 20 {
		t.Fatalf("first run: ran %d", first.Ran)
	}
	for _, r := range first.Rows {
		if len(r.Identity) == 0 {
			t.Fatalf("row without identity: %+v", r)
		}
	}
	// Per seed: Zero-shot 2 and Oracle 2 trials (+2 diversity); Gen 3 samples on ccc (+1
	// diversity) and 3 failing samples on dddd, whose failed rows always run again.
	cases := []struct {
		name, text       string
		ran, stale, skip int
		why              string
	}{
		{"same", experiment, 6, 0, 14, ""},
		{"generator parameter", strings.Replace(experiment, "samples = 3", "samples = 3\n[method.params]\nnoise = 0.5", 1), 12, 8, 8, "generator_params"},
		{"the default written out", strings.Replace(experiment, "samples = 3", "samples = 3\n[method.params]\nnoise = 0.0", 1), 6, 0, 14, ""},
		{"training options", strings.Replace(experiment, "epochs = 3", "epochs = 4", 1), 16, 16, 4, "train"},
		{"samples", strings.Replace(experiment, "samples = 3", "samples = 2", 1), 8, 8, 8, "samples"},
		{"novel task definition", strings.Replace(experiment, `description = "task ccc"`, `description = "task c c c"`, 1), 16, 14, 4, "task"},
	}
	for _, c := range cases {
		// Every case starts from the first run's journal and manifest.
		dir := t.TempDir()
		for _, f := range []string{results.FileName, ManifestFile} {
			b, err := os.ReadFile(filepath.Join(out, f))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		os.CopyFS(filepath.Join(dir, "cache"), os.DirFS(filepath.Join(out, "cache")))
		sum, logs := runLogged(t, c.text, dir)
		if sum.Ran != c.ran || sum.Stale != c.stale || sum.Skipped != c.skip {
			t.Errorf("%s: ran %d stale %d skipped %d, want %d, %d, %d\n%s", c.name, sum.Ran, sum.Stale, sum.Skipped, c.ran, c.stale, c.skip, logs)
			continue
		}
		if c.why != "" && !strings.Contains(logs, "changed="+c.why) {
			t.Errorf("%s: the log does not say what changed:\n%s", c.name, logs)
		}
		if c.stale == 0 && strings.Contains(logs, "configuration changed") {
			t.Errorf("%s: nothing changed, yet:\n%s", c.name, logs)
		}
		seen := map[string]bool{}
		for _, r := range sum.Rows {
			if seen[r.Key()] {
				t.Fatalf("%s: duplicate row %+v", c.name, r)
			}
			seen[r.Key()] = true
		}
		old, _ := results.Read(filepath.Join(dir, results.SupersededFile))
		if len(old) != c.stale {
			t.Errorf("%s: %d superseded rows kept, want %d", c.name, len(old), c.stale)
		}
		mans, err := ReadManifest(filepath.Join(dir, ManifestFile))
		if err != nil || len(mans) != 2 || mans[1].ConfigHash != load(t, c.text).Hash() {
			t.Errorf("%s: manifest: %d invocations, %v", c.name, len(mans), err)
		}
	}
}

// TestOutputFolderLock: a second run into a folder in use fails at once, naming the
// holder; a lock whose holder was killed does not block.
func TestOutputFolderLock(t *testing.T) {
	out := t.TempDir()
	release, err := lockOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	host := &rpc.Host{}
	defer host.KillAll()
	start := time.Now()
	_, err = Run(context.Background(), load(t, experiment), Options{Out: out, Host: host, Spec: testSpec})
	if err == nil || !strings.Contains(err.Error(), "in use by pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second run: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("the refusal took %s", time.Since(start))
	}
	if _, err := os.Stat(filepath.Join(out, results.FileName)); err == nil {
		t.Fatal("the refused run wrote a journal")
	}
	release()

	// A holder killed by SIGKILL runs no cleanup at all; the kernel drops its lock.
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "SGLAB_TEST_LOCK_HOLDER="+out)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := stdout.Read(buf); err != nil || string(buf) != "locked" {
		cmd.Process.Kill()
		t.Fatalf("the holder did not lock: %q %v", buf, err)
	}
	if _, err := lockOutput(out); err == nil || !strings.Contains(err.Error(), "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("while the holder lives: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	release, err = lockOutput(out)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	release()
}

// holdLock is the lock holder of TestOutputFolderLock: it locks dir, says so and waits
// to be killed.
func holdLock(dir string) {
	if _, err := lockOutput(dir); err != nil {
		os.Exit(1)
	}
	os.Stdout.WriteString("locked")
	time.Sleep(time.Minute)
	os.Exit(0)
}

// TestStoppedGeneratorTimesOut: a generator that stops itself (SIGSTOP) inside Generate
// is killed once the [timeouts] generate bound of the experiment passes; its trials
// fail naming the timeout, a fresh process serves the next seed, and the run ends.
func TestStoppedGeneratorTimesOut(t *testing.T) {
	text := strings.Replace(experiment, `description = "crash the generator"`, `description = "stop the generator"`, 1)
	text = strings.Replace(text, "[train]", "[timeouts]\ngenerate = \"1s\"\n[train]", 1)
	start := time.Now()
	sum, _ := runLogged(t, text, t.TempDir())
	if took := time.Since(start); took > 2*(time.Second+5*time.Second)+10*time.Second {
		t.Errorf("the run took %s", took)
	}
	failed := 0
	for _, r := range sum.Rows {
		if r.Error != "" {
			failed++
			if r.Task != "dddd" || !strings.Contains(r.Error, "no answer within 1s (the generate timeout); plugin killed") {
				t.Errorf("failed row %+v", r)
			}
		}
	}
	if failed != 6 || sum.Ran != 20 {
		t.Fatalf("%d failed of %d, want the 6 Gen trials on dddd of 20", failed, sum.Ran)
	}
}

// TestJournalAppendFailureStops: when the journal cannot be appended to (here a file
// size limit, as a full disk would), the run stops at once with an error naming the
// journal and the cause, and leaves no temporary file behind. The run is a child
// process, so that the limit binds nothing else.
func TestJournalAppendFailureStops(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "exp.toml"), []byte(experiment), 0o644); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "SGLAB_TEST_JOURNAL_LIMIT="+dir)
	start := time.Now()
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, got)
	}
	journal := filepath.Join(dir, "out", results.FileName)
	if !strings.Contains(string(got), "cannot be recorded") || !strings.Contains(string(got), journal) || !strings.Contains(string(got), "file too large") {
		t.Fatalf("run error: %s", got)
	}
	rows, err := results.Read(journal)
	if err != nil || len(rows) == 0 || len(rows) >= 26 {
		t.Fatalf("journal: %d rows, %v", len(rows), err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the run took %s to stop", took)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "out"))
	for _, e := range entries {
		if strings.Contains(e.Name(), "tmp") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// runWithJournalLimit is the child of TestJournalAppendFailureStops: it runs dir's
// experiment with a file size limit the manifest fits in and the journal soon does
// not, and prints how the run ended.
func runWithJournalLimit(dir string) {
	exp, err := config.Load(filepath.Join(dir, "exp.toml"))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 8 << 10, Max: ^uint64(0)})
	host := &rpc.Host{}
	_, err = Run(context.Background(), exp, Options{Out: filepath.Join(dir, "out"), Host: host, Spec: testSpec, StartTimeout: 20 * time.Second})
	host.KillAll()
	fmt.Println(err)
	os.Exit(0)
}
