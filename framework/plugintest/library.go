package plugintest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
)

// LibraryOptions size a synthetic expert library; zero fields take small defaults.
type LibraryOptions struct {
	Schema    lora.Schema // default: two modules, q_proj 3×4 and v_proj 3×4 at rank 2
	Experts   int         // default 6
	Snapshots int         // per expert; default 3
	Dim       int         // embedding width; default 8
	Seed      uint64      // draws the library; 0 is a seed like any other
}

func (o LibraryOptions) withDefaults() LibraryOptions {
	if o.Schema == nil {
		o.Schema = lora.Schema{
			{Name: "blocks.0.attn.q_proj", In: 4, Out: 3, Rank: 2, Alpha: 4},
			{Name: "blocks.0.attn.v_proj", In: 4, Out: 3, Rank: 2, Alpha: 4},
		}
	}
	if o.Experts == 0 {
		o.Experts = 6
	}
	if o.Snapshots == 0 {
		o.Snapshots = 3
	}
	if o.Dim == 0 {
		o.Dim = 8
	}
	return o
}

// Library writes a synthetic library into t's temporary folder: each expert's
// snapshots scatter around a prototype that is a linear function of its unit-length
// description embedding, so that experts with near descriptions have near adapters,
// the structure generators rely on.
func Library(t testing.TB, o LibraryOptions) plugin.Library {
	t.Helper()
	o = o.withDefaults()
	r := rand.New(rand.NewPCG(o.Seed, 0x11b))
	p := o.Schema.NumParams()
	mapping := make([]float32, p*o.Dim)
	for i := range mapping {
		mapping[i] = float32(r.NormFloat64()) * 0.1
	}
	dir := t.TempDir()
	lib := plugin.Library{Schema: o.Schema}
	for e := range o.Experts {
		emb := unitVector(r, o.Dim)
		snaps := make([][]float32, o.Snapshots)
		for m := range snaps {
			snaps[m] = make([]float32, p)
			for j := range snaps[m] {
				var x float32
				for d, v := range emb {
					x += mapping[j*o.Dim+d] * v
				}
				snaps[m][j] = x + 0.01*float32(r.NormFloat64())
			}
		}
		id := fmt.Sprintf("expert-%d", e)
		path := filepath.Join(dir, id+".safetensors")
		if err := lora.WriteSnapshots(path, o.Schema, snaps, map[string]string{"task": id}); err != nil {
			t.Fatal(err)
		}
		lib.Experts = append(lib.Experts, plugin.Expert{ID: id, Description: "synthetic task " + id, Embedding: emb, SnapshotPath: path})
	}
	return lib
}

// Target is a unit-length target embedding of width dim drawn from seed.
func Target(dim int, seed uint64) []float32 {
	return unitVector(rand.New(rand.NewPCG(seed, 0x7a6)), dim)
}

func unitVector(r *rand.Rand, dim int) []float32 {
	v := make([]float64, dim)
	var n float64
	for i := range v {
		v[i] = r.NormFloat64()
		n += v[i] * v[i]
	}
	out := make([]float32, dim)
	for i := range v {
		out[i] = float32(v[i] / sqrtOr1(n))
	}
	return out
}

func sqrtOr1(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sqrt(x)
}
