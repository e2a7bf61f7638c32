package clip_test

import (
	"maps"
	"path/filepath"
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugintest"
	"github.com/sglab/sglab/framework/task"
	"github.com/sglab/sglab/internal/pythontest"
)

// TestConformance runs the evaluator suite over main.py, each check on a process of its
// own: the tiny preset with random weights on the repository's tiny COCO, one epoch of
// one batch. The documented defaults (ViT-B/16, weights and vocab "") need files only a
// user has, so the suite puts the tiny ones in as placeholders.
func TestConformance(t *testing.T) {
	spec := pythontest.Spec(t, "the CLIP plugin", pythontest.Torch, plugin.KindEvaluator, "main.py")
	spec.Env = []string{"SGLAB_CACHE=" + t.TempDir()}
	fixtures, err := filepath.Abs("../../../datasets/fixtures/tiny-clip")
	if err != nil {
		t.Fatal(err)
	}
	tiny := plugin.Params{"model": "tiny", "weights": "random", "vocab": filepath.Join(fixtures, "bpe_tiny_vocab.txt.gz")}
	params := plugin.Params{
		"coco_dir": filepath.Join(fixtures, "coco"), "threads": int64(1),
		"batch_size": int64(8), "train_images": int64(8), "test_images": int64(8),
	}
	maps.Copy(params, tiny)
	plugintest.Evaluator(t, func(t testing.TB) plugin.Evaluator {
		return plugintest.Launch(t, spec).Evaluator()
	}, plugintest.EvaluatorOptions{
		Common: plugintest.Common{Name: "clip", Params: params, Placeholders: tiny,
			// Found by the plugin's own check (a folder that must exist), reported with the rest.
			Bad: plugin.Params{"coco_dir": filepath.Join(fixtures, "no-such-folder")}},
		Task:  task.Task{ID: "coco-circle", Description: "a photo of a circle", Dataset: "coco", Params: map[string]any{"category": "circle"}},
		Train: plugin.TrainOptions{Epochs: 1, Snapshots: 1},
		Range: &[2]float64{0, 100},
	})
}
