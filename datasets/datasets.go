// Package datasets serves the images of the default world: MNIST handwritten digits
// ("digits") and Fashion-MNIST clothing ("fashion"), each image with a fine-grained
// caption (package caption). A small balanced subset of each ships inside the binary
// (data/*.sgds.gz, go:embed), so the default needs no download; cmd/mkdata rebuilds those
// files from the original idx files, and LoadDir reads the full idx files from a folder.
//
// The evaluator turns a task's dataset into images here and then applies the task's
// domain (package domain) to them; captions always describe the clean image.
//
// The shipped subset of each dataset holds, per class, the 200 training and 50 test
// images chosen by Select with the seed stored in the file: a seeded choice rather than
// the first N in file order, because the first half of the MNIST test file is written by
// a different (cleaner) population than the second.
package datasets

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/sglab/sglab/datasets/caption"
)

// Side is the width and height of every image.
const Side = 28

// Pixels is the number of pixels of an image.
const Pixels = Side * Side

// Image is a grey image, row-major, ink bright (0 background, 255 full ink), as stored
// in the idx files.
type Image [Pixels]uint8

// Float32 writes the image into dst scaled to [0, 1], the form domains work on.
// It panics if len(dst) != Pixels.
func (im *Image) Float32(dst []float32) {
	if len(dst) != Pixels {
		panic(fmt.Sprintf("datasets: Float32 into %d values, want %d", len(dst), Pixels))
	}
	for i, v := range im {
		dst[i] = float32(v) / 255
	}
}

// Example is one captioned image.
type Example struct {
	Image   Image
	Label   int    // class index into Set.Classes
	Caption string // e.g. "a small faint narrow thin seven leaning right"
	Index   int    // position in the source idx file (train or test), for provenance
}

// Set is one dataset's training and test examples.
type Set struct {
	Name    string
	Classes []string // caption nouns, one per label
	Train   []Example
	Test    []Example
	// Seed is the seed of the per-class selection (Select) that chose the examples.
	Seed uint64
	// Thresholds are the frozen caption cut points, fitted on the shipped training subset.
	Thresholds caption.Thresholds
}

// source describes one dataset the package knows.
type source struct {
	name    string
	classes []string
	doc     string
}

// sources are the known datasets. Class names are single common words that GloVe knows
// (Fashion-MNIST's "T-shirt/top" becomes "top", "Ankle boot" becomes "boot").
var sources = []source{
	{"digits", []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"},
		"MNIST handwritten digits (LeCun, Cortes and Burges)"},
	{"fashion", []string{"top", "trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"},
		"Fashion-MNIST clothing and shoes (Zalando Research)"},
}

//go:embed data/*.sgds.gz
var shipped embed.FS

// Names returns the names of the known datasets.
func Names() []string {
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.name
	}
	return names
}

// Doc returns a one-line description of a dataset, or "" if it is unknown.
func Doc(name string) string {
	if s, err := lookup(name); err == nil {
		return s.doc
	}
	return ""
}

func lookup(name string) (source, error) {
	for _, s := range sources {
		if s.name == name {
			return s, nil
		}
	}
	return source{}, fmt.Errorf("unknown dataset %q (known: %v)", name, Names())
}

// ShippedFile is the path, inside the embedded data, of a dataset's shipped subset.
func ShippedFile(name string) string { return "data/" + name + ".sgds.gz" }

// Load returns the shipped subset of a dataset, captioned. Each call decodes afresh, so
// callers own the result.
func Load(name string) (*Set, error) {
	s, err := loadShipped(name)
	if err != nil {
		return nil, err
	}
	s.attachCaptions()
	return s, nil
}

// loadShipped decodes the embedded file of a dataset without captioning it.
func loadShipped(name string) (*Set, error) {
	src, err := lookup(name)
	if err != nil {
		return nil, err
	}
	f, err := shipped.Open(ShippedFile(name))
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %w", name, err)
	}
	defer f.Close()
	s, err := decode(f)
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %s: %w", name, ShippedFile(name), err)
	}
	if s.Name != name || !slices.Equal(s.Classes, src.classes) {
		return nil, fmt.Errorf("dataset %q: %s holds %q with classes %v, want classes %v (rebuild it with datasets/cmd/mkdata)",
			name, ShippedFile(name), s.Name, s.Classes, src.classes)
	}
	return s, nil
}

// LoadDir reads a dataset from the original idx files in dir (train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each
// optionally .gz) and keeps perClassTrain and perClassTest examples of each class chosen
// by Select with the shipped seed; a count ≤ 0 keeps every example. Captions use the
// shipped (frozen) thresholds, so an image has the same caption here as in Load, and
// LoadDir(name, dir, 200, 50) returns exactly the shipped subset.
func LoadDir(name, dir string, perClassTrain, perClassTest int) (*Set, error) {
	ref, err := loadShipped(name)
	if err != nil {
		return nil, err
	}
	s, err := readSource(name, dir, perClassTrain, perClassTest, ref.Seed)
	if err != nil {
		return nil, err
	}
	s.Thresholds = ref.Thresholds
	s.attachCaptions()
	return s, nil
}

// Build reads a dataset from idx files like LoadDir, with an explicit selection seed,
// and fits fresh caption thresholds on the selected training examples. It is what
// cmd/mkdata ships.
func Build(name, dir string, perClassTrain, perClassTest int, seed uint64) (*Set, error) {
	s, err := readSource(name, dir, perClassTrain, perClassTest, seed)
	if err != nil {
		return nil, err
	}
	byClass := make([][]caption.Measures, len(s.Classes))
	for i := range s.Train {
		e := &s.Train[i]
		byClass[e.Label] = append(byClass[e.Label], caption.Measure(e.Image[:], Side, Side))
	}
	if s.Thresholds, err = caption.Fit(byClass); err != nil {
		return nil, fmt.Errorf("dataset %q: %w", name, err)
	}
	s.attachCaptions()
	return s, nil
}

// readSource reads and selects the examples of a dataset from idx files, uncaptioned.
func readSource(name, dir string, perClassTrain, perClassTest int, seed uint64) (*Set, error) {
	src, err := lookup(name)
	if err != nil {
		return nil, err
	}
	s := &Set{Name: name, Classes: slices.Clone(src.classes), Seed: seed}
	for _, part := range []struct {
		prefix   string
		perClass int
		dst      *[]Example
	}{{"train", perClassTrain, &s.Train}, {"t10k", perClassTest, &s.Test}} {
		imgs, labels, err := readPair(dir, part.prefix, len(src.classes))
		if err != nil {
			return nil, fmt.Errorf("dataset %q: %w", name, err)
		}
		idx, err := Select(labels, len(src.classes), part.perClass, seed)
		if err != nil {
			return nil, fmt.Errorf("dataset %q: %s files in %s: %w", name, part.prefix, dir, err)
		}
		ex := make([]Example, len(idx))
		for j, i := range idx {
			copy(ex[j].Image[:], imgs[i*Pixels:(i+1)*Pixels])
			ex[j].Label = int(labels[i])
			ex[j].Index = i
		}
		*part.dst = ex
	}
	return s, nil
}

// readPair reads and cross-checks one images file and its labels file.
func readPair(dir, prefix string, nclasses int) (images, labels []byte, err error) {
	imPath, err := findIDX(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, nil, err
	}
	lbPath, err := findIDX(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, nil, err
	}
	im, err := ReadIDXFile(imPath)
	if err != nil {
		return nil, nil, err
	}
	if len(im.Dims) != 3 || im.Dims[1] != Side || im.Dims[2] != Side {
		return nil, nil, fmt.Errorf("%s: dimensions %v, want [n %d %d]", imPath, im.Dims, Side, Side)
	}
	lb, err := ReadIDXFile(lbPath)
	if err != nil {
		return nil, nil, err
	}
	if len(lb.Dims) != 1 {
		return nil, nil, fmt.Errorf("%s: dimensions %v, want [n]", lbPath, lb.Dims)
	}
	if lb.Dims[0] != im.Dims[0] {
		return nil, nil, fmt.Errorf("%s holds %d labels but %s holds %d images", lbPath, lb.Dims[0], imPath, im.Dims[0])
	}
	for i, l := range lb.Data {
		if int(l) >= nclasses {
			return nil, nil, fmt.Errorf("%s: label %d of item %d is not below %d", lbPath, l, i, nclasses)
		}
	}
	return im.Data, lb.Data, nil
}

// findIDX returns dir/base.gz or dir/base, whichever exists.
func findIDX(dir, base string) (string, error) {
	for _, p := range []string{filepath.Join(dir, base+".gz"), filepath.Join(dir, base)} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("neither %s.gz nor %s in %s", base, base, dir)
}

// attachCaptions measures every image and writes its caption with s.Thresholds.
func (s *Set) attachCaptions() {
	for _, part := range [][]Example{s.Train, s.Test} {
		for i := range part {
			e := &part[i]
			m := caption.Measure(e.Image[:], Side, Side)
			e.Caption = s.Thresholds.Caption(e.Label, s.Classes[e.Label], m)
		}
	}
}

// Vocabulary returns every word that can appear in a caption of any dataset, sorted:
// what a word-vector subset must cover.
func Vocabulary() []string {
	ws := caption.Words()
	for _, s := range sources {
		ws = append(ws, s.classes...)
	}
	slices.Sort(ws)
	return slices.Compact(ws)
}

// splitmix64 is a bijective 64-bit mixer (Steele, Lea and Flood, 2014). Select ranks
// examples by it because it is fixed forever, unlike library shuffles.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Select chooses perClass examples of each class: per class, those whose index has the
// smallest splitmix64(seed ⊕ splitmix64(index)). The result is in file order. perClass ≤ 0
// keeps everything. It fails if a class has fewer than perClass examples or a label is
// not below nclasses.
func Select(labels []byte, nclasses, perClass int, seed uint64) ([]int, error) {
	if perClass <= 0 {
		idx := make([]int, len(labels))
		for i := range idx {
			idx[i] = i
		}
		return idx, nil
	}
	byClass := make([][]int, nclasses)
	for i, l := range labels {
		if int(l) >= nclasses {
			return nil, fmt.Errorf("label %d of item %d is not below %d", l, i, nclasses)
		}
		byClass[l] = append(byClass[l], i)
	}
	key := func(i int) uint64 { return splitmix64(seed ^ splitmix64(uint64(i))) }
	var idx []int
	for c, is := range byClass {
		if len(is) < perClass {
			return nil, fmt.Errorf("class %d has %d examples, fewer than the %d asked for", c, len(is), perClass)
		}
		slices.SortFunc(is, func(a, b int) int {
			ka, kb := key(a), key(b)
			switch {
			case ka < kb:
				return -1
			case ka > kb:
				return 1
			}
			return 0
		})
		idx = append(idx, is[:perClass]...)
	}
	slices.Sort(idx)
	return idx, nil
}
