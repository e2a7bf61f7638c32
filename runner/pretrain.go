package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/sglab/sglab/plugins/evaluator/miniclip"
)

// cmdPretrain pretrains the default world's backbone. With no flags but -out it
// reproduces the shipped checkpoint bit for bit:
//
//	runner pretrain --out plugins/evaluator/miniclip/data/miniclip.safetensors
func cmdPretrain(args []string, stdout, stderr io.Writer) int {
	d := miniclip.DefaultPretrainOptions()
	fs := newFlagSet("pretrain")
	out := fs.String("out", "", "checkpoint `FILE` to write (required)")
	fs.IntVar(&d.Epochs, "epochs", d.Epochs, "passes over the training pairs")
	fs.IntVar(&d.BatchSize, "batch", d.BatchSize, "pairs per step")
	fs.Float64Var(&d.LR, "lr", d.LR, "peak learning rate")
	fs.Uint64Var(&d.Seed, "seed", d.Seed, "seed")
	fs.IntVar(&d.Model.Width, "width", d.Model.Width, "image tower width")
	fs.IntVar(&d.Model.Blocks, "blocks", d.Model.Blocks, "transformer blocks")
	fs.IntVar(&d.Model.Heads, "heads", d.Model.Heads, "attention heads")
	fs.IntVar(&d.Model.MLP, "mlp", d.Model.MLP, "MLP hidden width")
	fs.IntVar(&d.Model.Embed, "embed", d.Model.Embed, "joint embedding size")
	fs.StringVar(&d.DataDir, "data", "", "`DIR` with the original idx files, subfolders digits/ and fashion/ (default: the shipped subsets)")
	fs.IntVar(&d.PerClass, "per-class", 0, "training images per class with --data (0: all)")
	fs.Float64Var(&d.Augment, "augment", d.Augment, "probability of a mild random change per image")
	fs.Float64Var(&d.Invert, "invert", d.Invert, "probability of showing an image inverted")
	fs.Float64Var(&d.Rotate, "rotate", d.Rotate, "probability of showing an image at a random angle")
	sets := fs.String("datasets", strings.Join(d.Datasets, ","), "comma-separated `LIST` of datasets")
	if _, code, ok := parseArgs(fs, args, 0, "", stdout, stderr); !ok {
		return code
	}
	if *out == "" {
		fmt.Fprintln(stderr, "runner pretrain: --out is required")
		return 2
	}
	d.Datasets = strings.Split(*sets, ",")
	log := newLogger(stderr, false)
	m, err := miniclip.Pretrain(d, log)
	if err != nil {
		fmt.Fprintln(stderr, "runner pretrain:", err)
		return 1
	}
	if err := m.Save(*out); err != nil {
		fmt.Fprintln(stderr, "runner pretrain:", err)
		return 1
	}
	log.Info("wrote checkpoint", "path", *out)
	return 0
}
