package figures

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"
)

// niceTicks labels about five round values (steps of 1, 2, 2.5 or 5 times a power of
// ten), all with the same number of decimals, and puts a minor tick halfway between.
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw*(1-1e-9) {
			step = m * mag
			break
		}
	}
	k := int(math.Floor(math.Log10(step) + 1e-9))
	decimals := max(0, -k)
	if r := step / math.Pow(10, float64(k)); math.Abs(r-2.5) < 1e-9 {
		decimals = max(0, 1-k)
	}
	first, last := math.Ceil(lo/step-1e-9), math.Floor(hi/step+1e-9)
	zero := strconv.FormatFloat(0, 'f', decimals, 64)
	var ticks []plot.Tick
	for i := first; i <= last; i++ {
		v := i * step
		label := strconv.FormatFloat(v, 'f', decimals, 64)
		if label == "-"+zero {
			label = zero
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
	}
	for i := first - 1; i <= last; i++ {
		if m := (i + 0.5) * step; m >= lo && m <= hi {
			ticks = append(ticks, plot.Tick{Value: m})
		}
	}
	return ticks
}
