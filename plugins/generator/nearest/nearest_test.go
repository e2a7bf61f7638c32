package nearest

import (
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	bt "github.com/sglab/sglab/internal/generator/baseline/baselinetest"
)

func TestTopOne(t *testing.T) {
	out := bt.Run(t, New, nil, 3, 1)
	for _, o := range out {
		bt.Near(t, o, []float64{4, -1, 0.5, -3})
	}
	bt.Rejects(t, New, map[string]plugin.Params{"top_k": {"top_k": int64(1)}})
	bt.Describes(t, New, "nearest", "Chronopoulou")
}
