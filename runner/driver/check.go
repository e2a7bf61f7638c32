package driver

import (
	"context"
	"errors"
	"github.com/sglab/sglab/framework/memory"
	"regexp"
	"slices"
	"strings"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/framework/task"
)

// Check starts every plugin the experiment names, hands each its parameters, asks the
// evaluator about every task and checks what the evaluator's adapters make of the
// training options, collecting every problem rather than the first, each at the line
// it is about: a parameter at its key (a swept value at its [[sweep]]), a task at its
// [[task]]. One process per plugin serves every method that names it. The plugins are
// stopped again before it returns. exp may be one that config.Load refused, with what
// could be read of it: problems of the file itself are Load's to report.
func Check(ctx context.Context, exp *config.Experiment, opt Options) []error {
	l := newLauncher(exp, opt, nil)
	var problems []error
	start := func(kind string, ref config.PluginRef) (*rpc.Client, plugin.Base) {
		if ref.Name == "" && ref.Path == "" {
			return nil, nil // the file does not say which plugin; Load reported it
		}
		c, b, err := l.start(ctx, kind, ref)
		if err != nil {
			problems = append(problems, ref.Where().Errorf("%v", err))
			return nil, nil
		}
		return c, b
	}
	if c, b := start(plugin.KindEncoder, exp.Encoder); c != nil {
		problems = append(problems, located(exp.Encoder, b.Configure(ctx, exp.Encoder.Params))...)
		c.Kill()
	}
	if c, _ := start(plugin.KindEvaluator, exp.Evaluator); c != nil {
		ev := c.Evaluator()
		bad := located(exp.Evaluator, ev.Configure(ctx, exp.Evaluator.Params))
		problems = append(problems, bad...)
		if len(bad) > 0 && !c.Exited() {
			// Judge the tasks with the defaults rather than not at all.
			bad = located(exp.Evaluator, ev.Configure(ctx, nil))
		}
		if len(bad) == 0 {
			for _, t := range checkedTasks(exp, usedTasks(exp)) {
				problems = append(problems, taskProblems(exp, t.ID, ev.CheckTask(ctx, t))...)
			}
			if info, err := ev.Info(ctx); err == nil {
				problems = append(problems, capacity(exp, info.Schema, memory.Physical())...)
			}
		}
		c.Kill()
	}
	// One process per generator plugin, configured in turn with each method's params.
	running := map[string]*rpc.Client{}
	for _, m := range exp.Methods {
		if m.Generator == nil || m.Generator.Name == "" && m.Generator.Path == "" {
			continue
		}
		key := identityKey(plugin.KindGenerator, *m.Generator)
		c := running[key]
		if c == nil || c.Exited() {
			if c, _ = start(plugin.KindGenerator, *m.Generator); c == nil {
				running[key] = nil
				continue
			}
			running[key] = c
		}
		// Located at its key, a problem needs no method name; the variants of a sweep
		// then repeat their base's problems word for word, and sortProblems drops them.
		problems = append(problems, located(*m.Generator, c.Generator().Configure(ctx, m.Params))...)
	}
	for _, c := range running {
		if c != nil {
			c.Kill()
		}
	}
	return sortProblems(exp, problems)
}

// paramName finds the parameter a line of a plugin's refusal is about: `parameter "k"`
// (params.Problems writes every problem so), or `parameters "k" ...`.
var paramName = regexp.MustCompile(`parameters? "([^"]+)"`)

// located turns a plugin's refusal of its parameters into one problem per line of its
// message, each at the line of the parameter it names (ref.ParamAt) or else at the line
// naming the plugin. Other failures (a crash, a timeout) are one problem at the plugin.
// A line that names a parameter is shown from that name on: what a plugin puts before
// it (its own name, on the first line only) would make the same problem read
// differently depending on which problem came first, and defeat sortProblems' dedup.
func located(ref config.PluginRef, err error) []error {
	return perLine(err, ref.Where(), func(line string) (config.Where, string, bool) {
		if m := paramName.FindStringSubmatchIndex(line); m != nil {
			at, ok := ref.ParamAt[line[m[2]:m[3]]]
			return at, line[m[0]:], ok
		}
		return config.Where{}, line, false
	})
}

// perLine splits a plugin's refusal into one problem per line of its message, at the
// place where says or else at w; any other failure is one problem at w.
func perLine(err error, w config.Where, where func(line string) (config.Where, string, bool)) []error {
	if err == nil {
		return nil
	}
	var ce *rpc.CallError
	var re *rpc.RemoteError
	if !errors.As(err, &ce) || !errors.As(err, &re) {
		return []error{w.Errorf("%v", err)}
	}
	var out []error
	for _, line := range strings.Split(re.Msg, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		at, line, ok := where(line)
		if !ok {
			at = w
		}
		out = append(out, at.Errorf("plugin %s (%s) %s: %s", ce.Plugin, ce.Kind, ce.Call, line))
	}
	return out
}

// taskProblems is the evaluator's refusal of a task, one problem per line, at the task.
func taskProblems(exp *config.Experiment, id string, err error) []error {
	return perLine(err, exp.TaskAt[id], func(line string) (config.Where, string, bool) { return config.Where{}, line, false })
}

// checkedTasks are the tasks validate asks the evaluator about: those a split uses and
// every task written in the experiment file itself, so that a task is judged even when
// the split naming it is broken (included catalogs may hold tasks for other evaluators).
func checkedTasks(exp *config.Experiment, used []task.Task) []task.Task {
	out := slices.Clone(used)
	for _, t := range exp.Tasks {
		if exp.TaskAt[t.ID].File == exp.File && !slices.ContainsFunc(out, func(u task.Task) bool { return u.ID == t.ID }) {
			out = append(out, t)
		}
	}
	return out
}

// configureError is a plugin's refusal of its parameters, located, as one error.
func configureError(ref config.PluginRef, err error) error {
	var errs config.Errors
	for _, p := range located(ref, err) {
		var e config.Error
		if errors.As(p, &e) {
			errs = append(errs, e)
		}
	}
	return errs
}

// sortProblems orders problems by file (the experiment's first), line and key, and
// drops repeats (swept methods share their base's parameters, and its problems).
func sortProblems(exp *config.Experiment, problems []error) []error {
	key := func(p error) (string, int, string) {
		var e config.Error
		if errors.As(p, &e) {
			f := e.File
			if f == exp.File {
				f = ""
			}
			return f, e.Line, p.Error()
		}
		return "\xff", 0, p.Error()
	}
	slices.SortStableFunc(problems, func(a, b error) int {
		fa, la, sa := key(a)
		fb, lb, sb := key(b)
		if c := strings.Compare(fa, fb); c != 0 {
			return c
		}
		if la != lb {
			return la - lb
		}
		return strings.Compare(sa, sb)
	})
	return slices.CompactFunc(problems, func(a, b error) bool { return a.Error() == b.Error() })
}

// capacity checks the training options of every method that trains (oracles, and the
// experts of generator methods) against the evaluator's adapters: a rank no layer can
// hold, and libraries or sample sets too big for memory.
func capacity(exp *config.Experiment, schema lora.Schema, mem int64) []error {
	if len(schema) == 0 {
		return nil
	}
	maxSeen, maxNovel := 0, 0
	for _, s := range exp.Splits {
		maxSeen, maxNovel = max(maxSeen, len(s.Seen)), max(maxNovel, len(s.Novel))
	}
	var out []error
	smallest := schema[0]
	for _, m := range schema[1:] {
		if min(m.In, m.Out) < min(smallest.In, smallest.Out) {
			smallest = m
		}
	}
	for _, m := range exp.Methods {
		if m.Reference == config.ZeroShot {
			continue
		}
		at := func(k string) config.Where {
			if w, ok := m.TrainAt[k]; ok {
				return w
			}
			return config.Where{File: m.File, Line: m.Line}
		}
		rank := m.Train.Rank
		if rank > min(smallest.In, smallest.Out) {
			out = append(out, at("rank").Errorf("rank %d exceeds the evaluator's smallest adapted layer (%s is %d×%d), so at most %d",
				rank, smallest.Name, smallest.Out, smallest.In, min(smallest.In, smallest.Out)))
			continue
		}
		p := int64(0) // parameters of one adapter at this rank
		for _, mod := range schema {
			r := mod.Rank
			if rank > 0 {
				r = rank
			}
			p += int64(r) * int64(mod.In+mod.Out)
		}
		experts := 1 // an oracle's snapshots
		if m.Generator != nil {
			experts = maxSeen
		}
		need := max(int64(experts)*int64(m.Train.Snapshots), int64(m.Samples)) * p * 4
		if mem > 0 && need > mem/2 {
			where := at("snapshots")
			if m.Generator != nil && int64(m.Samples) > int64(experts)*int64(m.Train.Snapshots) {
				where = config.Where{File: m.File, Line: m.Line}
			}
			out = append(out, where.Errorf("method %q: %d experts × %d snapshots (or %d samples) of %d parameters need %s of memory; this machine has %s",
				m.Name, experts, m.Train.Snapshots, m.Samples, p, memory.Format(need), memory.Format(mem)))
		}
	}
	return out
}
