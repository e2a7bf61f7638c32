package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/lora"
)

// TestFitSaveLoad: `runner fit` saves a fit that `generate --fit` loads instead of
// fitting, giving the adapters `generate` gives without it bit for bit; `serve --fit`
// starts from it too; a fit file made on another library (another seen-task list,
// another generator parameter) is refused naming what differs; a generator that cannot
// save its fit says so.
func TestFitSaveLoad(t *testing.T) {
	dir := t.TempDir()
	exp := tinyExperiment(t, dir, sgloraMethod+`
[[method]]
name = "Top-K"
generator = "topk-weighted"
`)
	cache := filepath.Join(dir, "cache")
	fit := filepath.Join(dir, "sglora.fit")
	code, stdout, stderr := runCLI(t, "fit", exp, "--quiet", "--cache", cache, "--method", "SG-LoRA", "--out", fit)
	if code != 0 || !strings.Contains(stdout, "saved to "+fit) {
		t.Fatalf("fit: exit %d\n%s\n%s", code, stdout, stderr)
	}

	gen := func(out string, extra ...string) (string, string) {
		t.Helper()
		args := append([]string{"generate", exp, "--cache", cache, "--method", "SG-LoRA", "--description", rotatedBlurred,
			"--samples", "3", "--seed", "5", "--out", out}, extra...)
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("generate %v: exit %d\n%s\n%s", extra, code, stdout, stderr)
		}
		return stdout, stderr
	}
	loadedOut, fittedOut := filepath.Join(dir, "loaded"), filepath.Join(dir, "fitted")
	start := time.Now()
	stdout, stderr = gen(loadedOut, "--fit", fit)
	t.Logf("generate --fit: %v", time.Since(start))
	if !strings.Contains(stdout, "fit loaded") || !strings.Contains(stderr, "loaded fit") || strings.Contains(stderr, "training") {
		t.Errorf("generate --fit did not say it loaded the fit, or trained:\n%s\n%s", stdout, stderr)
	}
	start = time.Now()
	stdout, _ = gen(fittedOut)
	t.Logf("generate (fitting): %v", time.Since(start))
	if !strings.Contains(stdout, "fitted, library") {
		t.Errorf("generate without --fit: %s", stdout)
	}
	for i := range 3 {
		a, err := lora.LoadPEFT(filepath.Join(loadedOut, lora.PEFTSampleDir(i)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := lora.LoadPEFT(filepath.Join(fittedOut, lora.PEFTSampleDir(i)))
		if err != nil {
			t.Fatal(err)
		}
		if !sameBits(a.Params, b.Params) {
			t.Errorf("sample %d: the loaded fit's adapter differs from the fitted one's", i)
		}
	}

	// serve --fit starts from the file.
	cmd := runnerCommand(t, "serve", exp, "--quiet", "--cache", cache, "--method", "SG-LoRA", "--addr", "127.0.0.1:0", "--fit", fit)
	var serr bytes.Buffer
	cmd.Stderr = &serr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	select {
	case l := <-line:
		if !strings.Contains(l, "fit loaded") || !strings.Contains(l, "http://127.0.0.1:") {
			t.Errorf("serve --fit: %q\n%s", l, serr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Errorf("serve --fit printed no address; stderr:\n%s", serr.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	// Another library: one seen task fewer, and another generator parameter.
	text, err := os.ReadFile(exp)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want string }{
		{`, "digits-rotate-left"]`, `]`, "seen tasks only there: [digits-rotate-left]"},
		{"epochs = 30", "epochs = 31", "generator parameter epochs 30 there, 31 here"},
	} {
		other := filepath.Join(dir, "other.toml")
		changed := strings.Replace(string(text), c.from, c.to, 1)
		if changed == string(text) {
			t.Fatalf("%q is not in the experiment", c.from)
		}
		if err := os.WriteFile(other, []byte(changed), 0o644); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(t, "generate", other, "--quiet", "--cache", cache, "--method", "SG-LoRA", "--description", rotatedBlurred,
			"--out", filepath.Join(dir, "refused"), "--fit", fit)
		if code != 1 || !strings.Contains(stderr, "was fitted on another library") || !strings.Contains(stderr, c.want) {
			t.Errorf("%s → %s: exit %d, want 1 naming %q\n%s\n%s", c.from, c.to, code, c.want, stdout, stderr)
		}
	}

	// Not a fit file.
	code, _, stderr = runCLI(t, "generate", exp, "--quiet", "--cache", cache, "--method", "SG-LoRA", "--description", rotatedBlurred,
		"--out", filepath.Join(dir, "refused"), "--fit", exp)
	if code != 1 || !strings.Contains(stderr, "not a fit file") {
		t.Errorf("an experiment as --fit: exit %d\n%s", code, stderr)
	}

	// A generator without SaveFit.
	code, _, stderr = runCLI(t, "fit", exp, "--quiet", "--cache", cache, "--method", "Top-K", "--out", filepath.Join(dir, "topk.fit"))
	if code != 1 || !strings.Contains(stderr, "generator plugin topk-weighted cannot save its fit") {
		t.Errorf("fit of a generator without SaveFit: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "topk.fit")); err == nil {
		t.Error("a fit file was written for a generator without SaveFit")
	}
	code, _, stderr = runCLI(t, "fit", exp, "--quiet", "--method", "SG-LoRA")
	if code != 2 || !strings.Contains(stderr, "--out is required") {
		t.Errorf("fit without --out: exit %d\n%s", code, stderr)
	}
}
