package glove

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

const sampleFile = "testdata/sample.100d.txt" // full-precision GloVe rows copied from the npm package

func mustLoad(t *testing.T) *Vectors {
	t.Helper()
	v, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

func TestLoadShipped(t *testing.T) {
	v := mustLoad(t)
	if v.Dim() != 100 {
		t.Fatalf("Dim = %d, want 100", v.Dim())
	}
	if v.Len() < 30000 {
		t.Fatalf("Len = %d, want tens of thousands", v.Len())
	}
	// GloVe's frequency order starts with "the"; punctuation entries are not shipped.
	if got := v.Words()[:4]; !slices.Equal(got, []string{"the", "of", "to", "and"}) {
		t.Errorf("first words %q", got)
	}
	for _, w := range v.Words() {
		if !slices.Equal(Tokenize(w), []string{w}) {
			t.Fatalf("shipped word %q is not a single token", w)
		}
	}
	v2 := mustLoad(t)
	if v != v2 {
		t.Error("Load decoded the shipped file twice")
	}
}

func TestLoadConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	got := make([]*Vectors, 8)
	for i := range got {
		wg.Go(func() {
			v, err := Load()
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for _, v := range got[1:] {
		if v != got[0] {
			t.Fatal("concurrent Loads returned different tables")
		}
	}
}

// The shipped int8 vectors must stay within the documented error of the originals.
func TestShippedPrecision(t *testing.T) {
	v := mustLoad(t)
	orig, err := LoadText(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range orig.Words() {
		x, _ := orig.Lookup(w)
		y, ok := v.Lookup(w)
		if !ok {
			t.Errorf("%q is not shipped", w)
			continue
		}
		var maxAbs, maxErr float64
		for i := range x {
			maxAbs = math.Max(maxAbs, math.Abs(float64(x[i])))
			maxErr = math.Max(maxErr, math.Abs(float64(x[i]-y[i])))
		}
		if bound := maxAbs / 127 / 2 * 1.0001; maxErr > bound {
			t.Errorf("%q: max component error %.3g > bound %.3g", w, maxErr, bound)
		}
		if c := cosine(x, y); c < 0.9999 {
			t.Errorf("%q: cosine to original %.6f < 0.9999", w, c)
		}
	}
}

func TestQuantizedRoundTrip(t *testing.T) {
	words := []string{"alpha", "beta", "zero", "t-shirt"}
	vecs := [][]float32{{1, -2, 0.5}, {0.001, 0.002, -0.003}, {0, 0, 0}, {127, -127, 63.5}}
	var buf bytes.Buffer
	if err := WriteQuantized(&buf, words, vecs); err != nil {
		t.Fatal(err)
	}
	v, err := ReadQuantized(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.Words(), words) || v.Dim() != 3 {
		t.Fatalf("words %q dim %d", v.Words(), v.Dim())
	}
	for i, w := range words {
		got, _ := v.Lookup(w)
		for j, x := range vecs[i] {
			_, s := Quantize(vecs[i])
			if d := math.Abs(float64(got[j] - x)); d > float64(s)/2*1.0001 {
				t.Errorf("%s[%d] = %v, want %v ± %v", w, j, got[j], x, s/2)
			}
		}
	}
	// The largest component is reproduced exactly up to float32 rounding of the scale.
	if got, _ := v.Lookup("t-shirt"); math.Abs(float64(got[0])-127) > 1e-4 {
		t.Errorf("t-shirt[0] = %v, want 127", got[0])
	}

	bad := map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("NOTGLOVE"), buf.Bytes()[8:]...),
		"truncated": buf.Bytes()[:buf.Len()-1],
		"trailing":  append(slices.Clone(buf.Bytes()), 0),
	}
	for name, b := range bad {
		if _, err := ReadQuantized(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: ReadQuantized accepted a bad file", name)
		}
	}
}

func TestLoadText(t *testing.T) {
	v, err := LoadText(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	if v.Dim() != 100 || v.Len() != 14 {
		t.Fatalf("dim %d len %d", v.Dim(), v.Len())
	}
	x, ok := v.Lookup("the")
	if !ok || x[0] != -0.038194 || x[99] != 0.27062 {
		t.Errorf("the = %v..%v", x[0], x[99])
	}

	dir := t.TempDir()
	cases := map[string]string{
		"ragged":   "a 1 2\nb 1\n",
		"notfloat": "a 1 x\n",
		"novalues": "a\n",
		"dup":      "a 1\na 2\n",
		"nan":      "a NaN\n",
		"empty":    "",
	}
	for name, text := range cases {
		p := filepath.Join(dir, name+".txt")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadText(p); err == nil {
			t.Errorf("%s: LoadText accepted %q", name, text)
		}
	}
	if _, err := LoadText(filepath.Join(dir, "missing.txt")); err == nil {
		t.Error("LoadText of a missing file succeeded")
	}
}

func TestTokenize(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"A photo of a T-Shirt, rotated 45°.", []string{"a", "photo", "of", "a", "t-shirt", "rotated", "45"}},
		{"blurred/noisy  digits\t(MNIST)", []string{"blurred", "noisy", "digits", "mnist"}},
		{"the digit's stroke", []string{"the", "digit", "stroke"}},
		{"don't ROCK'N'ROLL", []string{"dont", "rocknroll"}},
		{"it’s fine", []string{"it", "fine"}},
		{"-leading trailing- a--b 'quoted'", []string{"leading", "trailing", "a", "b", "quoted"}},
		{"café naïve", []string{"café", "naïve"}},
		{"", nil},
		{" .,;!? ", nil},
	}
	for _, c := range cases {
		if got := Tokenize(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEmbed(t *testing.T) {
	v, err := New([]string{"red", "shoe", "t", "box"}, [][]float32{{1, 0}, {0, 2}, {4, 4}, {-1, 1}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		text    string
		want    []float32
		unknown []string
	}{
		{"Red shoe", []float32{0.5, 1}, nil},
		{"red red shoe", []float32{2.0 / 3, 2.0 / 3}, nil},
		{"a red, zorp shoe zorp", []float32{0.5, 1}, []string{"a", "zorp"}},
		// Unknown compound falls back to its parts; unknown parts are reported.
		{"red-shoe", []float32{0.5, 1}, nil},
		{"t-box", []float32{1.5, 2.5}, nil},
		{"red-zorp", []float32{1, 0}, []string{"zorp"}},
	}
	for _, c := range cases {
		got, unk, err := v.Embed(c.text)
		if err != nil {
			t.Errorf("Embed(%q): %v", c.text, err)
			continue
		}
		if !slices.EqualFunc(got, c.want, func(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-6 }) || !slices.Equal(unk, c.unknown) {
			t.Errorf("Embed(%q) = %v, %q; want %v, %q", c.text, got, unk, c.want, c.unknown)
		}
	}
	for _, text := range []string{"", "zorp blah", "!!!"} {
		_, _, err := v.Embed(text)
		if err == nil || !strings.Contains(err.Error(), "\""+text+"\"") {
			t.Errorf("Embed(%q) error %v, want one naming the text", text, err)
		}
	}
}

func TestNewRejects(t *testing.T) {
	cases := map[string]struct {
		words []string
		vecs  [][]float32
	}{
		"none":     {nil, nil},
		"count":    {[]string{"a"}, nil},
		"emptyvec": {[]string{"a"}, [][]float32{{}}},
		"ragged":   {[]string{"a", "b"}, [][]float32{{1}, {1, 2}}},
		"dup":      {[]string{"a", "a"}, [][]float32{{1}, {2}}},
		"emptywrd": {[]string{""}, [][]float32{{1}}},
		"inf":      {[]string{"a"}, [][]float32{{float32(math.Inf(1))}}},
	}
	for name, c := range cases {
		if _, err := New(c.words, c.vecs); err == nil {
			t.Errorf("%s: New accepted bad input", name)
		}
	}
}

// neighbours returns the k words nearest to w by cosine, w excluded.
func neighbours(v *Vectors, w string, k int) []string {
	x, _ := v.Lookup(w)
	type scored struct {
		w string
		c float64
	}
	all := make([]scored, 0, v.Len())
	for _, u := range v.Words() {
		if u != w {
			y, _ := v.Lookup(u)
			all = append(all, scored{u, cosine(x, y)})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].c > all[j].c })
	out := make([]string, k)
	for i := range out {
		out[i] = all[i].w
	}
	return out
}

// The shipped table must be aligned (each word next to its own vector): related words
// are near, unrelated ones are not.
func TestShippedSemantics(t *testing.T) {
	v := mustLoad(t)
	near := map[string]string{"seven": "eight", "king": "queen", "shirt": "pants", "blurred": "blurry", "rotated": "rotate"}
	for w, want := range near {
		got := neighbours(v, w, 10)
		t.Logf("%s: %s", w, strings.Join(got, " "))
		if !slices.Contains(got, want) {
			t.Errorf("%q not among the 10 nearest of %q: %q", want, w, got)
		}
	}
	sim := func(a, b string) float64 {
		x, _ := v.Lookup(a)
		y, _ := v.Lookup(b)
		return cosine(x, y)
	}
	if sim("sandal", "sneaker") <= sim("sandal", "seven") {
		t.Error("sandal is nearer seven than sneaker")
	}
}
