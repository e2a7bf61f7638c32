package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/plugins/evaluator/miniclip"
	"github.com/sglab/sglab/runner/driver"
)

const sgloraMethod = `[[method]]
name = "SG-LoRA"
generator = "sglora"
samples = 2
keep_adapters = "best"
[method.params]
epochs = 30
`

const rotatedBlurred = "handwritten digits rotated and blurred"

// TestGenerateWritesPEFT: `runner generate` writes one PEFT folder per sample, with the
// backbone named and lora_A and lora_B for every adapted module, holding bit for bit what
// the fitted generator gives; `run` keeps the best sample per task when asked.
func TestGenerateWritesPEFT(t *testing.T) {
	dir := t.TempDir()
	exp := tinyExperiment(t, dir, sgloraMethod)
	cache, out := filepath.Join(dir, "cache"), filepath.Join(dir, "gen")
	code, stdout, stderr := runCLI(t, "generate", exp, "--quiet", "--cache", cache, "--method", "SG-LoRA",
		"--description", rotatedBlurred, "--samples", "3", "--seed", "5", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	info, err := miniclip.New().Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var written []*lora.Adapter
	for i := range 3 {
		d := filepath.Join(out, lora.PEFTSampleDir(i))
		var cfg struct {
			Base string `json:"base_model_name_or_path"`
			Type string `json:"peft_type"`
		}
		data, err := os.ReadFile(filepath.Join(d, lora.PEFTConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &cfg); err != nil || cfg.Base != miniclip.ShippedBackbone || cfg.Type != "LORA" {
			t.Errorf("%s: %v base_model_name_or_path %q peft_type %q", d, err, cfg.Base, cfg.Type)
		}
		ts, _, err := lora.ReadSafetensors(filepath.Join(d, lora.PEFTWeightsFile))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range ts {
			names = append(names, x.Name)
		}
		for _, m := range info.Schema {
			for _, w := range []string{"lora_A", "lora_B"} {
				if n := "base_model.model." + m.Name + "." + w + ".weight"; !slices.Contains(names, n) {
					t.Errorf("%s lacks %s", d, n)
				}
			}
		}
		a, err := lora.LoadPEFT(d)
		if err != nil {
			t.Fatal(err)
		}
		written = append(written, a)
	}
	if _, err := os.Stat(filepath.Join(out, lora.PEFTSampleDir(3))); err == nil {
		t.Error("a fourth sample was written")
	}

	// The same fit and seed in this process give the written numbers bit for bit.
	host := &rpc.Host{}
	defer host.KillAll()
	f, err := driver.Fit(context.Background(), loadTOML(t, exp), driver.FitOptions{
		Options: driver.Options{Cache: cache, Jobs: 1, Host: host, Spec: specFor}, Method: "SG-LoRA"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	target, err := f.Embed(context.Background(), rotatedBlurred)
	if err != nil {
		t.Fatal(err)
	}
	want, err := f.Generate(context.Background(), target, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(written[i].Schema, want[i].Schema) || !sameBits(written[i].Params, want[i].Params) {
			t.Errorf("sample %d: the PEFT folder differs from the generated adapter", i)
		}
	}
	if _, err := f.Embed(context.Background(), "qqqzx vvvbnm"); err == nil {
		t.Error("a description of unknown words was embedded")
	}

	code, _, stderr = runCLI(t, "generate", exp, "--quiet", "--cache", cache, "--method", "Zero-shot", "--description", "x", "--out", out)
	if code != 1 || !strings.Contains(stderr, `no generator method "Zero-shot" (methods with a generator: "SG-LoRA")`) {
		t.Errorf("a reference as --method: exit %d\n%s", code, stderr)
	}

	// keep_adapters = "best": one sample folder per novel task and seed.
	if code, stdout, stderr := runCLI(t, "run", "--quiet", "--cache", cache, exp); code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, task := range []string{"digits-inverted", "digits-custom"} {
		d := filepath.Join(dir, "out", driver.AdaptersDir, "main", "SG-LoRA", task, "seed-1")
		entries, err := os.ReadDir(d)
		if err != nil || len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "sample-") {
			t.Fatalf("%s: %v %v, want one sample folder", d, err, entries)
		}
		if _, err := lora.LoadPEFT(filepath.Join(d, entries[0].Name())); err != nil {
			t.Error(err)
		}
	}
}

func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// TestServe runs `runner serve` as a process on a loopback port: a POST gets a zip of
// PEFT folders, bad requests get 4xx while the service stays up, a load of concurrent
// requests sees no error, and SIGTERM stops it with no plugin left.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	exp := tinyExperiment(t, dir, sgloraMethod)
	cmd := runnerCommand(t, "serve", exp, "--quiet", "--cache", filepath.Join(dir, "cache"), "--method", "SG-LoRA", "--addr", "127.0.0.1:0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var url string
	select {
	case l := <-lines:
		_, url, _ = strings.Cut(l, " on ")
	case <-time.After(5 * time.Minute):
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("no address line; stderr:\n%s", stderr.String())
	}
	kids := children(cmd.Process.Pid)

	start := time.Now()
	resp, body := postJSON(t, url, fmt.Sprintf(`{"description": %q, "samples": 3, "seed": 2}`, rotatedBlurred))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("status %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	t.Logf("3 samples in %v", time.Since(start))
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	if want := []string{"sample-0/adapter_config.json", "sample-0/adapter_model.safetensors", "sample-1/adapter_config.json",
		"sample-1/adapter_model.safetensors", "sample-2/adapter_config.json", "sample-2/adapter_model.safetensors"}; !slices.Equal(names, want) {
		t.Errorf("zip holds %v", names)
	}
	for _, bad := range []struct {
		body   string
		status int
	}{{`{"description": ""}`, 400}, {`{"description": "a", "samples": 1000}`, 400}, {`not json`, 400}, {`{"description": "qqqzx vvvbnm"}`, 422}} {
		if resp, body := postJSON(t, url, bad.body); resp.StatusCode != bad.status {
			t.Errorf("%s: status %d %s, want %d", bad.body, resp.StatusCode, body, bad.status)
		}
	}
	if resp, err := http.Get(url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after bad requests: %v %v\n%s", err, resp, stderr.String())
	}

	if !testing.Short() {
		lat, errs := load(url, 1000, 8)
		t.Logf("load: 1000 requests (1 sample), 8 clients: %d errors, p50 %v p99 %v max %v", errs, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
		if errs != 0 {
			t.Errorf("%d of 1000 requests failed", errs)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
		t.Errorf("exit after SIGTERM: %v, want 143\n%s", err, stderr.String())
	}
	if left := outlive(kids, 10*time.Second); left != nil {
		t.Fatalf("plugin processes %v outlived the service", left)
	}
}

func postJSON(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url+"/v1/adapters", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// load sends n one-sample requests from clients goroutines, descriptions and seeds
// varying, and returns the sorted latencies and how many failed.
func load(url string, n, clients int) ([]time.Duration, int) {
	descriptions := []string{rotatedBlurred, "clothing with gaussian noise", "handwritten digits rotated 45 degrees to the left"}
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	next := make(chan int)
	go func() {
		for i := range n {
			next <- i
		}
		close(next)
	}()
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body := fmt.Sprintf(`{"description": %q, "samples": 1, "seed": %d}`, descriptions[i%len(descriptions)], i)
				t0 := time.Now()
				resp, err := client.Post(url+"/v1/adapters", "application/json", strings.NewReader(body))
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					ok = ok && err == nil
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				if !ok {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	return lat, errs
}

func loadTOML(t *testing.T, path string) *config.Experiment {
	t.Helper()
	exp, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

// TestPEFTBankAsExperts: the PEFT folders `runner generate` writes serve as a seen
// task's expert in a new experiment, which then trains nothing for that task; the
// manifest records the files' sha256, and a folder in another schema is refused naming
// the file and the tensor.
func TestPEFTBankAsExperts(t *testing.T) {
	dir := t.TempDir()
	exp := tinyExperiment(t, dir, sgloraMethod)
	cache, gen := filepath.Join(dir, "cache"), filepath.Join(dir, "gen")
	if code, stdout, stderr := runCLI(t, "generate", exp, "--quiet", "--cache", cache, "--method", "SG-LoRA",
		"--description", rotatedBlurred, "--samples", "3", "--out", gen); code != 0 {
		t.Fatalf("generate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	text, err := os.ReadFile(exp)
	if err != nil {
		t.Fatal(err)
	}
	banked := strings.Replace(string(text), `seen = ["digits-clean",`, `seen = ["digits-bank", "digits-clean",`, 1) + `
[[task]]
id = "digits-bank"
description = "handwritten digits rotated and blurred"
dataset = "digits"
adapters = ["gen/sample-0", "gen/sample-1", "gen/sample-2"]
`
	banked = strings.Replace(banked, filepath.Join(dir, "out"), filepath.Join(dir, "out2"), 1)
	path := filepath.Join(dir, "banked.toml")
	if err := os.WriteFile(path, []byte(banked), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "run", "--cache", cache, path)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "expert from PEFT adapters: task=digits-bank snapshots=3") || strings.Contains(stderr, "trained: task=digits-bank") {
		t.Errorf("the banked task's expert was not taken from its folders:\n%s", stderr)
	}
	var man struct {
		Banks map[string][]driver.BankFile `json:"banks"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "out2", driver.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	// The manifest holds one record per invocation; the last is this run's.
	var log struct{ Invocations []json.RawMessage }
	if err := json.Unmarshal(data, &log); err != nil || len(log.Invocations) == 0 {
		t.Fatalf("manifest: %v", err)
	}
	if err := json.Unmarshal(log.Invocations[len(log.Invocations)-1], &man); err != nil {
		t.Fatal(err)
	}
	if files := man.Banks["digits-bank"]; len(files) != 6 || len(files[1].SHA256) != 64 || !strings.HasSuffix(files[1].Path, filepath.Join("sample-0", lora.PEFTWeightsFile)) {
		t.Errorf("manifest banks = %+v", man.Banks)
	}

	// A folder of another rank is refused, naming the file and the tensor.
	a, err := lora.LoadPEFT(filepath.Join(gen, "sample-0"))
	if err != nil {
		t.Fatal(err)
	}
	s := slices.Clone(a.Schema)
	s[0].Rank = 1
	if err := lora.SavePEFT(filepath.Join(gen, "sample-0"), lora.New(s), ""); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "run", "--quiet", "--cache", cache, "--fresh", path)
	want := fmt.Sprintf("%s: tensor base_model.model.%s.lora_A.weight has shape [1, %d]", filepath.Join(gen, "sample-0", lora.PEFTWeightsFile), s[0].Name, s[0].In)
	if code == 0 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d; want an error with %q:\n%s", code, want, stderr)
	}
}
