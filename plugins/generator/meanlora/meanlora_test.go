package meanlora

import (
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	bt "github.com/sglab/sglab/internal/generator/baseline/baselinetest"
)

func TestMeanOfAll(t *testing.T) {
	out := bt.Run(t, New, nil, 2, 1)
	want := []float64{7.0 / 3, -1, 3.5 / 3, -3.8 / 3}
	bt.Near(t, out[0], want)
	bt.Near(t, out[1], want)
	bt.Rejects(t, New, map[string]plugin.Params{"top_k": {"top_k": int64(2)}})
	bt.Describes(t, New, "mean-lora", "Wortsman")
}
