package builtin

import (
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/framework/plugintest"
	"github.com/sglab/sglab/framework/task"
)

// small are the parameters that keep each built-in's conformance checks fast: short
// trainings of narrow nets, a few images per class. A built-in without an entry runs
// with its defaults.
var small = map[string]plugin.Params{
	"sglora":   {"epochs": int64(3), "encoder_hidden": int64(8), "prior_hidden": int64(8), "decoder_hidden": int64(8), "latent": int64(2), "condition_dim": int64(4)},
	"hypernet": {"epochs": int64(3), "hidden": int64(8)},
	"miniclip": {"train_per_class": int64(2), "test_per_class": int64(2), "batch_size": int64(10)},
}

// bad are values each built-in's own checks refuse by name (the kit adds a wrong type
// for every parameter and a value breaking each declared constraint).
var bad = map[string]plugin.Params{
	"glove":           {"lexical": 0.8, "vectors_path": "/nonexistent/glove.txt"}, // lexical + numeric > 1
	"dare":            {"lambda": 0.0},
	"task-arithmetic": {"lambda": 0.0},
	"ties":            {"lambda": 0.0},
}

// TestConformance runs the plugin kit's conformance suite of its kind over every
// built-in, through the protocol (plugintest.Connect) as the runner calls them.
func TestConformance(t *testing.T) {
	for _, e := range All() {
		t.Run(e.Kind+"/"+e.Name, func(t *testing.T) {
			common := plugintest.Common{Params: small[e.Name], Bad: bad[e.Name]}
			client := func(t testing.TB) *rpc.Client { return plugintest.Connect(t, e.New()) }
			switch e.Kind {
			case plugin.KindGenerator:
				plugintest.Generator(t, func(t testing.TB) plugin.Generator { return client(t).Generator() },
					plugintest.GeneratorOptions{Common: common})
			case plugin.KindEncoder:
				plugintest.Encoder(t, func(t testing.TB) plugin.Encoder { return client(t).Encoder() },
					plugintest.EncoderOptions{Common: common, Texts: []string{"handwritten digits with heavy noise", "inverted clothing photographs"}, Unknown: "qqzv"})
			case plugin.KindEvaluator:
				tk := task.Task{ID: "fashion-inverted", Description: "inverted clothing photographs", Dataset: "fashion", Domain: []task.Transform{{Name: "invert"}}}
				plugintest.Evaluator(t, func(t testing.TB) plugin.Evaluator { return client(t).Evaluator() },
					plugintest.EvaluatorOptions{Common: common, Task: tk, Range: &[2]float64{0, 100}})
			default:
				t.Fatalf("no conformance suite for kind %q", e.Kind)
			}
		})
	}
}
