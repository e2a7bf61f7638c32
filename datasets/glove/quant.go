package glove

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
)

// The shipped file is gzip of this little-endian layout:
//
//	magic  "SGGLOVE\x01"
//	n, dim uint32              vocabulary size, vector length
//	nbytes uint32              length of the word block
//	words  nbytes bytes        the n words joined by '\n'
//	scales n × float32         one scale per word
//	codes  n × dim × int8      vector i is codes[i]·scales[i]
//
// Each vector is quantised to int8 with its own scale s = max|x|/127, so every
// component is off by at most s/2 (about 0.4% of the vector's largest component); the
// cosine between a shipped vector and its original is above 0.9999 (tested).
const magic = "SGGLOVE\x01"

// maxWords bounds what ReadQuantized accepts, so a corrupt header cannot ask for an
// absurd allocation.
const maxWords, maxDim = 1 << 22, 1 << 12

// Quantize returns the int8 codes and scale of x as stored in the shipped file.
func Quantize(x []float32) (codes []int8, scale float32) {
	var m float64
	for _, e := range x {
		m = math.Max(m, math.Abs(float64(e)))
	}
	scale = float32(m / 127)
	codes = make([]int8, len(x))
	if scale == 0 {
		return codes, 0
	}
	for i, e := range x {
		q := math.Round(float64(e) / float64(scale))
		codes[i] = int8(math.Max(-127, math.Min(127, q)))
	}
	return codes, scale
}

// WriteQuantized writes words and their vectors in the layout above (uncompressed;
// the caller gzips). Words must not contain '\n'.
func WriteQuantized(w io.Writer, words []string, vecs [][]float32) error {
	if len(words) != len(vecs) || len(words) == 0 {
		return fmt.Errorf("glove: %d words and %d vectors", len(words), len(vecs))
	}
	dim := len(vecs[0])
	if dim == 0 || dim > maxDim || len(words) > maxWords {
		return fmt.Errorf("glove: cannot store %d words of dimension %d", len(words), dim)
	}
	for i, wd := range words {
		if wd == "" || strings.Contains(wd, "\n") {
			return fmt.Errorf("glove: word %d (%q) is empty or has a newline", i, wd)
		}
		if len(vecs[i]) != dim {
			return fmt.Errorf("glove: word %q has %d values, want %d", wd, len(vecs[i]), dim)
		}
	}
	block := strings.Join(words, "\n")
	bw := bufio.NewWriter(w)
	bw.WriteString(magic)
	for _, u := range []uint32{uint32(len(words)), uint32(dim), uint32(len(block))} {
		binary.Write(bw, binary.LittleEndian, u)
	}
	bw.WriteString(block)
	allCodes := make([]int8, 0, len(words)*dim)
	for _, v := range vecs {
		c, s := Quantize(v)
		binary.Write(bw, binary.LittleEndian, s)
		allCodes = append(allCodes, c...)
	}
	binary.Write(bw, binary.LittleEndian, allCodes)
	return bw.Flush()
}

// ReadQuantized decodes what WriteQuantized wrote.
func ReadQuantized(r io.Reader) (*Vectors, error) {
	br := bufio.NewReader(r)
	head := make([]byte, len(magic)+12)
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	if string(head[:len(magic)]) != magic {
		return nil, fmt.Errorf("not a quantised GloVe file (magic %q)", head[:len(magic)])
	}
	le := binary.LittleEndian
	n := int(le.Uint32(head[len(magic):]))
	dim := int(le.Uint32(head[len(magic)+4:]))
	nbytes := int(le.Uint32(head[len(magic)+8:]))
	if n <= 0 || n > maxWords || dim <= 0 || dim > maxDim || nbytes > n*256 {
		return nil, fmt.Errorf("implausible header: %d words, dimension %d, %d bytes of words", n, dim, nbytes)
	}
	block := make([]byte, nbytes)
	if _, err := io.ReadFull(br, block); err != nil {
		return nil, fmt.Errorf("reading words: %w", err)
	}
	words := strings.Split(string(block), "\n")
	if len(words) != n {
		return nil, fmt.Errorf("header says %d words, word block has %d", n, len(words))
	}
	scales := make([]float32, n)
	if err := binary.Read(br, le, scales); err != nil {
		return nil, fmt.Errorf("reading scales: %w", err)
	}
	codes := make([]int8, n*dim)
	if err := binary.Read(br, le, codes); err != nil {
		return nil, fmt.Errorf("reading codes: %w", err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after %d vectors", n)
	}
	v := &Vectors{dim: dim, words: make([]string, n), index: make(map[string]int, n), data: make([]float32, 0, n*dim)}
	vec := make([]float32, dim)
	for i, w := range words {
		for j, c := range codes[i*dim : (i+1)*dim] {
			vec[j] = float32(c) * scales[i]
		}
		if err := v.add(i, w, vec); err != nil {
			return nil, err
		}
	}
	return v, nil
}
