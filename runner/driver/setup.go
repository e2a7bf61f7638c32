package driver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/memory"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/framework/task"
)

// setup is what the set-up stage leaves for the later ones.
type setup struct {
	pool     *evaluatorPool
	evalInfo plugin.Info           // its Schema is the adapters' schema
	embed    map[string][]float32  // task id -> description embedding
	banks    map[string][]BankFile // seen tasks whose experts are PEFT folders
	encoder  process               // still running when setUp was asked to keep it
}

// setUp starts the encoder and jobs evaluators, checks every task and the banks with the
// evaluator and embeds every description. The encoder is killed once it has, unless
// keepEncoder (Fit embeds descriptions that are not the experiment's).
func setUp(ctx context.Context, exp *config.Experiment, start startFunc, jobs int, keepEncoder bool) (*setup, error) {
	enc, err := start(ctx, plugin.KindEncoder, exp.Encoder)
	if err != nil {
		return nil, err
	}
	s := &setup{}
	s.pool, err = newEvaluatorPool(ctx, jobs, func(ctx context.Context, index int) (process, error) {
		return start(ctx, plugin.KindEvaluator, exp.Evaluator, fmt.Sprintf("%s=%d", plugin.EnvWorkerIndex, index))
	})
	if err != nil {
		enc.Kill()
		return nil, err
	}
	err = s.pool.do(ctx, func(ev plugin.Evaluator) error {
		info, err := ev.Info(ctx)
		if err != nil {
			return err
		}
		if err := info.Schema.Validate(); err != nil {
			return fmt.Errorf("evaluator %s: its adapter schema: %w", exp.Evaluator, err)
		}
		s.evalInfo = info
		errs := capacity(exp, info.Schema, memory.Physical())
		if s.banks, err = digestBanks(exp); err != nil {
			errs = append(errs, err)
		}
		for _, t := range usedTasks(exp) {
			errs = append(errs, taskProblems(exp, t.ID, ev.CheckTask(ctx, t))...)
		}
		return errors.Join(sortProblems(exp, errs)...)
	})
	if err != nil {
		enc.Kill()
		return nil, err
	}
	if s.embed, err = embedTasks(ctx, enc.Encoder(), usedTasks(exp)); err != nil {
		enc.Kill()
		return nil, err
	}
	if keepEncoder {
		s.encoder = enc
	} else {
		enc.Kill() // not needed any more; frees its memory
	}
	return s, nil
}

// schema is the evaluator's adapter schema, which every adapter and expert must have.
func (s *setup) schema() lora.Schema { return s.evalInfo.Schema }

// metrics is what the evaluator's Info says of its metrics (see evaluatorMetrics).
func (s *setup) metrics() results.Metrics {
	ms, _ := evaluatorMetrics(s.evalInfo)
	return ms
}

// evaluate scores a (nil: the bare backbone) on t with a free evaluator (see
// evaluatorPool.evaluate). A result that lacks a metric the evaluator's Info declares
// is an error: the tables and statistics would miss it without saying so.
func (s *setup) evaluate(ctx context.Context, man *Manifest, t task.Task, a *lora.Adapter, seed uint64) (map[string]float64, error) {
	mt, err := s.pool.evaluate(ctx, man, t, a, seed)
	if err != nil {
		return nil, err
	}
	for _, m := range s.evalInfo.Metrics {
		if _, ok := mt[m.Name]; !ok {
			return nil, fmt.Errorf("evaluator %s returned no %s, a metric its Info declares", s.evalInfo.Name, m.Name)
		}
	}
	return mt, nil
}

// evaluatorMetrics is what an evaluator's Info says of its metrics. An evaluator older
// than the headline (protocol version 1 before Info's metric_specs and headline) says
// less, and is read as the runner then read every evaluator: with no metric, as the
// CLIP recalls; with metrics among which the recalls' headline ones, as having that
// headline. note says what was assumed ("" when nothing was).
func evaluatorMetrics(info plugin.Info) (ms results.Metrics, note string) {
	ms = results.Metrics{All: info.Metrics, Headline: info.Headline}
	if len(ms.Headline) > 0 {
		return ms, ""
	}
	legacy := results.LegacyMetrics
	if len(ms.All) == 0 {
		return legacy, "declares no metrics (it predates Info.Metrics and Headline); assumed the CLIP recalls " + strings.Join(legacy.Names(), ", ")
	}
	for _, h := range legacy.Headline {
		if !slices.Contains(ms.Names(), h) {
			return ms, ""
		}
	}
	ms.Headline = legacy.Headline
	return ms, "declares no headline metric (it predates Info.Headline); assumed " + strings.Join(legacy.Headline, ", ")
}

// embedTasks embeds the tasks' descriptions, by task id.
func embedTasks(ctx context.Context, enc plugin.Encoder, tasks []task.Task) (map[string][]float32, error) {
	texts := make([]string, len(tasks))
	for i, t := range tasks {
		texts[i] = t.Description
	}
	vecs, err := enc.Embed(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("embedding the task descriptions: %w", err)
	}
	embed := map[string][]float32{}
	for i, t := range tasks {
		embed[t.ID] = vecs[i]
	}
	return embed, nil
}

// usedTasks are the tasks some split names, in the experiment's order.
func usedTasks(exp *config.Experiment) []task.Task {
	used := map[string]bool{}
	for _, s := range exp.Splits {
		for _, id := range append(append([]string(nil), s.Seen...), s.Novel...) {
			used[id] = true
		}
	}
	var out []task.Task
	for _, t := range exp.Tasks {
		if used[t.ID] {
			out = append(out, t)
		}
	}
	return out
}
