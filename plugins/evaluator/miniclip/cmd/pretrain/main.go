// Command pretrain makes a miniclip backbone checkpoint. With no flags it reproduces the
// shipped one:
//
//	go run ./plugins/evaluator/miniclip/cmd/pretrain -out plugins/evaluator/miniclip/data/miniclip.safetensors
//
// Logs go to stderr; nothing is written to stdout.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/plugins/evaluator/miniclip"
)

func main() {
	d := miniclip.DefaultPretrainOptions()
	out := flag.String("out", "", "checkpoint file to write (required)")
	epochs := flag.Int("epochs", d.Epochs, "passes over the training pairs")
	batch := flag.Int("batch", d.BatchSize, "pairs per step")
	lr := flag.Float64("lr", d.LR, "peak learning rate")
	seed := flag.Uint64("seed", d.Seed, "seed")
	width := flag.Int("width", d.Model.Width, "image tower width")
	blocks := flag.Int("blocks", d.Model.Blocks, "transformer blocks")
	heads := flag.Int("heads", d.Model.Heads, "attention heads")
	mlp := flag.Int("mlp", d.Model.MLP, "MLP hidden width")
	embed := flag.Int("embed", d.Model.Embed, "joint embedding size")
	dataDir := flag.String("data", "", "folder with the original idx files (default: shipped subsets)")
	perClass := flag.Int("per-class", 0, "training images per class with -data (0: all)")
	inv := flag.Float64("invert", d.Invert, "probability of showing an image inverted")
	rot := flag.Float64("rotate", d.Rotate, "probability of showing an image at a random angle")
	aug := flag.Float64("augment", d.Augment, "probability of one mild random change per image")
	sets := flag.String("datasets", strings.Join(d.Datasets, ","), "comma-separated datasets")
	flag.Parse()
	log := hclog.New(&hclog.LoggerOptions{Name: "pretrain", Output: os.Stderr})
	if *out == "" {
		log.Error("missing -out")
		os.Exit(2)
	}
	d.Epochs, d.BatchSize, d.LR, d.Seed = *epochs, *batch, *lr, *seed
	d.Model.Width, d.Model.Blocks, d.Model.Heads, d.Model.MLP, d.Model.Embed = *width, *blocks, *heads, *mlp, *embed
	d.DataDir, d.PerClass, d.Invert, d.Rotate, d.Augment = *dataDir, *perClass, *inv, *rot, *aug
	d.Datasets = strings.Split(*sets, ",")
	if err := run(d, *out, log); err != nil {
		log.Error("pretrain failed", "error", err)
		os.Exit(1)
	}
}

func run(opts miniclip.PretrainOptions, out string, log hclog.Logger) error {
	m, err := miniclip.Pretrain(opts, log)
	if err != nil {
		return err
	}
	if err := m.Save(out); err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	log.Info("wrote checkpoint", "path", out)
	return nil
}
