package config

import (
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"
)

// maxSweep bounds the methods one [[sweep]] may make, so that a typo in a grid cannot
// exhaust memory.
const maxSweep = 10000

// axis is one swept key with its values.
type axis struct {
	method string // the base method
	key    string // as in names and Method.Sweep: "top_k", or "train.epochs" for training keys
	param  string // the params key, or "" for a training key
	train  string // "epochs", "snapshots" or "rank"; "" for a params key
	values []any
	paths  []keyPath
}

var trainKeys = []string{"epochs", "snapshots", "rank"}

// trainBounds are the smallest and largest values of each training option.
var trainBounds = map[string][2]int64{"epochs": {1, MaxEpochs}, "snapshots": {1, MaxSnapshots}, "rank": {0, MaxRank}}

// sweeps reads the [[sweep]] tables and expands each grid into methods that follow their
// base method.
func (l *loader) sweeps(root tbl) {
	for _, t := range root.tables("sweep") {
		f := t.f
		before := len(l.errs)
		t.allow("method", "params", "train")
		var base *methodInfo
		if name, ok := t.str("method", true); ok {
			for i := range l.methods {
				if l.methods[i].m.Name == name {
					base = &l.methods[i]
					break
				}
			}
			switch {
			case base == nil:
				f.errorf(t.at("method"), "unknown method %q", name)
			case base.m.Generator == nil:
				f.errorf(t.at("method"), "method %q is the %s reference; only generator methods can be swept", name, base.m.Reference)
				base = nil
			}
		}
		var axes []axis
		if p, ok := t.sub("params", false); ok {
			for _, k := range sortedKeys(p.m) {
				if a, ok := sweepValues(p, k, func(it item) (any, bool) { return f.plain(it.p, it.v) }); ok {
					a.param = k
					axes = append(axes, a)
				}
			}
		}
		if tr, ok := t.sub("train", false); ok {
			tr.allow(trainKeys...)
			for _, k := range trainKeys {
				if !tr.has(k) {
					continue
				}
				a, ok := sweepValues(tr, k, func(it item) (any, bool) { return trainValue(tr, k, it) })
				if ok {
					a.key, a.train = "train."+k, k
					axes = append(axes, a)
				}
			}
		}
		if len(axes) == 0 && len(l.errs) == before {
			f.errorf(t.p, "nothing to sweep: give [sweep.params] or [sweep.train] with lists of values")
		}
		if base == nil {
			continue
		}
		for i := range axes {
			axes[i].method = base.m.Name
		}
		l.axes = append(l.axes, axes...)
		// A base method with problems of its own is still expanded, so that `runner
		// validate` can have the swept values judged in the same round.
		if len(l.errs) > before {
			continue
		}
		sort.Slice(axes, func(i, j int) bool { return axes[i].key < axes[j].key })
		l.expand(t, base, axes)
	}
}

// sweepValues reads the non-empty list of values at t.k, converted by conv, without repeats.
func sweepValues(t tbl, k string, conv func(item) (any, bool)) (axis, bool) {
	items, ok := t.array(k, true)
	if !ok {
		return axis{}, false
	}
	if len(items) == 0 {
		t.f.errorf(t.at(k), "must list at least one value")
		return axis{}, false
	}
	a := axis{key: k}
	first := map[string]keyPath{}
	for _, it := range items {
		v, vok := conv(it)
		if !vok {
			ok = false
			continue
		}
		s := formatValue(v)
		if p, dup := first[s]; dup {
			t.f.errorf(it.p, "value %s is listed twice (also %s)", s, p)
			ok = false
			continue
		}
		first[s] = it.p
		a.values = append(a.values, v)
		a.paths = append(a.paths, it.p)
	}
	return a, ok
}

// trainValue checks one swept training option.
func trainValue(t tbl, k string, it item) (any, bool) {
	n, ok := it.v.(int64)
	if !ok {
		t.wrongType(it.p, "an integer", it.v)
		return nil, false
	}
	if b := trainBounds[k]; !t.f.bounded(it.p, n, b[0], b[1]) {
		return nil, false
	}
	return n, true
}

// expand adds one method per point of the grid to base, the first axis varying slowest.
func (l *loader) expand(t tbl, base *methodInfo, axes []axis) {
	n := 1
	for _, a := range axes {
		n *= len(a.values)
		if n > maxSweep {
			t.f.errorf(t.p, "the grid makes more than %d methods", maxSweep)
			return
		}
	}
	type pair struct{ epochs, snapshots int }
	reported := map[pair]bool{}
	idx := make([]int, len(axes))
	for {
		params := clonePlain(base.m.Params).(map[string]any)
		train := base.m.Train
		sweep := map[string]any{}
		name := []string{base.m.Name}
		gen := *base.m.Generator
		gen.File, gen.Line, gen.Key = t.f.name, t.f.pos.line(t.p), string(t.p)
		gen.ParamAt = maps.Clone(gen.ParamAt)
		trainAt := maps.Clone(base.m.TrainAt)
		for j, a := range axes {
			v := a.values[idx[j]]
			sweep[a.key] = clonePlain(v)
			name = append(name, a.key+"="+formatValue(v))
			if a.train != "" {
				trainAt[a.train] = Where{File: t.f.name, Line: t.f.pos.line(a.paths[idx[j]]), Key: string(a.paths[idx[j]])}
			}
			switch a.train {
			case "epochs":
				train.Epochs = int(v.(int64))
			case "snapshots":
				train.Snapshots = int(v.(int64))
			case "rank":
				train.Rank = int(v.(int64))
			default:
				params[a.param] = clonePlain(v)
				gen.ParamAt[a.param] = Where{File: t.f.name, Line: t.f.pos.line(a.paths[idx[j]]), Key: string(a.paths[idx[j]])}
			}
		}
		if full := strings.Join(name, " "); len(full) > MaxNameLen {
			t.f.errorf(t.p, "the swept method name %.60q… has %d bytes; at most %d (sweep shorter values)", full, len(full), MaxNameLen)
			return
		}
		if train.Snapshots > train.Epochs {
			if p := (pair{train.Epochs, train.Snapshots}); !reported[p] {
				reported[p] = true
				t.f.errorf(t.at("train"), "%q: %d snapshots exceed the %d epochs", strings.Join(name, " "), train.Snapshots, train.Epochs)
			}
		} else {
			gen.Params = params
			base.swept = append(base.swept, sweptMethod{path: t.p, m: Method{
				Name:         strings.Join(name, " "),
				Generator:    &gen,
				Samples:      base.m.Samples,
				Params:       params,
				KeepAdapters: base.m.KeepAdapters,
				Train:        train,
				TrainAt:      trainAt,
				Base:         base.m.Name,
				Sweep:        sweep,
				File:         t.f.name,
				Line:         t.f.pos.line(t.p),
			}})
		}
		j := len(idx) - 1
		for ; j >= 0; j-- {
			idx[j]++
			if idx[j] < len(axes[j].values) {
				break
			}
			idx[j] = 0
		}
		if j < 0 {
			return
		}
	}
}

// clonePlain deep-copies a plain value, so that swept methods share no maps or slices.
func clonePlain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = clonePlain(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = clonePlain(e)
		}
		return out
	}
	return v
}

// formatValue writes a plain value as TOML would, for method names.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		if x != "" && !strings.ContainsAny(x, " \t\n\"'=[]{},") {
			return x
		}
		return strconv.Quote(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return formatFloat(x)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = formatValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			parts = append(parts, k+" = "+formatValue(x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return "?"
}

// formatFloat writes a float so that it never reads as an integer: 2.0, 0.5, 1e-06, nan.
func formatFloat(x float64) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(x, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}
