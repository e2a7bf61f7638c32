package driver

import (
	"context"
	"fmt"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/plugin"
)

// Check starts every plugin the experiment names, hands each its parameters and asks
// the evaluator about every task, collecting all problems rather than the first. The
// plugins are stopped again before it returns.
func Check(ctx context.Context, exp *config.Experiment, opt Options) []error {
	opt = opt.withDefaults()
	r := &runner{exp: exp, opt: opt, log: opt.Log}
	var problems []error
	start := func(kind string, ref config.PluginRef) *plugin.Client {
		c, err := r.startConfigured(ctx, kind, ref)
		if err != nil {
			problems = append(problems, err)
			return nil
		}
		return c
	}
	if c := start(plugin.KindEncoder, exp.Encoder); c != nil {
		c.Kill()
	}
	if c := start(plugin.KindEvaluator, exp.Evaluator); c != nil {
		ev := c.Evaluator()
		for _, t := range r.usedTasks() {
			if err := ev.CheckTask(ctx, t); err != nil {
				problems = append(problems, fmt.Errorf("task %s: %w", t.ID, err))
			}
		}
		c.Kill()
	}
	for _, m := range exp.Methods {
		if m.Generator == nil {
			continue
		}
		c, err := r.startConfigured(ctx, plugin.KindGenerator, *m.Generator)
		if err != nil {
			problems = append(problems, fmt.Errorf("method %q: %w", m.Name, err))
			continue
		}
		c.Kill()
	}
	return problems
}
