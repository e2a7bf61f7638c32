package glove

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	glovedata "github.com/sglab/sglab/datasets/glove"
	"github.com/sglab/sglab/framework/plugin"
)

func newLogged(t *testing.T) (*Encoder, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	return withLogger(hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Trace})), &buf
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func cos(a, b []float32) float64 {
	var d float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
	}
	return d / norm(a) / norm(b)
}

func TestInfo(t *testing.T) {
	info, err := New().Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != plugin.KindEncoder || info.Name != "glove" || info.Version == "" || info.Description == "" {
		t.Errorf("info %+v", info)
	}
	want := map[string]string{"normalize": "true", "drop_stopwords": "true", "lexical": "0.4", "numeric": "0.3", "vectors_path": `""`}
	if len(info.Params) != len(want) {
		t.Fatalf("params %+v", info.Params)
	}
	for _, p := range info.Params {
		if want[p.Name] != p.Default || p.Doc == "" {
			t.Errorf("param %+v, want default %s and a doc", p, want[p.Name])
		}
	}
}

func TestConfigureRejects(t *testing.T) {
	cases := map[string]struct {
		p    plugin.Params
		want string
	}{
		"unknown":  {plugin.Params{"normalise": true}, `"normalise"`},
		"type":     {plugin.Params{"normalize": "yes"}, `"normalize"`},
		"bad path": {plugin.Params{"vectors_path": "/nonexistent/glove.txt"}, `"vectors_path"`},
	}
	for name, c := range cases {
		err := New().Configure(context.Background(), c.p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %s", name, err, c.want)
		}
	}
}

func TestEmbedShipped(t *testing.T) {
	ctx := context.Background()
	e, logs := newLogged(t)
	texts := []string{
		"a photo of a handwritten digit rotated by 45 degrees",
		"a photo of a handwritten digit with gaussian noise",
		"a photo of a sandal rotated by 45 degrees",
	}
	got, err := e.Embed(ctx, texts) // unconfigured: defaults
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(got[0]) != 100+lexicalBuckets+numericBins {
		t.Fatalf("shape %d×%d", len(got), len(got[0]))
	}
	for i, v := range got {
		if n := norm(v); math.Abs(n-1) > 1e-5 {
			t.Errorf("text %d: norm %v, want 1", i, n)
		}
	}
	// "45" goes to the numeric channel, not to GloVe: it is not an unknown word, nor
	// are stopwords.
	if l := logs.String(); strings.Contains(l, "45") || strings.Contains(l, `"a"`) {
		t.Errorf("log %q", l)
	}
	// Sharing the transform matters more than sharing the class after stopwords go.
	if cos(got[0], got[2]) <= cos(got[1], got[2]) {
		t.Errorf("rotated digit vs rotated sandal %.3f <= noisy digit vs rotated sandal %.3f", cos(got[0], got[2]), cos(got[1], got[2]))
	}
}

// With stopwords kept, no normalisation and no lexical channel, the plugin returns exactly the dataset's
// mean vector; dropping stopwords spreads descriptions apart.
func TestEmbedOptions(t *testing.T) {
	ctx := context.Background()
	vecs, err := glovedata.Load()
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"the rotation of the digit", "the blur of the sandal"}
	raw := New()
	if err := raw.Configure(ctx, plugin.Params{"normalize": false, "drop_stopwords": false, "lexical": 0.0, "numeric": 0.0}); err != nil {
		t.Fatal(err)
	}
	got, err := raw.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		want, _, err := vecs.Embed(text)
		if err != nil {
			t.Fatal(err)
		}
		for j := range want {
			if got[i][j] != want[j] {
				t.Fatalf("text %d dim %d: %v, want %v", i, j, got[i][j], want[j])
			}
		}
	}
	dropped := New()
	if err := dropped.Configure(ctx, plugin.Params{"normalize": false, "lexical": 0.0, "numeric": 0.0}); err != nil {
		t.Fatal(err)
	}
	got2, err := dropped.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := vecs.Embed("rotation digit")
	if cos(got2[0], want) < 1-1e-6 {
		t.Errorf("dropped stopwords: cosine to mean(rotation, digit) %v", cos(got2[0], want))
	}
	if cos(got2[0], got2[1]) >= cos(got[0], got[1]) {
		t.Errorf("dropping stopwords did not spread the texts: %.3f vs %.3f", cos(got2[0], got2[1]), cos(got[0], got[1]))
	}
}

func TestEmbedErrorsNameText(t *testing.T) {
	ctx := context.Background()
	for _, text := range []string{"zzqx blorf", "", "of the", "?!"} {
		_, err := New().Embed(ctx, []string{"digit", text})
		if err == nil || !strings.Contains(err.Error(), `"`+text+`"`) {
			t.Errorf("Embed(%q) error %v, want one naming the text", text, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := New().Embed(cctx, []string{"digit"}); err == nil {
		t.Error("Embed ignored a cancelled context")
	}
}

func TestVectorsPath(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "tiny.txt")
	if err := os.WriteFile(p, []byte("red 3 4\nshoe 0 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, _ := newLogged(t)
	if err := e.Configure(ctx, plugin.Params{"vectors_path": p, "lexical": 0.0, "numeric": 0.0}); err != nil {
		t.Fatal(err)
	}
	got, err := e.Embed(ctx, []string{"Red!", "red shoe"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{0.6, 0.8}, {float32(1.5 / math.Sqrt(8.5)), float32(2.5 / math.Sqrt(8.5))}}
	for i := range want {
		for j := range want[i] {
			if math.Abs(float64(got[i][j]-want[i][j])) > 1e-6 {
				t.Errorf("text %d: %v, want %v", i, got[i], want[i])
			}
		}
	}
	// A later Configure without the key goes back to the shipped vectors.
	if err := e.Configure(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := e.Embed(ctx, []string{"shoe"}); err != nil || len(got[0]) != 100+lexicalBuckets+numericBins {
		t.Errorf("after reconfigure: %v, %v", got, err)
	}
}

// Plugins speak the go-plugin handshake on stdout; the encoder must never write there,
// even when it logs through the default logger.
func TestNoStdout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	_, embedErr := New().Embed(context.Background(), []string{"a qzxv digit", "zzqx"})
	os.Stdout = old
	w.Close()
	out, _ := io.ReadAll(r)
	if embedErr == nil {
		t.Error("expected an error for a text with no known word")
	}
	if len(out) > 0 {
		t.Errorf("wrote to stdout: %q", out)
	}
}

// TestChannels checks the lexical and numeric channels: unit embeddings whose cosine
// is (1−β−γ)·(GloVe cosine) + β·(bag-of-words cosine) + γ·(numeric cosine), which
// tell apart descriptions that differ in antonyms GloVe puts together or in numbers
// GloVe does not know.
func TestChannels(t *testing.T) {
	ctx := context.Background()
	embed := func(p plugin.Params, texts ...string) [][]float32 {
		t.Helper()
		e := withLogger(hclog.NewNullLogger())
		if err := e.Configure(ctx, p); err != nil {
			t.Fatal(err)
		}
		v, err := e.Embed(ctx, texts)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range v {
			if math.Abs(norm(x)-1) > 1e-6 {
				t.Errorf("%v text %d: norm %v", p, i, norm(x))
			}
		}
		return v
	}
	off := plugin.Params{"lexical": 0.0, "numeric": 0.0}
	left := "handwritten digits rotated 45 degrees to the left"
	right := "handwritten digits rotated 45 degrees to the right"
	g := embed(off, left, right)
	if len(g[0]) != 100 {
		t.Fatalf("no channels: %d numbers, want GloVe's 100", len(g[0]))
	}
	cosG := cos(g[0], g[1])
	if cosG < 0.95 {
		t.Errorf("GloVe alone gives left/right cosine %v; the premise of the lexical channel is that it is high", cosG)
	}
	// Bags of words without stopwords and numbers: {handwritten, digits, rotated,
	// degrees, left} and {..., right}: cosine 4/5. Both texts hold the number 45.
	const cosH, cosQ = 0.8, 1.0
	for _, w := range []struct{ beta, gamma float64 }{{0.3, 0}, {0.4, 0.3}, {1, 0}, {0, 1}, {0.5, 0.5}} {
		v := embed(plugin.Params{"lexical": w.beta, "numeric": w.gamma}, left, right)
		if len(v[0]) != 100+lexicalBuckets+numericBins {
			t.Fatalf("%+v: %d numbers", w, len(v[0]))
		}
		want := (1-w.beta-w.gamma)*cosG + w.beta*cosH + w.gamma*cosQ
		if got := cos(v[0], v[1]); math.Abs(got-want) > 1e-5 {
			t.Errorf("%+v: cosine %v, want %v", w, got, want)
		}
	}
	// Numbers compare by ratio: cos = exp(−(ln a − ln b)²/(4σ²)) up to the grid.
	numbers := []string{"rotated 45 degrees", "rotated 60 degrees", "rotated 90 degrees", "noise of 0.3", "rotated 45.0 degrees"}
	q := embed(plugin.Params{"lexical": 0.0, "numeric": 1.0}, numbers...)
	bump := func(a, b float64) float64 {
		d := math.Log(a) - math.Log(b)
		return math.Exp(-d * d / (4 * numericSigma * numericSigma))
	}
	for _, c := range []struct {
		i, j int
		want float64
	}{{0, 1, bump(45, 60)}, {0, 2, bump(45, 90)}, {0, 3, bump(45, 0.3)}, {0, 4, 1}} {
		if got := cos(q[c.i], q[c.j]); math.Abs(got-c.want) > 0.01 {
			t.Errorf("numeric cosine of %q and %q: %v, want %v", numbers[c.i], numbers[c.j], got, c.want)
		}
	}
	if !(cos(q[0], q[1]) > cos(q[0], q[2])) {
		t.Error("45 must be nearer 60 than 90")
	}
	// A text without numbers leaves the numeric channel empty; its other channels make
	// up the unit norm.
	v := embed(plugin.Params{"lexical": 0.4, "numeric": 0.3}, "blurred digits", "blurred digits")
	if tail := v[0][100+lexicalBuckets:]; !allZero(tail) {
		t.Error("numeric channel of a text without numbers is not zero")
	}
	for _, p := range []plugin.Params{
		{"lexical": -0.1}, {"lexical": 1.5}, {"numeric": -1.0}, {"lexical": 0.7, "numeric": 0.5},
		{"lexical": 0.5, "numeric": 0.0, "normalize": false},
	} {
		err := withLogger(hclog.NewNullLogger()).Configure(ctx, p)
		if err == nil || !(strings.Contains(err.Error(), `"lexical"`) || strings.Contains(err.Error(), `"numeric"`)) {
			t.Errorf("Configure(%v) = %v, want an error naming the parameter", p, err)
		}
	}
}

// withLogger is an encoder that logs to l, as rpc.Serve makes it.
func withLogger(l hclog.Logger) *Encoder {
	e := New()
	e.SetLogger(l)
	return e
}
