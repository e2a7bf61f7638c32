package reports

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/reports/stats"
)

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if !scalar.EqualWithinAbsOrRel(got, want, 1e-12, 1e-12) {
		t.Errorf("%s = %.17g, want %.17g", name, got, want)
	}
}

func trialRow(method, task string, seed uint64, sample int, i2t float64) results.Row {
	return results.Row{Kind: results.KindTrial, Split: "s", Task: task, Method: method, Seed: seed, Sample: sample,
		Metrics: map[string]float64{"i2t_r1": i2t, "t2i_r1": i2t / 2}}
}

func divRow(method, task string, seed uint64, dc float64) results.Row {
	return results.Row{Kind: results.KindDiversity, Split: "s", Task: task, Method: method, Seed: seed,
		Metrics: map[string]float64{"div_cos": dc}}
}

// handRows: generator G with three samples per (task, seed) and one failed sample, and a
// single-sample SG-LoRA missing one unit.
//
//	G i2t_r1 per unit (mean of samples): (a,1) 20, (b,1) 40, (a,2) 30, (b,2) 50
//	SG-LoRA:                             (a,1) 25, (b,1) 40, (a,2) 20
func handRows() []results.Row {
	rows := []results.Row{
		trialRow("G", "a", 1, 0, 10), trialRow("G", "a", 1, 1, 20), trialRow("G", "a", 1, 2, 30),
		trialRow("G", "b", 1, 0, 40), trialRow("G", "b", 1, 1, 40), trialRow("G", "b", 1, 2, 40),
		trialRow("G", "a", 2, 0, 25), trialRow("G", "a", 2, 1, 35), trialRow("G", "a", 2, 2, 30),
		trialRow("G", "b", 2, 0, 50), trialRow("G", "b", 2, 1, 50), trialRow("G", "b", 2, 2, 50),
		divRow("G", "a", 1, 0.1), divRow("G", "b", 1, 0.3), divRow("G", "a", 2, 0.2), divRow("G", "b", 2, 0.4),
		trialRow("SG-LoRA", "a", 1, 0, 25), trialRow("SG-LoRA", "b", 1, 0, 40), trialRow("SG-LoRA", "a", 2, 0, 20),
	}
	failed := trialRow("G", "b", 2, 3, 0)
	failed.Metrics, failed.Error = map[string]float64{}, "plugin crashed"
	return append(rows, failed)
}

func TestAggregateHandComputed(t *testing.T) {
	boot := stats.DefaultBootstrap
	rep, err := aggregate(handRows(), results.LegacyMetrics, nil, "", boot)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Splits) != 1 || rep.Trials != 16 || rep.DiversityRows != 4 || len(rep.Failed) != 1 {
		t.Fatalf("splits %d trials %d diversity %d failed %d", len(rep.Splits), rep.Trials, rep.DiversityRows, len(rep.Failed))
	}
	sp := rep.Splits[0]
	if sp.Reference != "SG-LoRA" || len(sp.Methods) != 2 || sp.Methods[0].Name != "G" {
		t.Fatalf("reference %q, methods %d", sp.Reference, len(sp.Methods))
	}
	g, ref := sp.Methods[0], sp.Methods[1]
	if g.Failed != 1 || g.Samples != 3 {
		t.Errorf("G: failed %d samples %d, want 1 and 3", g.Failed, g.Samples)
	}

	s := g.Scores["i2t_r1"]
	near(t, "mean", s.Mean, 35)
	// Per-seed task means 30 and 40: sample std √((25+25)/1).
	near(t, "std", s.Std, math.Sqrt(50))
	if s.Units != 4 || s.Seeds != 2 {
		t.Errorf("units %d seeds %d", s.Units, s.Seeds)
	}
	// The interval is the bootstrap of the unit values in (task, seed) order.
	if want := boot.MeanCI([]float64{20, 30, 40, 50}); s.CI != want {
		t.Errorf("CI %v, want %v", s.CI, want)
	}
	near(t, "t2i mean", g.Scores["t2i_r1"].Mean, 17.5)
	near(t, "per task a", g.PerTask["i2t_r1"]["a"], 25)
	near(t, "per task b", g.PerTask["i2t_r1"]["b"], 45)

	d := g.Div["div_cos"]
	near(t, "div mean", d.Mean, 0.25)
	near(t, "div std", d.Std, math.Sqrt(0.005)) // seed means 0.2 and 0.3
	if g.DivZero {
		t.Error("G has diversity rows; it must not be marked zero")
	}
	if !ref.DivZero || ref.Div["div_cos"].Mean != 0 || ref.Div["div_cos"].Units != 3 {
		t.Errorf("single-sample reference: DivZero %v, div %+v", ref.DivZero, ref.Div["div_cos"])
	}

	// Paired on (a,1), (a,2), (b,1): G − SG-LoRA = −5, +10, 0.
	p := g.Paired["i2t_r1"]
	if p.N != 3 {
		t.Fatalf("paired units %d, want 3", p.N)
	}
	near(t, "mean diff", p.MeanDiff, 5.0/3)
	near(t, "win rate", p.WinRate, 0.5) // 0 + 1 + ½
	if want := boot.Compare([]float64{20, 30, 40}, []float64{25, 20, 40}); p != want {
		t.Errorf("paired %+v, want %+v", p, want)
	}
	if ref.HasPaired {
		t.Error("the reference is compared with itself")
	}
}

func TestAggregateReferenceOverride(t *testing.T) {
	rep, err := aggregate(handRows(), results.LegacyMetrics, nil, "G", stats.DefaultBootstrap)
	if err != nil {
		t.Fatal(err)
	}
	sp := rep.Splits[0]
	if sp.Reference != "G" {
		t.Fatalf("reference %q", sp.Reference)
	}
	p := sp.method("SG-LoRA").Paired["i2t_r1"]
	near(t, "mean diff", p.MeanDiff, -5.0/3)
	near(t, "win rate", p.WinRate, 0.5)

	rep, err = aggregate(handRows(), results.LegacyMetrics, nil, "nope", stats.DefaultBootstrap)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Splits[0].Reference != "" || rep.Splits[0].method("G").HasPaired {
		t.Error("an absent reference must give no comparison")
	}
}

func TestAggregateBadRows(t *testing.T) {
	bad := trialRow("G", "a", 1, 0, math.NaN())
	if _, err := aggregate([]results.Row{bad}, results.LegacyMetrics, nil, "", stats.DefaultBootstrap); err == nil {
		t.Error("NaN metric accepted")
	}
	odd := trialRow("G", "a", 1, 0, 1)
	odd.Kind = "weird"
	if _, err := aggregate([]results.Row{odd}, results.LegacyMetrics, nil, "", stats.DefaultBootstrap); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestBest(t *testing.T) {
	mk := func(name, ref string, mean float64) *method {
		return &method{Name: name, Reference: ref, Scores: map[string]summary{"i2t_r1": {Mean: mean, Units: 1}}}
	}
	ms := []*method{mk("a", "", 50.004), mk("b", "", 49.996), mk("c", "", 40), mk("o", "oracle", 90), {Name: "empty", Scores: map[string]summary{}}}
	got := best(ms, results.Metric{Name: "i2t_r1"}, 2)
	if !got[ms[0]] || !got[ms[1]] || got[ms[2]] || got[ms[3]] || len(got) != 2 {
		t.Errorf("best = %v: want a and b (equal at 2 decimals), oracle excluded", got)
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{num(-0.001, 2), "0.00"},
		{num(math.NaN(), 2), dash},
		{signed(1.234, 2), "+1.23"},
		{signed(-0.001, 2), "0.00"},
		{pm(summary{Mean: 12.345, Std: 0.5, Units: 2}, 2, " ± "), "12.35 ± 0.50"},
		{pm(summary{Mean: 12.345, Std: math.NaN(), Units: 1}, 2, " ± "), "12.35"},
		{pm(summary{}, 2, " ± "), dash},
		{sigfig(summary{Mean: 0.11534, Std: 0.0109, Units: 2}, " ± "), "0.115 ± 0.011"},
		{sigfig(summary{Mean: 123.4, Std: 5.6, Units: 2}, " ± "), "123 ± 6"},
		{percent(0.625), "62.5%"},
		{mdEscape("a|b_c*d\ne"), `a\|b\_c\*d e`},
		{texEscape(`50% & top_k #1 {x} ~ \`), `50\% \& top\_k \#1 \{x\} \textasciitilde{} \textbackslash{}`},
		{fileSafe("lr/τ"), "lr__"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestRowOrderDoesNotMatter aggregates the golden journal in its own order and in
// shuffled orders (as a resumed run or merged Slurm shards append them) and checks that
// every method's scores, intervals and paired comparisons are the same bits.
func TestRowOrderDoesNotMatter(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", results.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := results.Decode(f, results.FileName)
	if err != nil {
		t.Fatal(err)
	}
	scores := func(rows []results.Row) map[string]string {
		rep, err := aggregate(rows, results.LegacyMetrics, nil, "", stats.DefaultBootstrap)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, sp := range rep.Splits {
			for _, m := range sp.Methods {
				out[sp.Name+"/"+m.Name] = fmt.Sprintf("%v %v %v %v", m.Scores, m.Div, m.Paired, m.PerTask)
			}
		}
		return out
	}
	want := scores(rows)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3 {
		shuffled := slices.Clone(rows)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		got := scores(shuffled)
		if len(got) != len(want) {
			t.Fatalf("shuffle %d: %d methods, in order %d", i, len(got), len(want))
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("shuffle %d: %s differs:\n got  %s\n want %s", i, k, got[k], w)
			}
		}
	}
}
