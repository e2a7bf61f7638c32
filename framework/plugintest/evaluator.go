package plugintest

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/framework/task"
)

// EvaluatorOptions fit the evaluator suite to an evaluator.
type EvaluatorOptions struct {
	Common
	// Task is one the evaluator serves, small enough to train on in a test.
	Task task.Task
	// Train sizes the training runs; default one epoch, one snapshot.
	Train plugin.TrainOptions
	// Range, when set, bounds every metric: [min, max].
	Range *[2]float64
}

// Evaluator runs the conformance suite of evaluators, each check on a fresh plugin
// from newEval:
//
//   - info (with a valid non-empty schema, datasets, and metrics with a headline, as
//     the runner checks them), the checks of Configure, as for generators;
//   - check_task: Task accepted; Task on an unknown dataset refused with an error
//     naming the task and the dataset;
//   - train_writes_snapshots_of_the_schema: Train writes the snapshots asked for, of
//     Info's schema, finite, and says how many;
//   - every_metric_finite_in_range: Evaluate of the bare backbone and of an adapter
//     returns every metric Info declares, finite and within Range;
//   - same_seed_same_output: Train from fresh plugins with the same seed writes the
//     same snapshots bit for bit; Evaluate with the same seed gives the same scores.
func Evaluator(t *testing.T, newEval func(testing.TB) plugin.Evaluator, o EvaluatorOptions) {
	t.Helper()
	runChecks(t, evaluatorChecks(o), newEval)
}

func evaluatorChecks(o EvaluatorOptions) []check[plugin.Evaluator] {
	if o.Train.Epochs == 0 {
		o.Train.Epochs = 1
	}
	if o.Train.Snapshots == 0 {
		o.Train.Snapshots = 1
	}
	const seed = 3
	train := func(t testing.TB, ev plugin.Evaluator) (lora.Schema, [][]float32, error) {
		out := filepath.Join(t.TempDir(), "snapshots.safetensors")
		res, err := ev.Train(ctx, o.Task, seed, o.Train, out)
		if err != nil {
			return nil, nil, fmt.Errorf("Train(%s, %+v): %v", o.Task.ID, o.Train, err)
		}
		s, snaps, _, err := lora.ReadSnapshots(out)
		if err != nil {
			return nil, nil, fmt.Errorf("Train(%s) wrote no snapshots file one can read: %v", o.Task.ID, err)
		}
		if res.Snapshots != len(snaps) || len(snaps) != o.Train.Snapshots {
			return nil, nil, fmt.Errorf("Train(%s) asked for %d snapshots: wrote %d and says %d", o.Task.ID, o.Train.Snapshots, len(snaps), res.Snapshots)
		}
		return s, snaps, nil
	}
	return append(baseChecks[plugin.Evaluator](plugin.KindEvaluator, o.Common, checkEvaluatorInfo),
		check[plugin.Evaluator]{"check_task", func(t testing.TB, newEval func(testing.TB) plugin.Evaluator) error {
			ev, err := configured(t, newEval, o.Common)
			if err != nil {
				return err
			}
			if err := ev.CheckTask(ctx, o.Task); err != nil {
				return fmt.Errorf("CheckTask(%s): %v", o.Task.ID, err)
			}
			bad := o.Task
			bad.ID, bad.Dataset = "conformance-bad", "no-such-dataset"
			err = ev.CheckTask(ctx, bad)
			if err == nil || !strings.Contains(err.Error(), bad.ID) || !strings.Contains(err.Error(), bad.Dataset) {
				return fmt.Errorf("CheckTask of task %s on dataset %s: want an error naming both, got %v", bad.ID, bad.Dataset, err)
			}
			return nil
		}},
		check[plugin.Evaluator]{"train_writes_snapshots_of_the_schema", func(t testing.TB, newEval func(testing.TB) plugin.Evaluator) error {
			ev, err := configured(t, newEval, o.Common)
			if err != nil {
				return err
			}
			in, err := ev.Info(ctx)
			if err != nil {
				return fmt.Errorf("Info: %v", err)
			}
			s, snaps, err := train(t, ev)
			if err != nil {
				return err
			}
			if o.Train.Rank == 0 {
				if err := in.Schema.Compatible(s); err != nil {
					return fmt.Errorf("Train(%s) wrote snapshots of another schema than Info's: %v", o.Task.ID, err)
				}
			}
			for m, v := range snaps {
				if err := (&lora.Adapter{Schema: s, Params: v}).CheckFinite(); err != nil {
					return fmt.Errorf("snapshot %d: %v", m, err)
				}
			}
			return nil
		}},
		check[plugin.Evaluator]{"every_metric_finite_in_range", func(t testing.TB, newEval func(testing.TB) plugin.Evaluator) error {
			ev, err := configured(t, newEval, o.Common)
			if err != nil {
				return err
			}
			in, err := ev.Info(ctx)
			if err != nil {
				return fmt.Errorf("Info: %v", err)
			}
			for _, a := range []*lora.Adapter{nil, smallAdapter(in.Schema)} {
				m, err := ev.Evaluate(ctx, o.Task, a, seed)
				if err != nil {
					return fmt.Errorf("Evaluate(%s, %s): %v", o.Task.ID, adapterName(a), err)
				}
				if err := checkMetrics(m, in.Metrics, o.Range); err != nil {
					return fmt.Errorf("Evaluate(%s, %s): %v", o.Task.ID, adapterName(a), err)
				}
			}
			return nil
		}},
		check[plugin.Evaluator]{"same_seed_same_output", func(t testing.TB, newEval func(testing.TB) plugin.Evaluator) error {
			var first [][]float32
			var s lora.Schema
			for i := range 2 {
				ev, err := configured(t, newEval, o.Common)
				if err != nil {
					return err
				}
				si, snaps, err := train(t, ev)
				if err != nil {
					return err
				}
				if i == 0 {
					first, s = snaps, si
					continue
				}
				for m := range snaps {
					if err := sameBits(first[m], snaps[m]); err != nil {
						return fmt.Errorf("Train(%s) with seed %d twice, snapshot %d: %v", o.Task.ID, seed, m, err)
					}
				}
				a := &lora.Adapter{Schema: s, Params: first[len(first)-1]}
				m1, err := ev.Evaluate(ctx, o.Task, a, seed)
				if err != nil {
					return fmt.Errorf("Evaluate: %v", err)
				}
				m2, err := ev.Evaluate(ctx, o.Task, a, seed)
				if err != nil {
					return fmt.Errorf("Evaluate: %v", err)
				}
				if !maps.EqualFunc(m1, m2, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }) {
					return fmt.Errorf("Evaluate(%s) with seed %d twice: %v, then %v", o.Task.ID, seed, m1, m2)
				}
			}
			return nil
		}},
	)
}

func checkEvaluatorInfo(in plugin.Info) error {
	var bad []string
	if len(in.Schema) == 0 {
		bad = append(bad, "no schema")
	} else if err := in.Schema.Validate(); err != nil {
		bad = append(bad, fmt.Sprintf("schema: %v", err))
	}
	if len(in.Datasets) == 0 {
		bad = append(bad, "no datasets")
	}
	// The runner's own check of what an evaluator declares (metrics, headline).
	if err := (results.Metrics{All: in.Metrics, Headline: in.Headline}).Check("Info"); err != nil {
		bad = append(bad, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// checkMetrics checks that m has every declared metric, each finite and within r.
func checkMetrics(m map[string]float64, declared []plugin.Metric, r *[2]float64) error {
	for _, d := range declared {
		name := d.Name
		v, ok := m[name]
		if !ok {
			return fmt.Errorf("no %q among %v, which Info declares", name, slices.Sorted(maps.Keys(m)))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s = %v", name, v)
		}
		if r != nil && (v < r[0] || v > r[1]) {
			return fmt.Errorf("%s = %v, outside [%v, %v]", name, v, r[0], r[1])
		}
	}
	return nil
}

// smallAdapter is an adapter of s with small seeded values, as a trained one has.
func smallAdapter(s lora.Schema) *lora.Adapter {
	a := lora.New(s)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range a.Params {
		a.Params[i] = 0.01 * float32(r.NormFloat64())
	}
	return a
}

func adapterName(a *lora.Adapter) string {
	if a == nil {
		return "no adapter"
	}
	return "an adapter"
}
