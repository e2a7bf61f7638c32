// Package glove gives sglab its semantic space: GloVe word vectors (6B tokens, 100-d,
// Pennington et al. 2014). A subset of the most frequent words ships inside the binary
// (data/, rebuilt by cmd/mkglove), so the default world embeds task descriptions
// offline; LoadText reads a full glove.6B.100d.txt when the user has one.
//
// A text is embedded as the mean of the vectors of its known words, the bag-of-words
// stand-in for the paper's frozen CLIP text tower.
package glove

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
)

//go:embed data/vectors.bin.gz
var shipped []byte

// Vectors is a read-only table of word vectors, safe for concurrent use.
type Vectors struct {
	dim   int
	words []string
	index map[string]int
	data  []float32 // len(words)·dim, row-major
}

// New builds a table from words and their vectors (copied). Words must be distinct and
// non-empty, and every vector must have the same positive length and finite values.
func New(words []string, vecs [][]float32) (*Vectors, error) {
	if len(words) != len(vecs) {
		return nil, fmt.Errorf("glove: %d words but %d vectors", len(words), len(vecs))
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("glove: no words")
	}
	dim := len(vecs[0])
	if dim == 0 {
		return nil, fmt.Errorf("glove: word %q has an empty vector", words[0])
	}
	v := &Vectors{dim: dim, words: make([]string, len(words)), index: make(map[string]int, len(words)), data: make([]float32, 0, len(words)*dim)}
	for i, w := range words {
		if len(vecs[i]) != dim {
			return nil, fmt.Errorf("glove: word %q has %d values, want %d", w, len(vecs[i]), dim)
		}
		if err := v.add(i, w, vecs[i]); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (v *Vectors) add(i int, w string, vec []float32) error {
	if w == "" {
		return fmt.Errorf("glove: word %d is empty", i)
	}
	if _, dup := v.index[w]; dup {
		return fmt.Errorf("glove: word %q appears twice", w)
	}
	for _, x := range vec {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("glove: word %q has value %v", w, x)
		}
	}
	v.words[i] = w
	v.index[w] = i
	v.data = append(v.data, vec...)
	return nil
}

var loadShipped = sync.OnceValues(func() (*Vectors, error) {
	zr, err := gzip.NewReader(bytes.NewReader(shipped))
	if err != nil {
		return nil, fmt.Errorf("glove: shipped vectors: %w", err)
	}
	v, err := ReadQuantized(zr)
	if err != nil {
		return nil, fmt.Errorf("glove: shipped vectors: %w", err)
	}
	return v, nil
})

// Load returns the shipped subset (see data/README.md). It is decoded once and shared;
// callers must not modify the slices it hands out.
func Load() (*Vectors, error) { return loadShipped() }

// LoadText reads the GloVe text format: one word per line followed by its values,
// separated by single spaces (glove.6B.100d.txt). All lines must have the same
// number of values.
func LoadText(path string) (*Vectors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("glove: %w", err)
	}
	defer f.Close()
	words, vecs, err := readText(f, path)
	if err != nil {
		return nil, err
	}
	return New(words, vecs)
}

func readText(f io.Reader, path string) ([]string, [][]float32, error) {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	var words []string
	var vecs [][]float32
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Split(strings.TrimRight(sc.Text(), " \r"), " ")
		if len(fields) == 1 && fields[0] == "" {
			continue
		}
		if len(fields) < 2 {
			return nil, nil, fmt.Errorf("glove: %s:%d: a word with no values", path, line)
		}
		vec := make([]float32, len(fields)-1)
		for i, s := range fields[1:] {
			x, err := strconv.ParseFloat(s, 32)
			if err != nil {
				return nil, nil, fmt.Errorf("glove: %s:%d: word %q value %d: %v", path, line, fields[0], i+1, err)
			}
			vec[i] = float32(x)
		}
		if len(vecs) > 0 && len(vec) != len(vecs[0]) {
			return nil, nil, fmt.Errorf("glove: %s:%d: word %q has %d values, earlier lines have %d", path, line, fields[0], len(vec), len(vecs[0]))
		}
		words = append(words, fields[0])
		vecs = append(vecs, vec)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("glove: %s:%d: %w", path, line+1, err)
	}
	if len(words) == 0 {
		return nil, nil, fmt.Errorf("glove: %s: no vectors", path)
	}
	return words, vecs, nil
}

// Dim is the length of every vector.
func (v *Vectors) Dim() int { return v.dim }

// Len is the vocabulary size.
func (v *Vectors) Len() int { return len(v.words) }

// Words returns the vocabulary in table order (most frequent first for GloVe files).
// The slice is shared: do not modify it.
func (v *Vectors) Words() []string { return v.words }

// Lookup returns the vector of word (shared, do not modify), matched exactly: GloVe 6B
// is lowercase, so pass tokens from Tokenize.
func (v *Vectors) Lookup(word string) ([]float32, bool) {
	i, ok := v.index[word]
	if !ok {
		return nil, false
	}
	return v.data[i*v.dim : (i+1)*v.dim : (i+1)*v.dim], true
}

// Embed is the mean of the vectors of the known words of text (see Tokenize), with the
// words it did not know, in order of first appearance. A text with no known word is
// an error.
func (v *Vectors) Embed(text string) (vec []float32, unknown []string, err error) {
	vec, unknown, err = v.EmbedTokens(Tokenize(text))
	if err != nil {
		return nil, unknown, fmt.Errorf("glove: text %q: %w", text, err)
	}
	return vec, unknown, nil
}

// EmbedTokens is Embed for tokens already split (and perhaps filtered) by the caller.
// A hyphenated token that is not in the vocabulary counts as its parts
// ("grey-blue" → "grey", "blue"), so compounds degrade to their words.
func (v *Vectors) EmbedTokens(tokens []string) (vec []float32, unknown []string, err error) {
	sum := make([]float64, v.dim)
	n := 0
	seen := map[string]bool{}
	use := func(w string) {
		if x, ok := v.Lookup(w); ok {
			for i, e := range x {
				sum[i] += float64(e)
			}
			n++
			return
		}
		if !seen[w] {
			seen[w] = true
			unknown = append(unknown, w)
		}
	}
	for _, t := range tokens {
		if _, ok := v.index[t]; ok || !strings.Contains(t, "-") {
			use(t)
			continue
		}
		for _, part := range strings.Split(t, "-") {
			if part != "" {
				use(part)
			}
		}
	}
	if n == 0 {
		if len(tokens) == 0 {
			return nil, nil, fmt.Errorf("no words")
		}
		return nil, unknown, fmt.Errorf("no known word (unknown: %s)", strings.Join(unknown, ", "))
	}
	vec = make([]float32, v.dim)
	for i, s := range sum {
		vec[i] = float32(s / float64(n))
	}
	return vec, unknown, nil
}
