package plugintest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/params"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/task"
)

// The kit's checks must fail on a plugin with the fault each is about and pass on
// a plugin without faults, in process and over the protocol (Connect).

// unseeded stands for randomness not drawn from the seed.
var unseeded float32

type scaleConfig struct {
	Scale float64 `param:"scale" above:"0" doc:"multiplies the output"`
	Shift float64 `param:"shift" doc:"adds to the output"`
}

// fake is a plugin of every kind; fault breaks the part of the contract named by the
// check that must catch it.
type fake struct {
	kind   string
	fault  string
	cfg    scaleConfig
	schema lora.Schema
}

func (f *fake) Info(context.Context) (plugin.Info, error) {
	ps, err := params.Describe(&scaleConfig{Scale: 1})
	if err != nil {
		return plugin.Info{}, err
	}
	in := plugin.Info{Kind: f.kind, Name: "fake", Version: "1", Params: ps}
	if f.kind == plugin.KindEvaluator {
		in.Schema, in.Datasets = evalSchema, []string{"toy"}
		in.Metrics, in.Headline = []plugin.Metric{{Name: "score"}}, []string{"score"}
	}
	switch f.fault {
	case "info":
		in.Version = ""
	case "documented_defaults_accepted":
		in.Params[0].Default = "fast"
	case "declared_constraints_enforced": // declared, never checked
		in.Params[1].Max = "-1"
	}
	return in, nil
}

func (f *fake) Configure(_ context.Context, p plugin.Params) error {
	c := scaleConfig{Scale: 1}
	if f.fault == "unknown_parameter_refused_by_name" {
		delete(p, "no_such_parameter")
	}
	err := params.Decode(p, &c)
	var ps params.Problems
	if f.fault == "every_bad_parameter_reported_at_once" && errors.As(err, &ps) {
		err = ps[:1]
	}
	if err != nil {
		return err
	}
	f.cfg = c
	return nil
}

func (f *fake) Fit(_ context.Context, lib plugin.Library, _ uint64) error {
	f.schema = lib.Schema
	return nil
}

func (f *fake) Generate(_ context.Context, target []float32, n int, seed uint64) ([]*lora.Adapter, error) {
	if f.schema == nil && f.fault != "generate_before_fit_refused" {
		return nil, errors.New("Generate called before Fit")
	}
	out := make([]*lora.Adapter, n)
	for i := range out {
		out[i] = lora.New(f.schema)
		for j := range out[i].Params {
			out[i].Params[j] = float32(f.cfg.Scale)*target[j%len(target)] + float32(seed) + float32(i)
		}
		if f.fault == "same_seed_same_output" {
			unseeded++
			out[i].Params[0] += unseeded
		}
	}
	if f.fault == "n_samples_of_the_library_schema" {
		out[n-1].Params[0] = float32(math.NaN())
	}
	return out, nil
}

func (f *fake) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if strings.Contains(t, "qqzv") && f.fault != "unknown_words" && len(strings.Fields(t)) == 1 {
			return nil, fmt.Errorf("text %q: no known word", t)
		}
		out[i] = []float32{float32(len(t)), float32(strings.Count(t, "e")) + 1}
		switch f.fault {
		case "one_finite_vector_per_text":
			out[i][1] = float32(math.Inf(1))
		case "same_text_same_vector":
			out[i][0] += float32(i)
		}
	}
	return out, nil
}

var evalSchema = lora.Schema{{Name: "m", In: 2, Out: 2, Rank: 1, Alpha: 1}}

func (f *fake) CheckTask(_ context.Context, t task.Task) error {
	if t.Dataset != "toy" && f.fault != "check_task" {
		return fmt.Errorf("task %s: unknown dataset %q", t.ID, t.Dataset)
	}
	return nil
}

func (f *fake) Train(_ context.Context, t task.Task, seed uint64, o plugin.TrainOptions, out string) (plugin.TrainResult, error) {
	snaps := make([][]float32, o.Snapshots)
	for m := range snaps {
		snaps[m] = make([]float32, evalSchema.NumParams())
		for j := range snaps[m] {
			snaps[m][j] = float32(seed) + float32(j+m)/10
		}
		if f.fault == "same_seed_same_output" {
			unseeded++
			snaps[m][0] += unseeded
		}
	}
	if f.fault == "train_writes_snapshots_of_the_schema" {
		snaps = snaps[1:]
	}
	return plugin.TrainResult{Snapshots: o.Snapshots}, lora.WriteSnapshots(out, evalSchema, snaps, nil)
}

func (f *fake) Evaluate(_ context.Context, t task.Task, a *lora.Adapter, seed uint64) (map[string]float64, error) {
	score := 50.0
	if a != nil {
		score += float64(a.Params[0])
	}
	if f.fault == "every_metric_finite_in_range" {
		score = 101
	}
	return map[string]float64{"score": score}, nil
}

var toyTask = task.Task{ID: "toy-task", Description: "a toy task", Dataset: "toy"}

// TestChecksFailOnTheirFault runs every check of every suite, in process and over
// the protocol, on a fake without faults and on one with the fault it is about.
func TestChecksFailOnTheirFault(t *testing.T) {
	common := Common{Params: plugin.Params{"scale": 2.0}, Bad: plugin.Params{"shift": "far"}}
	type suite struct {
		kind   string
		checks []string
		run    func(t testing.TB, name string, newFake func(testing.TB) plugin.Base) error
	}
	suites := []suite{
		{plugin.KindGenerator, checkNames(generatorChecks(GeneratorOptions{Common: common})), func(t testing.TB, name string, newFake func(testing.TB) plugin.Base) error {
			return runCheck(t, generatorChecks(GeneratorOptions{Common: common}), name, func(t testing.TB) plugin.Generator { return newFake(t).(plugin.Generator) })
		}},
		{plugin.KindEncoder, checkNames(encoderChecks(EncoderOptions{Common: common})), func(t testing.TB, name string, newFake func(testing.TB) plugin.Base) error {
			return runCheck(t, encoderChecks(EncoderOptions{Common: common, Unknown: "qqzv", Dim: 2}), name, func(t testing.TB) plugin.Encoder { return newFake(t).(plugin.Encoder) })
		}},
		{plugin.KindEvaluator, checkNames(evaluatorChecks(EvaluatorOptions{Common: common})), func(t testing.TB, name string, newFake func(testing.TB) plugin.Base) error {
			o := EvaluatorOptions{Common: common, Task: toyTask, Train: plugin.TrainOptions{Epochs: 2, Snapshots: 2}, Range: &[2]float64{0, 100}}
			return runCheck(t, evaluatorChecks(o), name, func(t testing.TB) plugin.Evaluator { return newFake(t).(plugin.Evaluator) })
		}},
	}
	ways := map[string]func(t testing.TB, impl plugin.Base) plugin.Base{
		"in process":   func(_ testing.TB, impl plugin.Base) plugin.Base { return impl },
		"over Connect": func(t testing.TB, impl plugin.Base) plugin.Base { return Connect(t, impl).Base() },
	}
	for _, s := range suites {
		for way, wrap := range ways {
			for _, name := range s.checks {
				t.Run(s.kind+"/"+way+"/"+name, func(t *testing.T) {
					for _, fault := range []string{"", name} {
						newFake := func(t testing.TB) plugin.Base { return wrap(t, kindOnly(s.kind, &fake{kind: s.kind, fault: fault})) }
						err := s.run(t, name, newFake)
						if fault == "" && err != nil {
							t.Errorf("a plugin without faults fails: %v", err)
						}
						if fault != "" && err == nil {
							t.Errorf("a plugin with this fault passes")
						}
					}
				})
			}
		}
	}
}

// kindOnly hides the methods of the other kinds, so that Connect serves f as kind.
func kindOnly(kind string, f *fake) plugin.Base {
	switch kind {
	case plugin.KindGenerator:
		return struct{ plugin.Generator }{f}
	case plugin.KindEncoder:
		return struct{ plugin.Encoder }{f}
	}
	return struct{ plugin.Evaluator }{f}
}

func checkNames[P plugin.Base](cs []check[P]) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.name)
	}
	return out
}

func runCheck[P plugin.Base](t testing.TB, cs []check[P], name string, newPlugin func(testing.TB) P) error {
	for _, c := range cs {
		if c.name == name {
			return c.run(t, newPlugin)
		}
	}
	t.Fatalf("no check %q", name)
	return nil
}

// needsShift is a fake whose documented default of "shift" (0) is a placeholder:
// Configure refuses it, naming named, until a real value is given.
type needsShift struct {
	*fake
	named string
}

func (f needsShift) Configure(ctx context.Context, p plugin.Params) error {
	if v, ok := p["shift"]; !ok || fmt.Sprint(v) == "0" {
		return fmt.Errorf("parameter %q: give a real value", f.named)
	}
	return f.fake.Configure(ctx, p)
}

// TestPlaceholders checks documented_defaults_accepted with Common.Placeholders: the
// bare defaults must be refused for placeholder keys only, and accepted once the
// placeholders are put in.
func TestPlaceholders(t *testing.T) {
	placeholder := func(named string) func() plugin.Base {
		return func() plugin.Base {
			return struct{ plugin.Encoder }{needsShift{&fake{kind: plugin.KindEncoder}, named}}
		}
	}
	plain := func() plugin.Base { return struct{ plugin.Encoder }{&fake{kind: plugin.KindEncoder}} }
	tests := []struct {
		name         string
		newPlugin    func() plugin.Base
		placeholders plugin.Params
		pass         bool
	}{
		{"placeholder refused, then replaced", placeholder("shift"), plugin.Params{"shift": 1.5}, true},
		{"no placeholders given", placeholder("shift"), nil, false},
		{"defaults need no placeholder", plain, plugin.Params{"shift": 1.5}, false},
		{"placeholder not documented", placeholder("shift"), plugin.Params{"shift": 1.5, "offset": 1.0}, false},
		{"refusal names another key", placeholder("scale"), plugin.Params{"shift": 1.5}, false},
		{"replacement refused", placeholder("shift"), plugin.Params{"shift": "far"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := EncoderOptions{Common: Common{Params: plugin.Params{"shift": 1.0}, Placeholders: tt.placeholders}}
			for way, newPlugin := range map[string]func(testing.TB) plugin.Encoder{
				"in process":   func(testing.TB) plugin.Encoder { return tt.newPlugin().(plugin.Encoder) },
				"over Connect": func(t testing.TB) plugin.Encoder { return Connect(t, tt.newPlugin()).Encoder() },
			} {
				err := runCheck(t, encoderChecks(o), "documented_defaults_accepted", newPlugin)
				if tt.pass && err != nil {
					t.Errorf("%s: %v", way, err)
				}
				if !tt.pass && err == nil {
					t.Errorf("%s: passes", way)
				}
			}
		})
	}
}
