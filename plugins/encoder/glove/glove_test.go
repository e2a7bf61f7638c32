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
	return NewWithLogger(hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Trace})), &buf
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
	want := map[string]string{"normalize": "true", "drop_stopwords": "true", "lexical": "0.5", "vectors_path": `""`}
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
	if len(got) != 3 || len(got[0]) != 100+lexicalBuckets {
		t.Fatalf("shape %d×%d", len(got), len(got[0]))
	}
	for i, v := range got {
		if n := norm(v); math.Abs(n-1) > 1e-5 {
			t.Errorf("text %d: norm %v, want 1", i, n)
		}
	}
	// "45" is not in the vocabulary; it is logged, not fatal. Stopwords are not unknown.
	if l := logs.String(); !strings.Contains(l, "45") || strings.Contains(l, `"a"`) {
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
	if err := raw.Configure(ctx, plugin.Params{"normalize": false, "drop_stopwords": false, "lexical": 0.0}); err != nil {
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
	if err := dropped.Configure(ctx, plugin.Params{"normalize": false, "lexical": 0.0}); err != nil {
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
	if err := e.Configure(ctx, plugin.Params{"vectors_path": p, "lexical": 0.0}); err != nil {
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
	if got, err := e.Embed(ctx, []string{"shoe"}); err != nil || len(got[0]) != 100+lexicalBuckets {
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

// TestLexical checks the lexical channel: unit embeddings of 100 + 256 numbers whose
// cosine is (1−β)·(GloVe cosine) + β·(bag-of-words cosine), which tells apart
// descriptions that differ in antonyms GloVe puts together.
func TestLexical(t *testing.T) {
	ctx := context.Background()
	left := "handwritten digits rotated to the left"
	right := "handwritten digits rotated to the right"
	embed := func(beta float64) [][]float32 {
		t.Helper()
		e := NewWithLogger(hclog.NewNullLogger())
		if err := e.Configure(ctx, plugin.Params{"lexical": beta}); err != nil {
			t.Fatal(err)
		}
		v, err := e.Embed(ctx, []string{left, right})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	g := embed(0)
	if len(g[0]) != 100 {
		t.Fatalf("lexical = 0: %d numbers, want GloVe's 100", len(g[0]))
	}
	cosG := cos(g[0], g[1])
	// Bag of words after stopwords: {handwritten, digits, rotated, left} and
	// {handwritten, digits, rotated, right}: cosine 3/4 (no bucket collision among them).
	const cosH = 0.75
	for _, beta := range []float64{0.3, 0.5, 1} {
		v := embed(beta)
		if len(v[0]) != 100+lexicalBuckets {
			t.Fatalf("lexical = %v: %d numbers", beta, len(v[0]))
		}
		for _, x := range v {
			if math.Abs(norm(x)-1) > 1e-6 {
				t.Errorf("lexical = %v: norm %v", beta, norm(x))
			}
		}
		want := (1-beta)*cosG + beta*cosH
		if got := cos(v[0], v[1]); math.Abs(got-want) > 1e-5 {
			t.Errorf("lexical = %v: cosine %v, want %v", beta, got, want)
		}
	}
	if cosG < 0.95 {
		t.Errorf("GloVe alone gives left/right cosine %v; the premise of this channel is that it is high", cosG)
	}
	// Words GloVe does not know still count lexically.
	e := NewWithLogger(hclog.NewNullLogger())
	if err := e.Configure(ctx, plugin.Params{"lexical": 1.0}); err != nil {
		t.Fatal(err)
	}
	v, err := e.Embed(ctx, []string{"digits rotated by 45 degrees", "digits rotated by 90 degrees"})
	if err != nil {
		t.Fatal(err)
	}
	if c := cos(v[0], v[1]); math.Abs(c-0.75) > 1e-6 {
		t.Errorf("numbers: lexical cosine %v, want 3/4", c)
	}
	for _, p := range []plugin.Params{{"lexical": -0.1}, {"lexical": 1.5}, {"lexical": 0.5, "normalize": false}} {
		if err := NewWithLogger(hclog.NewNullLogger()).Configure(ctx, p); err == nil || !strings.Contains(err.Error(), `"lexical"`) {
			t.Errorf("Configure(%v) = %v, want an error naming lexical", p, err)
		}
	}
}
