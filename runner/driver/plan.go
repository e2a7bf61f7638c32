package driver

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/memory"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/results"
)

// Stages of a plan, in the order a run meets them.
const (
	StageExperts   = "expert trainings"
	StageOracles   = "oracle trainings"
	StageFits      = "generator fits"
	StageTrials    = "trials"
	StageRefs      = "references"
	StageDiversity = "diversity"
)

// Plan is what a run of an experiment would do now, before it starts: per stage the
// work the experiment holds, what the expert cache and the journal already hold, what
// remains, and an estimate of its time from what this machine measured before.
type Plan struct {
	Experiment string   `json:"experiment"`
	Out        string   `json:"out"`
	Cache      string   `json:"cache"`
	Stages     []Stage  `json:"stages"`
	Stale      int      `json:"stale"`     // journal rows a run would supersede (configuration changed)
	StaleWhy   []string `json:"stale_why"` // per method, split and reason
	Seconds    float64  `json:"seconds"`   // the stages' estimates summed, those with one
	Unknown    []string `json:"unknown"`   // stages with work left and no estimate
	Warnings   []string `json:"warnings"`
}

// Stage is one kind of work of a plan. Total counts the experiment's work of the kind,
// Done what the cache (trainings) or the journal (the rest) already holds, Remaining
// what a run would do now (a training only when pending work needs it, a fit only for
// a library with unfinished trials). Each is the work seconds of one unit as measured
// before (nil: unknown) and Seconds Each × Remaining; Source says where Each comes from.
type Stage struct {
	Name      string   `json:"name"`
	Total     int      `json:"total"`
	Done      int      `json:"done"`
	Remaining int      `json:"remaining"`
	Each      *float64 `json:"seconds_each"`
	Seconds   *float64 `json:"seconds"`
	Source    string   `json:"source"`
}

// PlanRun tells what Run would do with exp and opt, without doing it: it writes nothing
// (the output folder is not even created). It starts the evaluator (configured, for its
// adapter schema and identity) and asks the encoder and generators their Info, as Run
// does, because the expert cache's keys and the journal rows' identities depend on what
// the plugins say of themselves; no training, fit or evaluation starts.
func PlanRun(ctx context.Context, exp *config.Experiment, opt Options) (*Plan, error) {
	s := newIdleSession(exp, opt)
	store, ids, err := s.lookingStore(ctx)
	if err != nil {
		return nil, err
	}
	p := &Plan{Experiment: exp.Name, Out: s.out, Cache: s.cache, Warnings: []string{}, StaleWhy: []string{}}
	for _, e := range capacity(exp, store.schema, memory.Physical()) {
		p.Warnings = append(p.Warnings, e.Error())
	}
	// The folder's journal and the shards' of a Slurm run, as a run would merge them.
	rows, err := results.Merge(Journals(s.out)) // missing journals are skipped
	if err != nil {
		return nil, err
	}
	finished := map[string]bool{}
	keep, stale, groups := judge(rows, ids.row)
	for _, row := range keep {
		finished[row.Key()] = true
	}
	p.Stale = len(stale)
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		g := groups[k]
		p.StaleWhy = append(p.StaleWhy, fmt.Sprintf("%s on split %s: %d rows (changed: %s)", g.method, g.split, g.n, g.why))
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	done := func(row results.Row) bool { return finished[row.Key()] }
	st, err := planStages(exp, store, done)
	if err != nil {
		return nil, err
	}

	// Measurements of the output folder, else of the experiment's own output folder.
	est := measure(exp, store.dir, s.out, rows)
	if other := exp.Output; other != "" && filepath.Clean(other) != filepath.Clean(s.out) {
		rows, _ := results.Read(filepath.Join(other, results.FileName))
		for n, e := range measure(exp, store.dir, other, rows) {
			if est[n].each == nil && e.each != nil {
				est[n] = e
			}
		}
	}
	p.Unknown = []string{}
	for _, n := range []string{StageExperts, StageOracles, StageFits, StageTrials, StageRefs, StageDiversity} {
		s := st[n]
		e := est[n]
		s.Each, s.Source = e.each, e.source
		if s.Remaining == 0 {
			s.Seconds = new(float64)
		} else if s.Each != nil {
			v := *s.Each * float64(s.Remaining)
			s.Seconds = &v
		}
		if s.Seconds == nil {
			p.Unknown = append(p.Unknown, s.Name)
		} else {
			p.Seconds += *s.Seconds
		}
		p.Stages = append(p.Stages, *s)
	}
	return p, ctx.Err()
}

// lookingStore is the expert store of the session's cache as a run would set it up,
// one that only looks (it trains nothing), and the identities a run gives rows: it
// starts the evaluator (configured) for its adapter schema and identity, on which the
// cache's keys and the rows' identities depend, and digests the banks.
func (s *session) lookingStore(ctx context.Context) (*expertStore, identifier, error) {
	c, err := s.plugins.startConfigured(ctx, plugin.KindEvaluator, s.exp.Evaluator)
	if err != nil {
		return nil, identifier{}, err
	}
	info, err := c.Evaluator().Info(ctx)
	c.Kill()
	if err != nil {
		return nil, identifier{}, err
	}
	banks, err := digestBanks(s.exp)
	if err != nil {
		return nil, identifier{}, err
	}
	store := newExpertStore(s.cache, s.opt.Fresh, s.exp, info, banks, nil, s.opt.Log)
	return store, identifier{exp: s.exp, banks: banks, plugin: s.plugins.identity}, nil
}

// planStages counts the work of each stage: what the experiment holds, what the journal
// (done) or the expert cache already holds, and what a run would do now.
func planStages(exp *config.Experiment, store *expertStore, done func(results.Row) bool) (map[string]*Stage, error) {
	st := map[string]*Stage{}
	for _, n := range []string{StageExperts, StageOracles, StageFits, StageTrials, StageRefs, StageDiversity} {
		st[n] = &Stage{Name: n}
	}
	// count adds one unit of work of stage to the plan.
	count := func(stage string, finished, needed bool) {
		s := st[stage]
		s.Total++
		if finished {
			s.Done++
		} else if needed {
			s.Remaining++
		}
	}
	for _, seed := range exp.Seeds {
		for _, split := range exp.Splits {
			for _, m := range exp.Methods {
				samples, stage := m.Samples, StageTrials
				if m.Reference != "" {
					samples, stage = 1, StageRefs
				}
				for _, id := range split.Novel {
					for s := 0; s < samples; s++ {
						count(stage, done(methodRow(m, split.Name, id, seed, s)), true)
					}
					if m.Reference != config.ZeroShot {
						div := methodRow(m, split.Name, id, seed, 0)
						div.Kind = results.KindDiversity
						count(StageDiversity, done(div), true)
					}
				}
				if m.Generator != nil {
					count(StageFits, len(pendingTasks(m, split, seed, done)) == 0, true)
				}
			}
		}
	}
	// Trainings, by cache entry: each is trained once however many libraries need it.
	type training struct {
		stage          string
		cached, needed bool
	}
	trainings := map[string]*training{}
	var order []string
	for _, n := range expertNeeds(exp, done) {
		key, path, opts, err := store.entry(n.task, n.seed, n.train)
		if err != nil {
			return nil, err
		}
		tr := trainings[key]
		if tr == nil {
			tr = &training{stage: n.stage, cached: store.cached(n.task, path, opts)}
			trainings[key] = tr
			order = append(order, key)
		}
		tr.needed = tr.needed || n.pending
	}
	for _, key := range order {
		tr := trainings[key]
		count(tr.stage, tr.cached, tr.needed)
	}
	return st, nil
}

type estimate struct {
	each   *float64
	source string
}

// measure estimates the work seconds of one unit of each stage from what the results
// folder dir records: the manifest's phase timings (training and fitting, against the
// cache entries written meanwhile) and the journal's rows (given) seconds per trial.
func measure(exp *config.Experiment, expertsDir, dir string, rows []results.Row) map[string]estimate {
	unknown := "unknown: nothing measured yet"
	est := map[string]estimate{}
	for _, n := range []string{StageExperts, StageOracles, StageFits, StageTrials, StageRefs} {
		est[n] = estimate{source: unknown}
	}
	est[StageDiversity] = estimate{source: "not measured: computed by the runner from the samples, no plugin call"}
	manifest := filepath.Join(dir, ManifestFile)
	invs, _ := ReadManifest(manifest)

	// Trainings: the manifests' train phase over the cache entries written meanwhile.
	var trainSec float64
	trained := 0
	entries, _ := os.ReadDir(expertsDir)
	for _, inv := range invs {
		if inv.End == nil || inv.Phases["train"] <= 0 {
			continue
		}
		n := 0
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".safetensors") {
				continue
			}
			if fi, err := e.Info(); err == nil && !fi.ModTime().Before(inv.Start) && !fi.ModTime().After(*inv.End) {
				n++
			}
		}
		if n > 0 {
			trainSec += inv.Phases["train"]
			trained += n
		}
	}
	if trained > 0 {
		e := estimate{each: ptr(trainSec / float64(trained)),
			source: fmt.Sprintf("%s: phase train, %.1f s over the %d cache entries written by its runs", manifest, trainSec, trained)}
		est[StageExperts], est[StageOracles] = e, e
	}

	// Fits: the manifests' fit phase over the libraries the journal holds trials of.
	var fitSec float64
	for _, inv := range invs {
		if inv.End != nil {
			fitSec += inv.Phases["fit"]
		}
	}
	journal := filepath.Join(dir, results.FileName)
	libs := map[string]bool{}
	type agg struct {
		sum float64
		n   int
	}
	byMethod := map[string]*agg{}
	for _, row := range rows {
		if row.Kind != results.KindTrial || row.Error != "" {
			continue
		}
		if row.Reference == "" {
			libs[fmt.Sprint(row.Method, "\x00", row.Split, "\x00", row.Seed)] = true
		}
		a := byMethod[row.Method]
		if a == nil {
			a = &agg{}
			byMethod[row.Method] = a
		}
		a.sum += row.Seconds
		a.n++
	}
	if fitSec > 0 && len(libs) > 0 {
		est[StageFits] = estimate{each: ptr(fitSec / float64(len(libs))),
			source: fmt.Sprintf("%s: phase fit, %.1f s over the %d libraries %s holds generated trials of", manifest, fitSec, len(libs), journal)}
	}

	// Trials and references: the journal's seconds per trial (a generated one's include
	// its share of the generation), per method weighted by its trials. An oracle's rows
	// of journals written before the experts stage include its training, so an oracle's
	// evaluation is measured on the zero-shot rows.
	perTrial := func(ms []config.Method, stage string) {
		var sum float64
		n, rowsUsed := 0, 0
		var names []string
		for _, m := range ms {
			name := m.Name
			if m.Reference == config.Oracle {
				name = ""
				for _, z := range exp.Methods {
					if z.Reference == config.ZeroShot {
						name = z.Name
					}
				}
			}
			a := byMethod[name]
			if a == nil || a.n == 0 {
				return // one method without a measurement makes the stage unknown
			}
			w := len(exp.Seeds) * m.Samples
			if m.Reference != "" {
				w = len(exp.Seeds)
			}
			sum += a.sum / float64(a.n) * float64(w)
			n += w
			rowsUsed += a.n
			names = append(names, name)
		}
		if n == 0 {
			return
		}
		est[stage] = estimate{each: ptr(sum / float64(n)),
			source: fmt.Sprintf("%s: mean seconds of %d trial rows of %s", journal, rowsUsed, strings.Join(dedup(names), ", "))}
	}
	var gen, refs []config.Method
	for _, m := range exp.Methods {
		if m.Reference == "" {
			gen = append(gen, m)
		} else {
			refs = append(refs, m)
		}
	}
	perTrial(gen, StageTrials)
	perTrial(refs, StageRefs)
	return est
}

func ptr(v float64) *float64 { return &v }

func dedup(xs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
