package domain

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/sglab/sglab/framework/task"
)

// Side is the width and height of the images transforms work on.
const Side = 28

// Pixels is the number of pixels of an image.
const Pixels = Side * Side

// Param describes one argument of a transform.
type Param struct {
	Name     string
	Doc      string
	Default  float64 // used when the argument is left out; meaningless if Required
	Required bool
	Min, Max float64 // inclusive bounds
	Integer  bool    // must be a whole number
}

// Info describes one transform.
type Info struct {
	Name    string
	Doc     string
	Params  []Param
	Random  bool   // may draw from the rng (rotate only with a jitter; see Pipeline.Random)
	Example string // a typical use, e.g. "rotate(30)"
}

// Signature writes the transform as it is called, e.g. "rotate(deg, jitter=0)".
func (in Info) Signature() string {
	if len(in.Params) == 0 {
		return in.Name
	}
	parts := make([]string, len(in.Params))
	for i, p := range in.Params {
		parts[i] = p.Name
		if !p.Required {
			parts[i] += "=" + strconv.FormatFloat(p.Default, 'g', -1, 64)
		}
	}
	return in.Name + "(" + strings.Join(parts, ", ") + ")"
}

// op writes the transform of src into dst (distinct slices of Pixels values).
type op func(dst, src []float32, rng *rand.Rand)

// spec is a catalog entry: its description and how to build the op from checked
// arguments (defaults filled in). build may reject combinations of arguments and says
// whether this use draws from the rng.
type spec struct {
	Info
	build func(a []float64) (f op, random bool, err error)
}

// Names returns the names of all transforms, sorted.
func Names() []string {
	names := make([]string, len(catalog))
	for i, s := range catalog {
		names[i] = s.Name
	}
	slices.Sort(names)
	return names
}

// Describe returns the description of every transform, sorted by name.
func Describe() []Info {
	infos := make([]Info, len(catalog))
	for i, s := range catalog {
		infos[i] = s.Info
	}
	slices.SortFunc(infos, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return infos
}

// Lookup returns the description of one transform.
func Lookup(name string) (Info, bool) {
	s, ok := byName[name]
	if !ok {
		return Info{}, false
	}
	return s.Info, true
}

var byName = func() map[string]*spec {
	m := make(map[string]*spec, len(catalog))
	for i := range catalog {
		m[catalog[i].Name] = &catalog[i]
	}
	return m
}()

// Pipeline is a checked chain, ready to apply to many images.
type Pipeline struct {
	chain  []task.Transform
	ops    []op
	random bool
}

// Compile checks a chain and prepares it. Errors name the transform as written, e.g.
// `transform "rotate(1, 2, 3)": takes at most 2 arguments (deg, jitter), got 3`; the
// caller adds the task.
func Compile(chain []task.Transform) (*Pipeline, error) {
	p := &Pipeline{chain: slices.Clone(chain)}
	var errs []error // every bad transform, not just the first
	for _, t := range chain {
		f, random, err := compileOne(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("transform %q: %w", t.String(), err))
			continue
		}
		p.ops = append(p.ops, f)
		p.random = p.random || random
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// Check reports whether every transform of chain is known and has valid arguments.
func Check(chain []task.Transform) error {
	_, err := Compile(chain)
	return err
}

func compileOne(t task.Transform) (op, bool, error) {
	s, ok := byName[t.Name]
	if !ok {
		if near := nearest(t.Name); near != "" {
			return nil, false, fmt.Errorf("unknown transform (did you mean %q?)", near)
		}
		return nil, false, fmt.Errorf("unknown transform (known: %s)", strings.Join(Names(), ", "))
	}
	args, err := s.checkArgs(t.Args)
	if err != nil {
		return nil, false, err
	}
	return s.build(args)
}

// checkArgs validates arguments against the spec and fills in defaults.
func (s *spec) checkArgs(given []float64) ([]float64, error) {
	required := 0
	names := make([]string, len(s.Params))
	for i, p := range s.Params {
		names[i] = p.Name
		if p.Required {
			required++
		}
	}
	plural := func(n int) string {
		if n == 1 {
			return "argument"
		}
		return "arguments"
	}
	switch {
	case len(s.Params) == 0 && len(given) > 0:
		return nil, fmt.Errorf("takes no arguments, got %d", len(given))
	case len(given) > len(s.Params):
		return nil, fmt.Errorf("takes at most %d %s (%s), got %d", len(s.Params), plural(len(s.Params)), strings.Join(names, ", "), len(given))
	case len(given) < required:
		return nil, fmt.Errorf("needs %d %s (%s), got %d", required, plural(required), strings.Join(names[:required], ", "), len(given))
	}
	args := make([]float64, len(s.Params))
	for i, p := range s.Params {
		v := p.Default
		if i < len(given) {
			v = given[i]
		}
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return nil, fmt.Errorf("%s = %v must be a finite number", p.Name, v)
		case v < p.Min || v > p.Max:
			return nil, fmt.Errorf("%s = %v is out of range [%v, %v]", p.Name, v, p.Min, p.Max)
		case p.Integer && v != math.Trunc(v):
			return nil, fmt.Errorf("%s = %v must be a whole number", p.Name, v)
		}
		args[i] = v
	}
	return args, nil
}

// nearest returns the known name closest to name if it is a likely typo.
func nearest(name string) string {
	best, bestD := "", 3
	for _, s := range catalog {
		if d := editDistance(name, s.Name); d < bestD {
			best, bestD = s.Name, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Random reports whether applying the pipeline draws from the rng.
func (p *Pipeline) Random() bool { return p.random }

// Chain returns the transforms the pipeline was compiled from.
func (p *Pipeline) Chain() []task.Transform { return slices.Clone(p.chain) }

// Apply writes the transformed src into dst; dst may be src. rng may be nil only if the
// pipeline is not Random. It panics if dst or src does not hold Pixels values, or on a
// nil rng for a random pipeline: both are programming errors.
func (p *Pipeline) Apply(dst, src []float32, rng *rand.Rand) {
	if len(dst) != Pixels || len(src) != Pixels {
		panic(fmt.Sprintf("domain: Apply on %d → %d values, want %d", len(src), len(dst), Pixels))
	}
	if p.random && rng == nil {
		panic("domain: Apply of a random chain with a nil rng")
	}
	var buf [2][Pixels]float32
	a, b := buf[0][:], buf[1][:]
	copy(a, src)
	for _, f := range p.ops {
		f(b, a, rng)
		a, b = b, a
	}
	for i, v := range a {
		dst[i] = clamp01(v)
	}
}

// Apply compiles chain and applies it to one image: convenient for a single image;
// compile once with Compile for many.
func Apply(dst, src []float32, chain []task.Transform, rng *rand.Rand) error {
	p, err := Compile(chain)
	if err != nil {
		return err
	}
	p.Apply(dst, src, rng)
	return nil
}

func clamp01(v float32) float32 {
	switch {
	case v > 1:
		return 1
	case v >= 0:
		return v
	}
	return 0 // negative or NaN
}
