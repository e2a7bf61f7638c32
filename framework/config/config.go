package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/task"
)

// PluginRef names a plugin: a built-in one by Name or an executable by Path.
type PluginRef struct {
	Name   string         // built-in plugin, e.g. "glove"; "" when Path is set
	Path   string         // absolute path of an external plugin executable
	SHA256 string         // lower-case hex checksum of Path, verified before launch; may be ""
	Params map[string]any // handed to the plugin's Configure; never nil
	File   string         // where the plugin is named
	Line   int
	Key    string `json:"-"` // the key naming it, e.g. "method[2].generator"
	// ParamAt says where each parameter's value is written (for a swept method, a swept
	// value at its [[sweep]]), so that a plugin's complaint about a parameter can point
	// at its line.
	ParamAt map[string]Where `json:"-"`
}

// Where locates a key in the experiment's files.
type Where struct {
	File string
	Line int
	Key  string // the key path, e.g. "method[2].params.top_k"
}

// Errorf is an Error at w.
func (w Where) Errorf(format string, args ...any) Error {
	return Error{File: w.File, Line: w.Line, Key: w.Key, Msg: fmt.Sprintf(format, args...)}
}

// Where is where the plugin is named.
func (p PluginRef) Where() Where { return Where{File: p.File, Line: p.Line, Key: p.Key} }

// String returns the name or path.
func (p PluginRef) String() string {
	if p.Path != "" {
		return p.Path
	}
	return p.Name
}

// Method is one compared method: a generator plugin, or a reference the runner computes
// itself ("zero-shot": the bare backbone; "oracle": a LoRA trained on the novel task).
type Method struct {
	Name      string
	Generator *PluginRef          // nil for references; Generator.Params is Params
	Reference string              // "", "zero-shot" or "oracle"
	Samples   int                 // adapters generated per novel task and seed; 1 for references
	Params    map[string]any      // handed to the generator's Configure; empty, never nil, for references
	Train     plugin.TrainOptions // [train], overridden by the sweep that made the method
	TrainAt   map[string]Where    `json:"-"` // where each training option is set; absent for defaults
	// KeepAdapters says which scored adapters are written as PEFT folders under the
	// output folder: KeepNone, KeepBest or KeepAll (the method's, else the experiment's).
	// It changes no number, so it is not in Hash.
	KeepAdapters string
	Base         string         // the method it was swept from; "" if none
	Sweep        map[string]any // swept key -> value ("train.epochs" for training keys); nil if none
	File         string         // where the [[method]] (or, for a swept method, the [[sweep]]) is
	Line         int
}

// Experiment is a checked, resolved experiment file.
type Experiment struct {
	File      string // as given to Load
	Name      string
	Seeds     []uint64
	Output    string // results folder; relative paths are relative to the working directory
	Encoder   PluginRef
	Evaluator PluginRef
	Train     plugin.TrainOptions
	Tasks     []task.Task // included files' tasks first, then the file's own, in file order
	Splits    []task.Split
	Methods   []Method // in file order, each followed by the methods swept from it
	// Timeouts bound each plugin call (plugin.Call* names): plugin.DefaultTimeouts
	// overlaid with [timeouts]. They do not enter Hash: they change no number.
	Timeouts map[string]time.Duration
	// Banks are the seen tasks whose experts come from PEFT adapter folders (a [[task]]'s
	// adapters, one folder per snapshot) instead of training: task id -> folders. They
	// enter no hash here; the runner digests the files.
	Banks map[string][]string
	// Slurm is the [slurm] table, nil when absent: resources of `runner run --slurm`.
	// It does not enter Hash: it changes no number.
	Slurm *Slurm
	// TaskAt says where each task is defined, for the evaluator's complaints about it.
	TaskAt map[string]Where `json:"-"`
}

// Task returns the task with the given id.
func (e *Experiment) Task(id string) (task.Task, bool) {
	for _, t := range e.Tasks {
		if t.ID == id {
			return t, true
		}
	}
	return task.Task{}, false
}

// What keep_adapters may say: keep no scored adapter, the best sample (by the evaluator's primary headline metric) per
// novel task and seed, or all of them.
const (
	KeepNone = "none"
	KeepBest = "best"
	KeepAll  = "all"
)

// keepAdapters reads keep_adapters at t; def when absent.
func keepAdapters(t tbl, def string) string {
	v, ok := t.str("keep_adapters", false)
	if !ok {
		return def
	}
	switch v {
	case KeepNone, KeepBest, KeepAll:
		return v
	}
	t.f.errorf(t.at("keep_adapters"), "unknown value %q; want %q, %q or %q", v, KeepNone, KeepBest, KeepAll)
	return def
}

// Reference methods.
const (
	ZeroShot = "zero-shot"
	Oracle   = "oracle"
)

// Default training options.
var DefaultTrain = plugin.TrainOptions{Epochs: 20, Snapshots: 10, Rank: 0}

var (
	idPattern     = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	builtinName   = regexp.MustCompile(`^[a-z0-9-]+$`)
	sha256Pattern = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// Load reads, checks and resolves the experiment file at path and the files it includes.
// When anything is wrong the error is Errors, holding every problem found.
func Load(path string) (*Experiment, error) {
	e, err := LoadPartial(path)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// LoadPartial is Load that also returns what could be read of a file with problems (nil
// when not even its syntax holds), so that `runner validate` can let the plugins judge
// the rest in the same round. Its experiment is not fit to run.
func LoadPartial(path string) (*Experiment, error) {
	l := &loader{rank: map[string]int{}, trainAt: map[string]Where{}}
	e := l.load(path)
	if len(l.errs) > 0 {
		sortErrors(l.errs, l.rank)
		return e, l.errs
	}
	return e, nil
}

type loader struct {
	errs Errors
	rank map[string]int // order in which files were read, for sorting errors

	e        *Experiment
	where    map[string]string // task id -> "file:line" of its definition
	known    []task.Task       // every task with a usable id, valid or not, for cross_dataset
	complete bool              // every included file was read; otherwise unknown task ids are not reported
	main     *file             // the experiment file, which alone holds methods and sweeps
	trainAt  map[string]Where  // where [train] sets each option
	methods  []methodInfo
	axes     []axis // of every sweep
	keep     string // the experiment's keep_adapters
}

// methodInfo is what the checks after [[method]] need to know about a method.
type methodInfo struct {
	m      Method
	path   keyPath // of the [[method]] or [[sweep]]
	params keyPath // of its params table
	ok     bool
	swept  []sweptMethod
}

type sweptMethod struct {
	m    Method
	path keyPath // of its [[sweep]]
}

// parse reads and decodes one file. Problems reading it are reported at from (the include
// naming it) when it is included.
func (l *loader) parse(name string, from *file, fromPath keyPath) (*file, map[string]any) {
	data, err := readBounded(name)
	if err != nil {
		if from != nil {
			from.errorf(fromPath, "cannot read included file %s: %v", name, cause(err))
		} else {
			l.errs = append(l.errs, Error{File: name, Msg: fmt.Sprintf("cannot read: %v", cause(err))})
		}
		return nil, nil
	}
	if _, seen := l.rank[name]; !seen {
		l.rank[name] = len(l.rank)
	}
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			l.errs = append(l.errs, Error{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: "TOML syntax error: " + pe.Message})
		} else {
			l.errs = append(l.errs, Error{File: name, Msg: "TOML error: " + err.Error()})
		}
		return nil, nil
	}
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		l.errs = append(l.errs, Error{File: name, Msg: err.Error()})
		return nil, nil
	}
	return &file{name: name, dir: dir, pos: scanPositions(string(data)), l: l}, m
}

func (l *loader) load(path string) *Experiment {
	f, m := l.parse(path, nil, "")
	if f == nil {
		return nil
	}
	l.e = &Experiment{File: path, Train: DefaultTrain, Timeouts: defaultTimeouts(), TaskAt: map[string]Where{}}
	l.where = map[string]string{}
	l.complete = true
	l.main = f
	e := l.e
	root := tbl{f: f, m: m}
	root.allow("name", "seeds", "output", "include", "encoder", "evaluator", "train", "timeouts", "task", "split", "method", "sweep", "keep_adapters", "slurm")
	l.keep = keepAdapters(root, KeepNone)

	if name, ok := root.str("name", true); ok && f.checkName(root.at("name"), "name", name) {
		if !idPattern.MatchString(name) {
			f.errorf(root.at("name"), "%q may hold only letters, digits, '.', '_' and '-'", name)
		}
		e.Name = name
	}
	l.seeds(root)
	e.Output = filepath.Join("out", e.Name)
	if out, ok := root.str("output", false); ok {
		if out == "" {
			f.errorf(root.at("output"), "must not be empty")
		}
		e.Output = filepath.Clean(out)
	}
	if t, ok := root.sub("encoder", true); ok {
		e.Encoder, _ = l.pluginTable(t)
	}
	if t, ok := root.sub("evaluator", true); ok {
		e.Evaluator, _ = l.pluginTable(t)
	}
	if t, ok := root.sub("train", false); ok {
		e.Train = l.train(t)
	}
	if t, ok := root.sub("timeouts", false); ok {
		e.Timeouts = l.timeouts(t)
	}
	if t, ok := root.sub("slurm", false); ok {
		e.Slurm = l.slurm(t)
	}

	l.includes(root)
	l.tasks(root)
	if len(l.where) == 0 && root.empty("task") && l.complete {
		f.errorf("task", "at least one [[task]] is required")
	}
	l.splits(root)
	if root.empty("split") {
		f.errorf("split", "at least one [[split]] is required")
	}
	l.methodTables(root)
	if root.empty("method") {
		f.errorf("method", "at least one [[method]] is required")
	}
	l.sweeps(root)
	l.checkTopK()
	for _, mi := range l.methods {
		e.Methods = append(e.Methods, mi.m)
		for _, s := range mi.swept {
			e.Methods = append(e.Methods, s.m)
		}
	}
	l.checkMethodNames()
	l.checkTrials()
	return e
}

func (l *loader) seeds(root tbl) {
	items, ok := root.array("seeds", true)
	if !ok {
		return
	}
	if len(items) == 0 {
		root.f.errorf(root.at("seeds"), "must list at least one seed")
	}
	if len(items) > MaxSeeds {
		root.f.errorf(root.at("seeds"), "%d seeds; at most %d", len(items), MaxSeeds)
		return
	}
	first := map[int64]keyPath{}
	for _, it := range items {
		n, isInt := it.v.(int64)
		switch {
		case !isInt:
			root.wrongType(it.p, "an integer", it.v)
		case n < 0:
			root.f.errorf(it.p, "seed %d is negative", n)
		case first[n] != "":
			root.f.errorf(it.p, "duplicate seed %d (also %s)", n, first[n])
		default:
			first[n] = it.p
			l.e.Seeds = append(l.e.Seeds, uint64(n))
		}
	}
}

// pluginTable reads [encoder] or [evaluator].
func (l *loader) pluginTable(t tbl) (PluginRef, bool) {
	t.allow("plugin", "sha256", "params")
	ref, ok := pluginRef(t, "plugin")
	params, pok := t.params("params")
	ref.Params = params
	ref.ParamAt = paramsAt(t, "params", params)
	return ref, ok && pok
}

// pluginRef reads the plugin named by key (a built-in name or a path) and its sha256.
func pluginRef(t tbl, key string) (PluginRef, bool) {
	f := t.f
	ref := PluginRef{File: f.name, Line: f.pos.line(t.at(key)), Key: string(t.at(key)), Params: map[string]any{}, ParamAt: map[string]Where{}}
	v, ok := t.str(key, true)
	switch {
	case !ok:
	case v == "":
		f.errorf(t.at(key), "must not be empty")
		ok = false
	case strings.ContainsRune(v, '/') || strings.ContainsRune(v, filepath.Separator):
		p := v
		if !filepath.IsAbs(p) {
			p = filepath.Join(f.dir, p)
		}
		ref.Path = filepath.Clean(p)
		if st, err := os.Stat(ref.Path); err != nil {
			f.errorf(t.at(key), "plugin executable %s: %v", ref.Path, cause(err))
			ok = false
		} else if st.IsDir() {
			f.errorf(t.at(key), "plugin executable %s is a directory", ref.Path)
			ok = false
		}
	case !builtinName.MatchString(v):
		f.errorf(t.at(key), "%q is neither a built-in plugin name ([a-z0-9-]+) nor a path (a path contains '/')", v)
		ok = false
	default:
		ref.Name = v
	}
	if sum, present := t.str("sha256", false); present {
		switch {
		case v != "" && ref.Path == "" && ok:
			f.errorf(t.at("sha256"), "applies only to a plugin given by path, and %q is a built-in name", v)
			ok = false
		case !sha256Pattern.MatchString(sum):
			f.errorf(t.at("sha256"), "must be 64 hexadecimal digits, got %d characters", len(sum))
			ok = false
		default:
			ref.SHA256 = strings.ToLower(sum)
		}
	} else if t.has("sha256") {
		ok = false
	}
	return ref, ok
}

// train reads [train]; absent keys keep their defaults.
func (l *loader) train(t tbl) plugin.TrainOptions {
	t.allow("epochs", "snapshots", "rank")
	o := DefaultTrain
	ok := true
	for _, k := range trainKeys {
		if t.has(k) {
			l.trainAt[k] = Where{File: t.f.name, Line: t.f.pos.line(t.at(k)), Key: string(t.at(k))}
		}
	}
	if n, present := t.integer("epochs"); present {
		ok = t.f.bounded(t.at("epochs"), n, trainBounds["epochs"][0], trainBounds["epochs"][1]) && ok
		o.Epochs = int(n)
	} else if t.has("epochs") {
		ok = false
	}
	if n, present := t.integer("snapshots"); present {
		ok = t.f.bounded(t.at("snapshots"), n, trainBounds["snapshots"][0], trainBounds["snapshots"][1]) && ok
		o.Snapshots = int(n)
	} else if t.has("snapshots") {
		ok = false
	}
	if n, present := t.integer("rank"); present {
		t.f.bounded(t.at("rank"), n, trainBounds["rank"][0], trainBounds["rank"][1])
		o.Rank = int(n)
	}
	if ok && o.Snapshots > o.Epochs {
		if t.has("snapshots") {
			t.f.errorf(t.at("snapshots"), "%d snapshots exceed the %d epochs (a snapshot is kept per epoch)", o.Snapshots, o.Epochs)
		} else {
			t.f.errorf(t.at("epochs"), "%d epochs are fewer than the default %d snapshots; set snapshots too", o.Epochs, o.Snapshots)
		}
	}
	return o
}

// includes loads the [[task]] tables of the included files.
func (l *loader) includes(root tbl) {
	names, paths, ok := root.strings("include", false)
	if !ok && root.has("include") {
		l.complete = false
	}
	main := root.f
	read := map[string]keyPath{filepath.Clean(main.name): ""}
	for i, inc := range names {
		name := inc
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(main.name), name)
		}
		name = filepath.Clean(name)
		if prev, dup := read[name]; dup {
			if prev == "" {
				main.errorf(paths[i], "a file cannot include itself")
			} else {
				main.errorf(paths[i], "%s is already included by %s", name, prev)
			}
			continue
		}
		read[name] = paths[i]
		f, m := l.parse(name, main, paths[i])
		if f == nil {
			l.complete = false
			continue
		}
		t := tbl{f: f, m: m}
		for _, k := range sortedKeys(m) {
			if k != "task" {
				f.errorf(t.at(k), "an included file may hold only [[task]] tables")
			}
		}
		l.tasks(t)
	}
}

// tasks reads the [[task]] tables of one file.
func (l *loader) tasks(root tbl) {
	for _, t := range root.tables("task") {
		f := t.f
		t.allow("id", "description", "dataset", "transforms", "params", "adapters")
		var tk task.Task
		id, ok := t.str("id", true)
		if ok {
			switch {
			case !f.checkName(t.at("id"), "task id", id):
				ok = false
			case !idPattern.MatchString(id):
				f.errorf(t.at("id"), "%q may hold only letters, digits, '.', '_' and '-'", id)
				ok = false
			case l.where[id] != "":
				f.errorf(t.at("id"), "duplicate task id %q (first defined at %s)", id, l.where[id])
				ok = false
			default:
				l.where[id] = fmt.Sprintf("%s:%d", f.name, f.pos.line(t.at("id")))
			}
		}
		tk.ID = id
		idOK := ok
		for _, k := range []string{"description", "dataset"} {
			v, vok := t.str(k, true)
			switch {
			case vok && strings.TrimSpace(v) == "":
				f.errorf(t.at(k), "must not be empty")
				vok = false
			case vok && k == "description" && len(v) > MaxDescriptionLen:
				f.errorf(t.at(k), "a description of %d bytes; at most %d", len(v), MaxDescriptionLen)
				vok = false
			case vok && k == "dataset":
				vok = f.checkName(t.at(k), "dataset", v)
			}
			ok = ok && vok
			if k == "description" {
				tk.Description = v
			} else {
				tk.Dataset = v
			}
		}
		if trs, paths, present := t.strings("transforms", false); present {
			if len(trs) > maxTransformsCount {
				f.errorf(t.at("transforms"), "%d transforms; at most %d", len(trs), maxTransformsCount)
				ok = false
				trs = nil
			}
			for i, s := range trs {
				tr, err := task.ParseTransform(s)
				if err != nil {
					f.errorf(paths[i], "task %q: %v", id, err)
					ok = false
					continue
				}
				tk.Domain = append(tk.Domain, tr)
			}
		} else if t.has("transforms") {
			ok = false
		}
		params, pok := t.params("params")
		tk.Params = params
		bank, bok := l.bank(t)
		if idOK {
			l.known = append(l.known, tk)
		}
		if ok && pok && bok {
			l.e.Tasks = append(l.e.Tasks, tk)
			if len(bank) > 0 {
				if l.e.Banks == nil {
					l.e.Banks = map[string][]string{}
				}
				l.e.Banks[id] = bank
			}
			l.e.TaskAt[id] = Where{File: f.name, Line: f.pos.line(t.p), Key: string(t.p)}
		}
	}
}

// bank reads a task's adapters: PEFT adapter folders, relative to the file that names
// them, each holding adapter_config.json and adapter_model.safetensors.
func (l *loader) bank(t tbl) ([]string, bool) {
	dirs, paths, present := t.strings("adapters", false)
	if !present {
		return nil, !t.has("adapters")
	}
	if len(dirs) == 0 {
		t.f.errorf(t.at("adapters"), "must list at least one PEFT adapter folder")
		return nil, false
	}
	if len(dirs) > MaxSnapshots {
		t.f.errorf(t.at("adapters"), "%d folders; at most %d", len(dirs), MaxSnapshots)
		return nil, false
	}
	ok := true
	var out []string
	for i, d := range dirs {
		if !filepath.IsAbs(d) {
			d = filepath.Join(filepath.Dir(t.f.name), d)
		}
		d = filepath.Clean(d)
		for _, name := range []string{"adapter_config.json", "adapter_model.safetensors"} {
			if _, err := os.Stat(filepath.Join(d, name)); err != nil {
				t.f.errorf(paths[i], "not a PEFT adapter folder: %v", cause(err))
				ok = false
				break
			}
		}
		out = append(out, d)
	}
	return out, ok
}

// taskIDs reads a list of task ids at k: non-empty, known, without repeats.
func (l *loader) taskIDs(t tbl, k string) ([]string, []keyPath, bool) {
	ids, paths, ok := t.strings(k, true)
	if !ok {
		return nil, nil, false
	}
	if len(ids) == 0 && len(paths) == 0 {
		t.f.errorf(t.at(k), "must list at least one task")
		return nil, nil, false
	}
	seen := map[string]keyPath{}
	for i, id := range ids {
		switch {
		case seen[id] != "":
			t.f.errorf(paths[i], "task %q is listed twice (also %s)", id, seen[id])
			ok = false
		case l.where[id] == "" && l.complete:
			t.f.errorf(paths[i], "unknown task %q", id)
			ok = false
		}
		seen[id] = paths[i]
	}
	return ids, paths, ok
}

// splits reads the [[split]] tables, expanding leave_one_out and cross_dataset.
func (l *loader) splits(root tbl) {
	names := map[string]int{}
	for _, t := range root.tables("split") {
		f := t.f
		t.allow("name", "seen", "novel", "leave_one_out", "cross_dataset")
		name, ok := t.str("name", true)
		if ok && !f.checkName(t.at("name"), "split name", name) {
			ok = false
		} else if ok && !idPattern.MatchString(name) {
			f.errorf(t.at("name"), "%q may hold only letters, digits, '.', '_' and '-'", name)
			ok = false
		}
		var forms []string
		for _, k := range []string{"seen", "novel", "leave_one_out", "cross_dataset"} {
			if t.has(k) {
				forms = append(forms, k)
			}
		}
		form := ""
		switch {
		case len(forms) == 0:
			f.errorf(t.p, "needs seen and novel, leave_one_out, or cross_dataset")
			continue
		case forms[0] == "seen" || forms[0] == "novel":
			form = "seen"
			for _, k := range forms {
				if k != "seen" && k != "novel" {
					f.errorf(t.at(k), "cannot be combined with seen/novel")
					ok = false
				}
			}
		default:
			form = forms[0]
			for _, k := range forms[1:] {
				f.errorf(t.at(k), "cannot be combined with %s", form)
				ok = false
			}
		}
		var made []task.Split
		switch form {
		case "seen":
			seen, _, sok := l.taskIDs(t, "seen")
			novel, npaths, nok := l.taskIDs(t, "novel")
			ok = ok && sok && nok
			for i, id := range novel {
				if slices.Contains(seen, id) {
					f.errorf(npaths[i], "task %q is both seen and novel", id)
					ok = false
				}
			}
			made = append(made, task.Split{Name: name, Seen: seen, Novel: novel})
		case "leave_one_out":
			ids, _, iok := l.taskIDs(t, "leave_one_out")
			ok = ok && iok
			if iok && len(ids) < 2 {
				f.errorf(t.at("leave_one_out"), "needs at least two tasks, so that some are seen")
				ok = false
			}
			for i, id := range ids {
				seen := slices.Concat(ids[:i], ids[i+1:])
				made = append(made, task.Split{Name: name + "/" + id, Seen: seen, Novel: []string{id}})
			}
		case "cross_dataset":
			s, cok := l.crossDataset(t)
			ok = ok && cok
			made = append(made, task.Split{Name: name, Seen: s.Seen, Novel: s.Novel})
		}
		if !ok {
			continue
		}
		for _, s := range made {
			if line, dup := names[s.Name]; dup {
				f.errorf(t.at("name"), "duplicate split name %q (first at line %d)", s.Name, line)
				continue
			}
			names[s.Name] = f.pos.line(t.at("name"))
			l.e.Splits = append(l.e.Splits, s)
		}
	}
}

// crossDataset resolves cross_dataset = {seen = "a", novel = "b", tasks = [...]}.
func (l *loader) crossDataset(t tbl) (task.Split, bool) {
	c, ok := t.sub("cross_dataset", true)
	if !ok {
		return task.Split{}, false
	}
	f := c.f
	c.allow("seen", "novel", "tasks")
	seenDS, sok := c.str("seen", true)
	novelDS, nok := c.str("novel", true)
	if !sok || !nok {
		return task.Split{}, false
	}
	if seenDS == novelDS {
		f.errorf(c.at("novel"), "seen and novel name the same dataset %q", seenDS)
		return task.Split{}, false
	}
	dataset := map[string]string{}
	var pool []string
	for _, tk := range l.known {
		dataset[tk.ID] = tk.Dataset
		pool = append(pool, tk.ID)
	}
	where := "in the experiment"
	if c.has("tasks") {
		ids, paths, iok := l.taskIDs(c, "tasks")
		if !iok {
			return task.Split{}, false
		}
		pool, where = ids, "among tasks"
		for i, id := range ids {
			if ds, known := dataset[id]; known && ds != seenDS && ds != novelDS {
				f.errorf(paths[i], "task %q is of dataset %q, neither %q nor %q", id, ds, seenDS, novelDS)
				ok = false
			}
		}
	}
	var s task.Split
	for _, id := range pool {
		switch dataset[id] {
		case seenDS:
			s.Seen = append(s.Seen, id)
		case novelDS:
			s.Novel = append(s.Novel, id)
		}
	}
	if !l.complete {
		return s, false
	}
	if len(s.Seen) == 0 {
		f.errorf(c.at("seen"), "no task of dataset %q %s", seenDS, where)
		ok = false
	}
	if len(s.Novel) == 0 {
		f.errorf(c.at("novel"), "no task of dataset %q %s", novelDS, where)
		ok = false
	}
	return s, ok
}

// methodTables reads the [[method]] tables.
func (l *loader) methodTables(root tbl) {
	names := map[string]int{}
	for _, t := range root.tables("method") {
		f := t.f
		t.allow("name", "generator", "sha256", "reference", "samples", "params", "keep_adapters")
		m := Method{Samples: 1, Params: map[string]any{}, Train: l.e.Train, TrainAt: l.trainAt, File: f.name, Line: f.pos.line(t.p),
			KeepAdapters: keepAdapters(t, l.keep)}
		name, ok := t.str("name", true)
		switch {
		case !ok:
		case strings.TrimSpace(name) == "":
			f.errorf(t.at("name"), "must not be empty")
			ok = false
		case !f.checkName(t.at("name"), "method name", name):
			ok = false
		case strings.TrimSpace(name) != name || strings.ContainsAny(name, "\n\r\t"):
			f.errorf(t.at("name"), "%q must not start or end with spaces nor hold tabs or line breaks", name)
			ok = false
		default:
			if line, dup := names[name]; dup {
				f.errorf(t.at("name"), "duplicate method name %q (first at line %d)", name, line)
				ok = false
			} else {
				names[name] = f.pos.line(t.at("name"))
			}
		}
		m.Name = name
		switch {
		case t.has("generator") && t.has("reference"):
			f.errorf(t.at("reference"), "give either generator or reference, not both")
			ok = false
		case t.has("generator"):
			ref, gok := pluginRef(t, "generator")
			m.Generator = &ref
			ok = ok && gok
		case t.has("reference"):
			ref, rok := t.str("reference", true)
			if rok && ref != ZeroShot && ref != Oracle {
				f.errorf(t.at("reference"), "unknown reference %q; want %q or %q", ref, ZeroShot, Oracle)
				rok = false
			}
			ok = ok && rok
			m.Reference = ref
			if t.has("sha256") {
				f.errorf(t.at("sha256"), "applies only to a generator given by path")
				ok = false
			}
			if t.has("params") {
				f.errorf(t.at("params"), "references take no params; params go to a generator")
				ok = false
			}
		default:
			f.errorf(t.p, "needs generator (a plugin) or reference (%q or %q)", ZeroShot, Oracle)
			ok = false
		}
		if n, present := t.integer("samples"); present {
			switch {
			case n < 1:
				f.errorf(t.at("samples"), "must be at least 1, got %d", n)
				ok = false
			case !f.bounded(t.at("samples"), n, 1, MaxSamples):
				ok = false
			case m.Reference != "" && n != 1:
				f.errorf(t.at("samples"), "a reference gives one result per task and seed; samples must be 1, got %d", n)
				ok = false
			}
			m.Samples = int(n)
		} else if t.has("samples") {
			ok = false
		}
		if m.Generator != nil {
			params, pok := t.params("params")
			ok = ok && pok
			m.Params = params
			m.Generator.Params = params
			m.Generator.ParamAt = paramsAt(t, "params", params)
		}
		l.methods = append(l.methods, methodInfo{m: m, path: t.p, params: t.at("params"), ok: ok})
	}
}

// checkMethodNames reports swept methods whose names clash with another method.
func (l *loader) checkMethodNames() {
	first := map[string]int{}
	for _, m := range l.methods {
		first[m.m.Name] = m.m.Line
	}
	for _, mi := range l.methods {
		for _, s := range mi.swept {
			if line, dup := first[s.m.Name]; dup {
				l.main.errorf(s.path, "swept method %q clashes with the method at line %d", s.m.Name, line)
				continue
			}
			first[s.m.Name] = s.m.Line
		}
	}
}

// checkTopK reports a top_k larger than the seen tasks of some split: the generator could
// not pick that many experts.
func (l *loader) checkTopK() {
	if !l.complete || len(l.e.Splits) == 0 {
		return
	}
	smallest := l.e.Splits[0]
	for _, s := range l.e.Splits[1:] {
		if len(s.Seen) < len(smallest.Seen) {
			smallest = s
		}
	}
	check := func(p keyPath, method string, v any) {
		k, ok := v.(int64)
		if ok && k > int64(len(smallest.Seen)) {
			l.main.errorf(p, "method %q: top_k = %d exceeds the %d seen tasks of split %q", method, k, len(smallest.Seen), smallest.Name)
		}
	}
	for _, mi := range l.methods {
		if mi.m.Generator == nil {
			continue
		}
		if v, ok := mi.m.Params["top_k"]; ok {
			check(mi.params.key("top_k"), mi.m.Name, v)
		}
	}
	for _, a := range l.axes {
		if a.key == "top_k" {
			for i, v := range a.values {
				check(a.paths[i], a.method, v)
			}
		}
	}
}

// paramsAt locates every key of the params table at t.k.
func paramsAt(t tbl, k string, params map[string]any) map[string]Where {
	out := make(map[string]Where, len(params))
	for name := range params {
		p := t.at(k).key(name)
		out[name] = Where{File: t.f.name, Line: t.f.pos.line(p), Key: string(p)}
	}
	return out
}

// cause drops the operation and path from a file-system error, which the message around
// it already names.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
