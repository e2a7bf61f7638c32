package adaptersoup

import (
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	bt "github.com/sglab/sglab/internal/generator/baseline/baselinetest"
)

func TestUniformMeanOfTopK(t *testing.T) {
	// Top-2 for (1,0): experts 0 and 2.
	bt.Near(t, bt.Run(t, New, plugin.Params{"top_k": int64(2)}, 1, 1)[0], []float64{2.5, -3, 1.25, -1.4})
	// The default K = 4 exceeds the library: all three.
	bt.Near(t, bt.Run(t, New, nil, 1, 1)[0], []float64{7.0 / 3, -1, 3.5 / 3, -3.8 / 3})
	bt.Rejects(t, New, map[string]plugin.Params{"top_k": {"top_k": int64(0)}, "tau": {"tau": 0.1}})
	bt.Describes(t, New, "adaptersoup", "Chronopoulou")
}
