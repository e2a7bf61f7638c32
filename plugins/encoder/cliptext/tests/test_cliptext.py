import unittest

import numpy as np

from cliptext import ClipText
from evaluator import ClipEvaluator
from sglab_plugin import PluginError
from sglab_plugin.params import decode

from . import COCO, TINY_VOCAB


def configure(plugin, **given):
    values, errs = decode(plugin.params, given)
    assert not errs, errs
    plugin.configure(values)
    return plugin


class TestClipText(unittest.TestCase):
    def test_unit_vectors_in_the_evaluators_space(self):
        enc = configure(ClipText(), model="tiny", weights="random", vocab=TINY_VOCAB)
        texts = ["a photo of a star", "a photo of a circle", "a photo of a star"]
        out = enc.embed(texts)
        self.assertEqual(len(out), 3)
        for v in out:
            self.assertEqual(v.dtype, np.float32)
            self.assertEqual(v.shape, (32,))
            self.assertAlmostEqual(float(np.linalg.norm(v)), 1.0, places=5)
        # A description's vector, bit for bit, whatever it is embedded with (an optimised
        # BLAS such as OpenBLAS gives a batched row other bits than the row alone).
        np.testing.assert_array_equal(out[0], out[2])
        np.testing.assert_array_equal(out[0], enc.embed(texts[:1])[0])
        np.testing.assert_array_equal(out[1], enc.embed(["a photo of a star"] * 5 + texts[1:2])[5])
        self.assertFalse(np.allclose(out[0], out[1]))
        # The same files give the evaluator's caption embeddings: one semantic space.
        ev = configure(ClipEvaluator(), model="tiny", weights="random", vocab=TINY_VOCAB, coco_dir=COCO)
        np.testing.assert_allclose(ev._embed_texts(texts[:2]).numpy(), np.stack(out[:2]), atol=1e-6)

    def test_missing_files(self):
        values, _ = decode(ClipText.params, {"weights": "/no/ViT-B-16.pt", "vocab": "/no/bpe_simple_vocab_16e6.txt.gz"})
        with self.assertRaises(PluginError) as cm:
            ClipText().configure(values)
        msg = str(cm.exception)
        self.assertIn('parameter "weights": /no/ViT-B-16.pt does not exist; OpenAI\'s ViT-B/16 weights: https://', msg)
        self.assertIn('parameter "vocab": /no/bpe_simple_vocab_16e6.txt.gz does not exist', msg)

    def test_not_configured(self):
        with self.assertRaisesRegex(PluginError, "not configured"):
            ClipText().embed(["x"])


if __name__ == "__main__":
    unittest.main()
