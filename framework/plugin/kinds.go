// Package plugin is the contract between the runner and its plugins: the interfaces
// plugin authors implement, what they exchange (Info, Params, Library, TrainOptions)
// and the names of the calls. It knows nothing of the transport, so code that only
// reads configuration (framework/config) does not import gRPC; package rpc carries the
// contract across the process boundary (go-plugin), and plugin authors call rpc.Serve.
package plugin

import (
	"context"
	"errors"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/framework/task"
)

// Kinds of plugin.
const (
	KindEncoder   = "encoder"
	KindEvaluator = "evaluator"
	KindGenerator = "generator"
)

// Param documents one accepted parameter of Configure.
type Param struct {
	Name    string
	Type    string // "int", "float", "string", "bool", "[]float", ...
	Default string // as it would be written in TOML
	Doc     string // what it does and why the default

	// Constraints Configure checks, as written in TOML ("" for none); for a list they
	// apply to every element. Shown by `runner plugins`.
	Min, Max     string // inclusive bounds
	Above, Below string // exclusive bounds
	OneOf        []string
}

// Constraint says in a few symbols what values p accepts: "≥ 1", "(0, 1]",
// "one of "a", "b""; "" when anything of its type goes.
func (p Param) Constraint() string {
	var parts []string
	lo, hi := "", ""
	switch {
	case p.Min != "":
		lo = "[" + p.Min
	case p.Above != "":
		lo = "(" + p.Above
	}
	switch {
	case p.Max != "":
		hi = p.Max + "]"
	case p.Below != "":
		hi = p.Below + ")"
	}
	switch {
	case lo != "" && hi != "":
		parts = append(parts, lo+", "+hi)
	case p.Min != "":
		parts = append(parts, "≥ "+p.Min)
	case p.Above != "":
		parts = append(parts, "> "+p.Above)
	case p.Max != "":
		parts = append(parts, "≤ "+p.Max)
	case p.Below != "":
		parts = append(parts, "< "+p.Below)
	}
	if len(p.OneOf) > 0 {
		parts = append(parts, "one of "+strings.Join(p.OneOf, ", "))
	}
	return strings.Join(parts, "; ")
}

// Metric describes one metric an evaluator's Evaluate returns.
type Metric = results.Metric

// Info is what a plugin says about itself.
type Info struct {
	Kind        string
	Name        string
	Version     string
	Description string
	Params      []Param

	// Evaluators only.
	Schema     lora.Schema // the adapters it accepts and produces
	Datasets   []string    // datasets it can serve
	Transforms []string    // domain transforms it knows
	// Metrics are what Evaluate returns, in the order tables show them; Headline names
	// those the reports' statistics and comparisons use, the primary first (it picks
	// the best adapter and is the transfer diagnostic's default).
	Metrics  []Metric
	Headline []string
	// Backbone names the model the adapters apply to, as a PEFT config's
	// base_model_name_or_path does (a Hugging Face id or a path); optional.
	Backbone string
}

// Params is a plugin's TOML block, decoded to plain Go values (string, bool, int64,
// float64, []any, map[string]any).
type Params = map[string]any

// Base is common to every kind.
type Base interface {
	Info(ctx context.Context) (Info, error)
	// Configure applies the plugin's parameters. Unknown keys and bad values are errors
	// whose message names the key.
	Configure(ctx context.Context, p Params) error
}

// Encoder maps task descriptions to semantic vectors.
type Encoder interface {
	Base
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// TrainOptions control expert and oracle training.
type TrainOptions struct {
	Epochs    int // training epochs
	Snapshots int // keep the last M epochs' adapters (M ≤ Epochs)
	Rank      int // LoRA rank; 0 means the evaluator's default
	// InitSeed seeds the adapter's initialization, apart from the training seed (batch
	// order, data): the runner gives every expert and oracle of an experiment seed the
	// same InitSeed, so the library lives in one aligned parameter space.
	InitSeed uint64
}

// TrainResult describes a finished training run.
type TrainResult struct {
	Snapshots int                // how many were written
	Metrics   map[string]float64 // e.g. final training loss
}

// Evaluator owns the backbone and the data.
type Evaluator interface {
	Base
	// CheckTask reports whether the evaluator can serve t (known dataset, transforms and
	// parameters), with an error naming the task and the offending part.
	CheckTask(ctx context.Context, t task.Task) error
	// Train fine-tunes a LoRA on t and writes the last opts.Snapshots epochs' adapters to
	// outPath as a snapshots file (lora.WriteSnapshots).
	Train(ctx context.Context, t task.Task, seed uint64, opts TrainOptions, outPath string) (TrainResult, error)
	// Evaluate scores adapter a (nil for the bare backbone) on t's test data.
	Evaluate(ctx context.Context, t task.Task, a *lora.Adapter, seed uint64) (map[string]float64, error)
}

// Expert is one entry of a generator's library. Snapshots travel by reference: the
// file at SnapshotPath holds the expert's M snapshots (lora.ReadSnapshots).
type Expert struct {
	ID           string
	Description  string
	Embedding    []float32
	SnapshotPath string
}

// Library is what a generator fits on.
type Library struct {
	Schema  lora.Schema
	Experts []Expert
}

// Generator turns a library and a target description embedding into adapters.
type Generator interface {
	Base
	Fit(ctx context.Context, lib Library, seed uint64) error
	// Generate returns n adapters for the target embedding; the same seed gives the same
	// adapters.
	Generate(ctx context.Context, target []float32, n int, seed uint64) ([]*lora.Adapter, error)
}

// FitSaver is what a generator implements to save its fitted state and load it back
// instead of fitting again (optional: SaveFit and LoadFit of protocol version 1 answer
// UNIMPLEMENTED without it). LoadFit gets the library the fit was made on, as Fit got
// it; after LoadFit, Generate gives what it gave after the Fit that SaveFit saved.
type FitSaver interface {
	SaveFit(ctx context.Context, path string) error
	LoadFit(ctx context.Context, path string, lib Library) error
}

// ErrCannotSaveFit is a generator without SaveFit and LoadFit.
var ErrCannotSaveFit = errors.New("cannot save its fit: the generator does not implement SaveFit and LoadFit")

// LoggerSetter is what a plugin implements to log: rpc.Serve hands it the plugin
// process's logger (JSON on stderr, relayed into the runner's log). Until then, as in
// tests that call a plugin in process, a plugin logs nowhere.
type LoggerSetter interface {
	SetLogger(l hclog.Logger)
}
