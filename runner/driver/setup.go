package driver

import (
	"context"
	"errors"
	"fmt"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/memory"
	"github.com/sglab/sglab/framework/plugin"
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
