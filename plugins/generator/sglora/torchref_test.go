package sglora

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/internal/pythontest"
)

// torchref runs torchref/cvae.py's command on the (model, input, output) triples of
// files in one process, which imports torch once, and decodes each output into outs.
func torchref[T any](t *testing.T, command string, files [][3]string) []T {
	t.Helper()
	args := []string{filepath.Join("torchref", "cvae.py"), command}
	for _, f := range files {
		args = append(args, f[:]...)
	}
	cmd := exec.Command(pythontest.Interpreter, args...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("torchref/cvae.py %s: %v\n%s", command, err, msg)
	}
	outs := make([]T, len(files))
	for i, f := range files {
		js, err := os.ReadFile(f[2])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(js, &outs[i]); err != nil {
			t.Fatalf("torchref/cvae.py %s wrote %s: %v", command, f[2], err)
		}
	}
	return outs
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, js, 0o644); err != nil {
		t.Fatal(err)
	}
}

func normals(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

func rows(x []float32, n int) [][]float32 {
	w := len(x) / n
	out := make([][]float32, n)
	for i := range out {
		out[i] = x[i*w : (i+1)*w]
	}
	return out
}

// closeTo reports the first element where got and want differ by more than tol
// relative to the largest |want| (float32 sums in another order differ by rounding).
func closeTo(got, want []float32, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d numbers, want %d", len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= tol*scale) {
			return fmt.Errorf("element %d is %v, want %v (|want| up to %v)", i, got[i], want[i], scale)
		}
	}
	return nil
}

// TestTorchReferenceIsTheSameNetwork: the PyTorch CVAE of torchref/cvae.py, loaded from
// the file SaveFit writes, samples what the Go sampler samples for the same condition
// and noise, so the README's PyTorch timings are of the same network.
func TestTorchReferenceIsTheSameNetwork(t *testing.T) {
	pythontest.Require(t, "the PyTorch reference of the CVAE", pythontest.Torch)
	const n = 5
	type tcase struct {
		name string
		P    int
		want []float32 // the Go sampler's n×P samples
	}
	var cases []tcase
	var files [][3]string
	for i, v := range []struct{ cond, prior, decoder string }{
		{"projection", "learned", "direct"}, {"concat", "learned", "direct"},
		{"projection", "learned", "residual"}, {"projection", "standard", "direct"},
	} {
		cfg := smallConfig()
		cfg.Condition, cfg.Prior, cfg.Decoder, cfg.Epochs = v.cond, v.prior, v.decoder, 20
		g := fitWith(t, cfg, small(t, 3), 5)
		dir := t.TempDir()
		fit := filepath.Join(dir, "fit.safetensors")
		if err := g.SaveFit(context.Background(), fit); err != nil {
			t.Fatal(err)
		}
		f, _ := g.Fitted()
		m := f.model
		target := normals(rand.New(rand.NewPCG(9, uint64(i))), len(f.lib.Experts[0].Embedding))
		ns, err := f.lib.Neighbours(target, cfg.TopK, cfg.Tau)
		if err != nil {
			t.Fatal(err)
		}
		c := f.condition(ns)
		eps := normals(rand.New(rand.NewPCG(10, uint64(i))), n*m.L)
		want := make([]float32, n*m.P)
		m.newSampler(m.features(c), c).decode(want, eps, n)
		in := filepath.Join(dir, "in.json")
		writeJSON(t, in, map[string]any{"condition": c, "eps": rows(eps, n)})
		cases = append(cases, tcase{v.cond + "/" + v.prior + "/" + v.decoder, m.P, want})
		files = append(files, [3]string{fit, in, filepath.Join(dir, "out.json")})
	}
	outs := torchref[struct{ Samples [][]float32 }](t, "decode", files)
	for k, c := range cases {
		if len(outs[k].Samples) != n {
			t.Errorf("%s: %d samples, want %d", c.name, len(outs[k].Samples), n)
			continue
		}
		for i, s := range outs[k].Samples {
			if err := closeTo(s, c.want[i*c.P:(i+1)*c.P], 1e-5); err != nil {
				t.Errorf("%s: sample %d: %v", c.name, i, err)
			}
		}
	}
}

// TestTorchReferenceTrainsTheSameNetwork: for one batch of a small untrained model,
// torchref/cvae.py's loss and autograd's gradients of every layer are Go's forward and
// backward.
func TestTorchReferenceTrainsTheSameNetwork(t *testing.T) {
	pythontest.Require(t, "the PyTorch reference of the CVAE", pythontest.Torch)
	const P, experts, n = 24, 4, 6
	type tcase struct {
		name      string
		m         *cvae
		recon, kl float64
	}
	var cases []tcase
	var files [][3]string
	for i, v := range []struct{ cond, prior, decoder string }{
		{"projection", "learned", "direct"}, {"concat", "learned", "residual"}, {"projection", "standard", "direct"},
	} {
		cfg := smallConfig()
		cfg.Condition, cfg.Prior, cfg.Decoder, cfg.KLWeight = v.cond, v.prior, v.decoder, 0.7
		r := rand.New(rand.NewPCG(4, uint64(i)))
		m := newCVAE(cfg, P, r)
		conds := make([][]float32, experts)
		for e := range conds {
			conds[e] = normals(r, 2*P)
		}
		var b batch
		b.resize(m, n)
		for s := range n {
			b.experts = append(b.experts, (s*3)%experts) // repeats: one projection per expert
		}
		copy(b.x, normals(r, n*P))
		copy(b.eps, normals(r, n*m.L))
		recon, kl := m.forward(&b, conds)
		m.backward(&b)

		dir := t.TempDir()
		model := filepath.Join(dir, "model.safetensors")
		js, err := json.Marshal(fitMeta{Config: cfg, Learned: m.learned, Residual: m.residual, Latent: m.L, CDim: m.CDim, Project: m.proj != nil})
		if err != nil {
			t.Fatal(err)
		}
		var ts []lora.Tensor
		for _, l := range m.layers() {
			ts = append(ts,
				lora.Tensor{Name: l.name + ".weight", Shape: []int{l.d.In, l.d.Out}, Data: l.d.Weights()},
				lora.Tensor{Name: l.name + ".bias", Shape: []int{l.d.Out}, Data: l.d.B})
		}
		if err := lora.WriteSafetensors(model, ts, map[string]string{"fit": string(js)}); err != nil {
			t.Fatal(err)
		}
		in := filepath.Join(dir, "in.json")
		writeJSON(t, in, map[string]any{"conditions": conds, "slot": b.experts, "x": rows(b.x, n), "eps": rows(b.eps, n)})
		cases = append(cases, tcase{v.cond + "/" + v.prior + "/" + v.decoder, m, recon, kl})
		files = append(files, [3]string{model, in, filepath.Join(dir, "out.json")})
	}
	outs := torchref[struct {
		Recon, KL float64
		Grads     map[string][]float32
	}](t, "step", files)
	for k, c := range cases {
		got := outs[k]
		for _, v := range []struct {
			what      string
			got, want float64
		}{{"reconstruction", got.Recon, c.recon}, {"KL", got.KL, c.kl}} {
			if !(math.Abs(v.got-v.want) <= 1e-5*math.Abs(v.want)) {
				t.Errorf("%s: %s: PyTorch %v, Go %v", c.name, v.what, v.got, v.want)
			}
		}
		if len(got.Grads) != 2*len(c.m.layers()) {
			t.Errorf("%s: PyTorch returned %d gradients, Go has %d", c.name, len(got.Grads), 2*len(c.m.layers()))
		}
		for _, l := range c.m.layers() {
			if err := closeTo(got.Grads[l.name+".weight"], l.d.GW, 1e-4); err != nil {
				t.Errorf("%s: %s.weight gradient: %v", c.name, l.name, err)
			}
			if err := closeTo(got.Grads[l.name+".bias"], l.d.GB, 1e-4); err != nil {
				t.Errorf("%s: %s.bias gradient: %v", c.name, l.name, err)
			}
		}
	}
}
