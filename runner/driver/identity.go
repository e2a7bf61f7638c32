package driver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/params"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/framework/task"
)

// A trial's identity is everything that determines its numbers, as one short digest per
// part (results.Row.Identity). A journal row whose identity differs from the one the
// current configuration gives is stale: it is moved out of the journal into
// results.SupersededFile and the trial runs again, so old numbers are never reported
// as new. The parts, so that a rerun can say why:
const (
	idTask            = "task"             // the novel task's definition
	idEvaluator       = "evaluator"        // its plugin: name, version, executable sha256
	idEvaluatorParams = "evaluator_params" // its resolved parameters
	idTrain           = "train"            // training options (oracles and experts)
	idLibrary         = "library"          // the seen tasks' definitions, in order
	idEncoder         = "encoder"          // as for the evaluator
	idEncoderParams   = "encoder_params"
	idGenerator       = "generator" // as for the evaluator
	idGeneratorParams = "generator_params"
	idSamples         = "samples" // adapters generated per task and seed
)

// pluginIdentity is what the runner knows of one plugin's code: from its Info and the
// digest of its executable.
type pluginIdentity struct {
	Name, Version, SHA256 string
	defaults              map[string]string // parameter -> default, as Info formats it
	err                   error             // the plugin could not be identified
}

// code digests what identifies the plugin's code; an unidentified plugin gives a digest
// no journal row has, so its trials run again (and fail with the reason).
func (p *pluginIdentity) code() string {
	if p.err != nil {
		return "unidentified: " + p.err.Error()
	}
	return digest(struct{ Name, Version, SHA256 string }{p.Name, p.Version, p.SHA256})
}

// params digests the resolved parameters: the plugin's defaults overlaid with the values
// the experiment gives, formatted alike, so that a value equal to its default changes
// nothing.
func (p *pluginIdentity) params(given map[string]any) string {
	return digest(p.resolved(given))
}

// resolved is the plugin's defaults overlaid with the given values, formatted alike.
func (p *pluginIdentity) resolved(given map[string]any) map[string]string {
	resolved := maps.Clone(p.defaults)
	if resolved == nil {
		resolved = map[string]string{}
	}
	for k, v := range given {
		resolved[k] = params.Format(v)
	}
	return resolved
}

func identityKey(kind string, ref config.PluginRef) string { return kind + "\x00" + ref.String() }

// identifier gives the rows of an experiment the identities the current configuration
// gives them: from the experiment, the digests of its banks, and what each plugin said
// of itself.
type identifier struct {
	exp    *config.Experiment
	banks  map[string][]BankFile
	plugin func(kind string, ref config.PluginRef) *pluginIdentity
}

// identity is the identity of a trial (or diversity) row of method m on a novel task of
// split.
func (r identifier) identity(m config.Method, split task.Split, taskID string) map[string]string {
	t, _ := r.exp.Task(taskID)
	eval := r.plugin(plugin.KindEvaluator, r.exp.Evaluator)
	id := map[string]string{
		idTask:            digest(t),
		idEvaluator:       eval.code(),
		idEvaluatorParams: eval.params(r.exp.Evaluator.Params),
	}
	if m.Reference == config.ZeroShot {
		return id
	}
	if b := r.banks[taskID]; len(b) > 0 { // an oracle of a task with a bank is its bank
		id[idTask] = digest(struct {
			Task task.Task
			Bank []string
		}{t, bankDigests(b)})
	}
	id[idTrain] = digest(m.Train)
	if m.Generator == nil {
		return id
	}
	lib := make([]task.Task, len(split.Seen))
	var banks []string
	for i, s := range split.Seen {
		lib[i], _ = r.exp.Task(s)
		banks = append(banks, bankDigests(r.banks[s])...)
	}
	enc := r.plugin(plugin.KindEncoder, r.exp.Encoder)
	gen := r.plugin(plugin.KindGenerator, *m.Generator)
	id[idLibrary] = digest(lib)
	if len(banks) > 0 { // experts from PEFT folders: their content, not their paths, counts
		id[idLibrary] = digest(struct {
			Tasks []task.Task
			Banks []string
		}{lib, banks})
	}
	id[idEncoder] = enc.code()
	id[idEncoderParams] = enc.params(r.exp.Encoder.Params)
	id[idGenerator] = gen.code()
	id[idGeneratorParams] = gen.params(m.Params)
	id[idSamples] = strconv.Itoa(m.Samples)
	return id
}

// row is the identity the current configuration gives row, and false when row
// is not a trial of it (its method, split, task or seed is not in the experiment).
func (r identifier) row(row results.Row) (map[string]string, bool) {
	if !slices.Contains(r.exp.Seeds, row.Seed) {
		return nil, false
	}
	mi := slices.IndexFunc(r.exp.Methods, func(m config.Method) bool { return m.Name == row.Method })
	si := slices.IndexFunc(r.exp.Splits, func(s task.Split) bool { return s.Name == row.Split })
	if mi < 0 || si < 0 || !slices.Contains(r.exp.Splits[si].Novel, row.Task) {
		return nil, false
	}
	return r.identity(r.exp.Methods[mi], r.exp.Splits[si], row.Task), true
}

// changed names the parts of identity that differ between an earlier row's and now.
func changed(before, now map[string]string) []string {
	if len(before) == 0 {
		return []string{"no identity recorded (written by an older sglab)"}
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(now)) {
		if before[k] != now[k] {
			out = append(out, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(before)) {
		if _, ok := now[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// staleGroup is the stale rows of one method and split that changed for one reason.
type staleGroup struct {
	method, split, why string
	tasks              []string
	seeds              []uint64
	n                  int
}

// logStale says which trials run again and why, one line per method, split and reason.
func logStale(log hclog.Logger, groups map[string]*staleGroup) {
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		g := groups[k]
		log.Warn("configuration changed; these trials run again and their earlier rows move to "+results.SupersededFile,
			"method", g.method, "split", g.split, "rows", g.n, "tasks", strings.Join(g.tasks, ","), "seeds", fmt.Sprint(g.seeds), "changed", g.why)
	}
}

// digest is a short hex digest of v's JSON (or, for values JSON cannot hold, such as a
// NaN parameter, of its Go syntax).
func digest(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf("%#v", v))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
