package cliptext_test

import (
	"path/filepath"
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugintest"
	"github.com/sglab/sglab/internal/pythontest"
)

// TestConformance runs the encoder suite over main.py, each check on a process of its
// own, with the tiny preset's random weights and the repository's tiny vocabulary. The
// documented defaults (ViT-B/16, weights and vocab "") need files only a user has, so
// the suite puts the tiny ones in as placeholders. BPE has no unknown words.
func TestConformance(t *testing.T) {
	spec := pythontest.Spec(t, "the cliptext plugin", pythontest.Torch, plugin.KindEncoder, "main.py")
	vocab, err := filepath.Abs("../../../datasets/fixtures/tiny-clip/bpe_tiny_vocab.txt.gz")
	if err != nil {
		t.Fatal(err)
	}
	tiny := plugin.Params{"model": "tiny", "weights": "random", "vocab": vocab}
	plugintest.Encoder(t, func(t testing.TB) plugin.Encoder {
		return plugintest.Launch(t, spec).Encoder()
	}, plugintest.EncoderOptions{
		Common: plugintest.Common{Name: "cliptext", Params: tiny, Placeholders: tiny,
			// Found by the plugin's own check (a file that must exist), reported with the rest.
			Bad: plugin.Params{"vocab": vocab + ".missing"}},
		Texts: []string{"a photo of a circle", "a photo of a red square", "a photo of a star"},
	})
}
