package driver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/framework/task"
	"github.com/sglab/sglab/internal/generator/similarity"
)

// TransferManifestFile is the manifest of a transfer diagnostic, beside its outputs.
const TransferManifestFile = "transfer_manifest.json"

// TransferOptions control the transfer diagnostic.
type TransferOptions struct {
	Options
	Metric string // the evaluator metric compared; "" for the evaluator's primary headline metric
}

// Transfer measures whether the experiment's world supports zero-shot adaptation (DESIGN.md
// §4): does an expert whose description is near a task's help that task? For every seed
// and split it takes every seen task's expert from the expert cache (the entries `run`
// uses, trained with the experiment's [train] options; methods and their sweeps are
// ignored), embeds every description, and scores the bare backbone and every expert's
// prototype μ (the mean of its snapshots, which the merging generators combine) on every
// task of the split, seen and novel. An evaluation that fails, or lacks the metric, is an
// error naming the expert, the target and the seed. It writes TransferManifestFile into the
// output folder; reports.WriteTransfer turns the measurement into statistics and files.
func Transfer(ctx context.Context, exp *config.Experiment, opt TransferOptions) (*results.Transfer, error) {
	s, err := newSession(exp, opt.Options)
	if err != nil {
		return nil, err
	}
	defer s.release()
	experts, pairs := transferWork(exp)
	prog := newProgress(s.opt.Progress, s.opt.Log)
	defer prog.finish()
	t0 := time.Now()
	set, err := setUp(ctx, exp, s.plugins.configured, s.opt.Jobs, false)
	if err != nil {
		return nil, err
	}
	s.man.setBanks(set.banks)
	s.man.setMetrics(set.metrics())
	s.man.addPhase("setup", time.Since(t0))
	store := newExpertStore(s.cache, s.opt.Fresh, exp, set.evalInfo, set.banks, set.pool, s.opt.Log)
	store.man, store.prog = s.man, prog
	var needs []expertNeed
	for _, seed := range exp.Seeds {
		needs = append(needs, expertsOf(exp, experts, seed, exp.Train)...)
	}
	trainings, cached, err := countExperts(store, needs)
	if err != nil {
		return nil, err
	}
	prog.stage("experts", "", trainings, cached)
	prog.stage("evaluations", "", len(pairs)*len(exp.Seeds), 0)
	ev := &transferEvaluations{exp: exp, set: set, man: s.man, prog: prog}

	declared := set.metrics()
	if opt.Metric == "" {
		opt.Metric = declared.Primary().Name
	}
	if !slices.Contains(declared.Names(), opt.Metric) {
		return nil, fmt.Errorf("transfer: evaluator %s has no metric %q (its metrics: %s)", exp.Evaluator, opt.Metric, strings.Join(declared.Names(), ", "))
	}
	m := &results.Transfer{Experiment: exp.Name, ConfigHash: exp.Hash(), Metric: opt.Metric, Seeds: exp.Seeds,
		LowerIsBetter: declared.Lookup(opt.Metric).LowerIsBetter}
	for _, sp := range exp.Splits {
		ts := results.TransferSplit{Name: sp.Name, Seen: slices.Clone(sp.Seen), Novel: slices.Clone(sp.Novel)}
		targets := ts.Targets()
		for _, e := range sp.Seen {
			row := make([]float64, len(targets))
			for j, t := range targets {
				if row[j], err = similarity.Cosine(set.embed[e], set.embed[t]); err != nil {
					return nil, fmt.Errorf("split %s: descriptions of %s and %s: %w", sp.Name, e, t, err)
				}
			}
			ts.Similarity = append(ts.Similarity, row)
		}
		m.Splits = append(m.Splits, ts)
	}
	// The bare backbone goes first: it needs no expert, so a metric the evaluator does not
	// report fails before any training.
	zeroShot := slices.DeleteFunc(slices.Clone(pairs), func(p transferPair) bool { return p.expert != "" })
	withExpert := slices.DeleteFunc(pairs, func(p transferPair) bool { return p.expert == "" })
	for _, seed := range exp.Seeds {
		scores := map[transferPair]float64{}
		if err := ev.scores(ctx, scores, zeroShot, nil, seed, opt.Metric); err != nil {
			return nil, err
		}
		protos, err := prototypes(ctx, store, exp, experts, seed)
		if err != nil {
			return nil, err
		}
		if err := ev.scores(ctx, scores, withExpert, protos, seed, opt.Metric); err != nil {
			return nil, err
		}
		for i := range m.Splits {
			ts := &m.Splits[i]
			targets := ts.Targets()
			zs := make([]float64, len(targets))
			for j, t := range targets {
				zs[j] = scores[transferPair{target: t}]
			}
			mat := make([][]float64, len(ts.Seen))
			for e, id := range ts.Seen {
				mat[e] = make([]float64, len(targets))
				for j, t := range targets {
					mat[e][j] = scores[transferPair{expert: id, target: t}]
				}
			}
			ts.ZeroShot = append(ts.ZeroShot, zs)
			ts.Expert = append(ts.Expert, mat)
		}
	}
	end := time.Now().UTC()
	s.man.End = &end
	if err := s.man.write(filepath.Join(s.out, TransferManifestFile)); err != nil {
		return nil, err
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return m, nil
}

// transferPair is one evaluation of a seed: an expert ("" for the bare backbone) on a
// target task.
type transferPair struct{ expert, target string }

// transferWork lists the experts (every split's seen tasks) and the distinct evaluations
// of one seed. An expert depends on its task, seed and training options, not on the
// split, so a pair shared by several splits is evaluated once.
func transferWork(exp *config.Experiment) (experts []string, pairs []transferPair) {
	seen := map[transferPair]bool{}
	add := func(p transferPair) {
		if !seen[p] {
			seen[p] = true
			pairs = append(pairs, p)
		}
	}
	for _, sp := range exp.Splits {
		targets := append(append([]string(nil), sp.Seen...), sp.Novel...)
		for _, e := range append([]string{""}, sp.Seen...) {
			if e != "" && !slices.Contains(experts, e) {
				experts = append(experts, e)
			}
			for _, t := range targets {
				add(transferPair{e, t})
			}
		}
	}
	return experts, pairs
}

// prototypes gets every expert of a seed, trained with the experiment's [train] options,
// through the experts stage (training those not cached) and returns their prototypes.
func prototypes(ctx context.Context, store *expertStore, exp *config.Experiment, experts []string, seed uint64) (map[string]*lora.Adapter, error) {
	needs := expertsOf(exp, experts, seed, exp.Train)
	if err := trainExperts(ctx, store, store.jobs(needs)); err != nil {
		return nil, err
	}
	paths := map[string]string{}
	var errs []error
	for _, n := range needs {
		path, err := store.trained(n.task, seed, n.train)
		if err != nil {
			errs = append(errs, fmt.Errorf("expert %s (seed %d): %w", n.task.ID, seed, err))
		}
		paths[n.task.ID] = path
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := map[string]*lora.Adapter{}
	for _, id := range experts { // one file in memory at a time
		a, err := prototype(paths[id], store.schema)
		if err != nil {
			return nil, fmt.Errorf("expert %s (seed %d): %w", id, seed, err)
		}
		out[id] = a
	}
	return out, nil
}

// prototype is an expert's μ: the element-wise mean of its snapshots, summed in float64
// in snapshot order, as internal/generator/library computes it for the generators.
func prototype(path string, schema lora.Schema) (*lora.Adapter, error) {
	s, snaps, err := readSnapshots(path, schema)
	if err != nil {
		return nil, err
	}
	sum := make([]float64, len(snaps[0]))
	for _, v := range snaps {
		for j, x := range v {
			sum[j] += float64(x)
		}
	}
	mu := make([]float32, len(sum))
	for j, v := range sum {
		mu[j] = float32(v / float64(len(snaps)))
	}
	return lora.FromFlat(s, mu)
}

// transferEvaluations scores experts' prototypes (and the bare backbone) on the
// evaluator pool for the transfer diagnostic.
type transferEvaluations struct {
	exp  *config.Experiment
	set  *setup
	man  *Manifest
	prog *progress
}

// scores runs the evaluations of pairs for a seed in parallel on the evaluator pool and
// adds their metric to scores. The first failure cancels the rest and is returned,
// naming the expert, target and seed.
func (r *transferEvaluations) scores(ctx context.Context, scores map[transferPair]float64, pairs []transferPair, protos map[string]*lora.Adapter, seed uint64, metric string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for _, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t, _ := r.exp.Task(p.target)
			start := time.Now()
			v, err := r.score(ctx, t, protos[p.expert], seed, metric)
			r.prog.done("evaluations", "", time.Since(start))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil && ctx.Err() == nil {
					who := "the zero-shot backbone"
					if p.expert != "" {
						who = "expert " + p.expert
					}
					first = fmt.Errorf("evaluating %s on target %s (seed %d): %w", who, p.target, seed, err)
				}
				cancel()
				return
			}
			scores[p] = v
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// score is one evaluation's metric, which must be there and finite.
func (r *transferEvaluations) score(ctx context.Context, t task.Task, a *lora.Adapter, seed uint64, metric string) (float64, error) {
	mt, err := r.set.evaluate(ctx, r.man, t, a, seed)
	if err != nil {
		return 0, err
	}
	v, ok := mt[metric]
	if !ok {
		have := make([]string, 0, len(mt))
		for k := range mt {
			have = append(have, k)
		}
		sort.Strings(have)
		return 0, fmt.Errorf("the evaluator reports no metric %q (it reports %s)", metric, strings.Join(have, ", "))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("the evaluator reports %s = %v", metric, v)
	}
	return v, nil
}
