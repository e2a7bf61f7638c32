package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"

	"github.com/sglab/sglab/framework/plugin"
)

// canonVersion changes whenever the canonical form does, so old and new hashes never
// collide by accident.
const canonVersion = "sglab-experiment/1"

// Hash identifies what the experiment computes: the SHA-256 (hex) of a canonical JSON of
// the resolved experiment. Where things are written in the files (File, Line, the order
// of keys, comments, includes) and the Output folder do not enter it; names, seeds,
// plugins, parameters, tasks, splits and methods do. Integers and floats hash
// differently (2 is not 2.0), since plugins see the difference.
func (e *Experiment) Hash() string {
	b, err := json.Marshal(e.canonical())
	if err != nil { // canonical() builds only JSON-safe values
		panic("config: canonical experiment does not marshal: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

type canonPlugin struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Params any    `json:"params"`
}

type canonTask struct {
	ID          string   `json:"id"`
	Description string   `json:"description"`
	Dataset     string   `json:"dataset"`
	Domain      []string `json:"domain"`
	Params      any      `json:"params"`
}

type canonSplit struct {
	Name  string   `json:"name"`
	Seen  []string `json:"seen"`
	Novel []string `json:"novel"`
}

type canonMethod struct {
	Name      string              `json:"name"`
	Generator *canonPlugin        `json:"generator"`
	Reference string              `json:"reference"`
	Samples   int                 `json:"samples"`
	Train     plugin.TrainOptions `json:"train"`
	Base      string              `json:"base"`
	Sweep     any                 `json:"sweep"`
}

type canonExperiment struct {
	Version   string              `json:"version"`
	Name      string              `json:"name"`
	Seeds     []uint64            `json:"seeds"`
	Encoder   canonPlugin         `json:"encoder"`
	Evaluator canonPlugin         `json:"evaluator"`
	Train     plugin.TrainOptions `json:"train"`
	Tasks     []canonTask         `json:"tasks"`
	Splits    []canonSplit        `json:"splits"`
	Methods   []canonMethod       `json:"methods"`
}

func (e *Experiment) canonical() canonExperiment {
	c := canonExperiment{
		Version:   canonVersion,
		Name:      e.Name,
		Seeds:     nonNil(e.Seeds),
		Encoder:   canonRef(e.Encoder),
		Evaluator: canonRef(e.Evaluator),
		Train:     e.Train,
		Tasks:     []canonTask{},
		Splits:    []canonSplit{},
		Methods:   []canonMethod{},
	}
	for _, t := range e.Tasks {
		ct := canonTask{ID: t.ID, Description: t.Description, Dataset: t.Dataset, Domain: []string{}, Params: canonValue(t.Params)}
		for _, tr := range t.Domain {
			ct.Domain = append(ct.Domain, tr.String())
		}
		c.Tasks = append(c.Tasks, ct)
	}
	for _, s := range e.Splits {
		c.Splits = append(c.Splits, canonSplit{Name: s.Name, Seen: nonNil(s.Seen), Novel: nonNil(s.Novel)})
	}
	for _, m := range e.Methods {
		cm := canonMethod{Name: m.Name, Reference: m.Reference, Samples: m.Samples, Train: m.Train, Base: m.Base, Sweep: canonValue(m.Sweep)}
		if m.Generator != nil {
			g := canonRef(*m.Generator)
			g.Params = canonValue(m.Params)
			cm.Generator = &g
		}
		c.Methods = append(c.Methods, cm)
	}
	return c
}

func canonRef(p PluginRef) canonPlugin {
	return canonPlugin{Name: p.Name, Path: p.Path, SHA256: p.SHA256, Params: canonValue(p.Params)}
}

// canonValue turns a plain value into JSON that keeps TOML's types apart: integers are
// written 2 and floats 2.0 (nan and inf, which JSON lacks, as {"float": "nan"}), and a
// missing table is the same as an empty one.
func canonValue(v any) any {
	switch x := v.(type) {
	case nil:
		return map[string]any{}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonValue(e)
		}
		return out
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return map[string]string{"float": formatFloat(x)}
		}
		return json.Number(formatFloat(x))
	}
	return v
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
