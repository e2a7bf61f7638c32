import os
import tempfile
import unittest
import warnings

import torch
from torch import nn

from clipmodel import PRESETS, build
from clipmodel.lora import LoRA, b_mask, init_flat, module_name, num_params, schema_shapes
from clipmodel.model import CLIP, Attention, random_init
from clipmodel.weights import is_torchscript
from sglab_plugin import Module


def tiny_schema(rank=2, alpha=1.0):
    return [Module(n, i, o, rank, alpha) for n, i, o in schema_shapes(PRESETS["tiny"])]


class TestArchitecture(unittest.TestCase):
    def test_paper_adapter_size(self):
        # SG-LoRA: CLIP ViT-B/16, rank 2 on W_q, W_k, W_v of the 12 visual blocks.
        self.assertEqual(num_params(PRESETS["ViT-B/16"], 2), 110592)
        shapes = schema_shapes(PRESETS["ViT-B/16"])
        self.assertEqual(len(shapes), 36)
        self.assertEqual(shapes[0], ("visual.transformer.resblocks.0.attn.q_proj", 768, 768))
        self.assertEqual(shapes[-1][0], "visual.transformer.resblocks.11.attn.v_proj")
        self.assertEqual(module_name(3, 1), "visual.transformer.resblocks.3.attn.k_proj")

    def test_state_dict_keys_are_openai_names(self):
        keys = set(CLIP(PRESETS["tiny"]).state_dict())
        for k in ("visual.conv1.weight", "visual.class_embedding", "visual.positional_embedding",
                  "visual.ln_pre.weight", "visual.transformer.resblocks.1.attn.in_proj_weight",
                  "visual.transformer.resblocks.1.attn.in_proj_bias", "visual.transformer.resblocks.1.attn.out_proj.weight",
                  "visual.transformer.resblocks.0.mlp.c_fc.weight", "visual.transformer.resblocks.0.mlp.c_proj.bias",
                  "visual.transformer.resblocks.0.ln_2.bias", "visual.ln_post.weight", "visual.proj",
                  "token_embedding.weight", "positional_embedding", "transformer.resblocks.0.attn.in_proj_weight",
                  "ln_final.weight", "text_projection", "logit_scale"):
            self.assertIn(k, keys)
        self.assertNotIn("attn_mask", keys)  # a buffer, not a weight
        self.assertFalse(any(k.startswith("visual.conv1.bias") for k in keys))

    def test_attention_matches_torch_multihead(self):
        torch.manual_seed(0)
        d, h, n, l = 16, 4, 3, 5
        ours, ref = Attention(d, h), nn.MultiheadAttention(d, h, batch_first=True)
        nn.init.normal_(ours.in_proj_weight, std=0.3)
        nn.init.normal_(ours.in_proj_bias, std=0.1)
        ref.load_state_dict(ours.state_dict())
        x = torch.randn(n, l, d)
        mask = torch.full((l, l), float("-inf")).triu(1)
        torch.testing.assert_close(ours(x), ref(x, x, x, need_weights=False)[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ours(x, mask), ref(x, x, x, need_weights=False, attn_mask=mask)[0],
                                   atol=1e-5, rtol=1e-5)

    def test_text_features_read_at_end_token(self):
        m = random_init(CLIP(PRESETS["tiny"]), 1)
        a = torch.zeros(1, 24, dtype=torch.long)
        a[0, :4] = torch.tensor([612, 5, 6, 613])
        b = a.clone()
        b[0, 6] = 7  # after the end token: the causal mask hides it from the end token
        torch.testing.assert_close(m.encode_text(a), m.encode_text(b))


class TestLoRA(unittest.TestCase):
    def setUp(self):
        self.model = random_init(CLIP(PRESETS["tiny"]), 3).eval()
        self.images = torch.randn(2, 3, 32, 32)

    def test_fresh_adapter_changes_nothing(self):
        schema = tiny_schema()
        flat = init_flat(schema, torch.Generator().manual_seed(1))
        with torch.no_grad():
            torch.testing.assert_close(self.model.encode_image(self.images, LoRA(schema, flat)),
                                       self.model.encode_image(self.images))

    def test_update_equals_merged_weights(self):
        schema = tiny_schema(rank=2, alpha=4.0)
        g = torch.Generator().manual_seed(2)
        flat = torch.randn(sum(m.out_features * m.rank + m.rank * m.in_features for m in schema), generator=g) * 0.1
        lora = LoRA(schema, flat)
        with torch.no_grad():
            got = self.model.encode_image(self.images, lora)
            for blk, resblock in enumerate(self.model.visual.transformer.resblocks):
                w = resblock.attn.in_proj_weight
                for j in range(3):
                    b, a, s = lora.mods[3 * blk + j]
                    self.assertEqual(s, 2.0)
                    w[j * 32:(j + 1) * 32] += s * b @ a
            want = self.model.encode_image(self.images)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)

    def test_canonical_order_is_b_then_a(self):
        schema = tiny_schema(rank=2)
        flat = torch.arange(float(sum(m.out_features * 2 + 2 * m.in_features for m in schema)))
        b, a, _ = LoRA(schema, flat).mods[1]
        off = 32 * 2 + 2 * 32
        self.assertEqual(b[0, 0].item(), off)
        self.assertEqual(a[0, 0].item(), off + 64)
        mask = b_mask(schema)
        self.assertTrue(torch.equal(mask[off:off + 64], torch.ones(64)))
        self.assertTrue(torch.equal(mask[off + 64:off + 128], torch.zeros(64)))

    def test_init_is_peft_and_seeded(self):
        schema = tiny_schema()
        f1 = init_flat(schema, torch.Generator().manual_seed(9))
        f2 = init_flat(schema, torch.Generator().manual_seed(9))
        self.assertTrue(torch.equal(f1, f2))
        b, a, _ = LoRA(schema, f1).mods[0]
        self.assertTrue(torch.equal(b, torch.zeros_like(b)))
        self.assertLessEqual(a.abs().max().item(), 32 ** -0.5)
        self.assertGreater(a.abs().max().item(), 0.5 * 32 ** -0.5)


class TestWeights(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.model = random_init(CLIP(PRESETS["tiny"]), 4).eval()
        self.images = torch.randn(2, 3, 32, 32)
        self.tokens = torch.zeros(2, 24, dtype=torch.long)
        self.tokens[:, 0], self.tokens[:, 1], self.tokens[:, 2] = 612, 9, 613

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def same(self, loaded):
        with torch.no_grad():
            torch.testing.assert_close(loaded.encode_image(self.images), self.model.encode_image(self.images))
            torch.testing.assert_close(loaded.encode_text(self.tokens), self.model.encode_text(self.tokens))

    def test_plain_state_dict_in_half_precision(self):
        sd = {k: v.half() for k, v in self.model.state_dict().items()}
        sd["input_resolution"] = torch.tensor(32)  # OpenAI's archives carry these beside the weights
        torch.save(sd, self.path("w.pt"))
        m, digest = build("tiny", self.path("w.pt"))
        self.assertEqual(m.visual.proj.dtype, torch.float32)
        self.assertEqual(len(digest), 64)
        with torch.no_grad():
            torch.testing.assert_close(m.encode_image(self.images), self.model.encode_image(self.images),
                                       atol=5e-2, rtol=5e-2)

    def test_open_clip_training_checkpoint(self):
        sd = {"module." + k: v for k, v in self.model.state_dict().items()}
        torch.save({"epoch": 3, "name": "run", "state_dict": sd}, self.path("epoch_3.pt"))
        self.same(build("tiny", self.path("epoch_3.pt"))[0])

    def test_torchscript_archive(self):
        # OpenAI's released checkpoints are traced CLIP modules saved with torch.jit.save.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on constant shapes
            traced = torch.jit.trace(self.model, (self.images, self.tokens), check_trace=False)
        torch.jit.save(traced, self.path("ts.pt"))
        self.assertTrue(is_torchscript(self.path("ts.pt")))
        self.same(build("tiny", self.path("ts.pt"))[0])
        torch.save(self.model.state_dict(), self.path("plain.pt"))
        self.assertFalse(is_torchscript(self.path("plain.pt")))

    def test_wrong_architecture_names_the_key(self):
        sd = self.model.state_dict()
        sd["visual.proj"] = torch.zeros(32, 16)
        torch.save(sd, self.path("bad.pt"))
        with self.assertRaisesRegex(ValueError, r"visual\.proj has shape \[32, 16\].*expects \[32, 32\]"):
            build("tiny", self.path("bad.pt"))
        del sd["visual.proj"]
        torch.save(sd, self.path("missing.pt"))
        with self.assertRaisesRegex(ValueError, "lacks 1 of the tiny weights"):
            build("tiny", self.path("missing.pt"))

    def test_random_weights_are_seeded(self):
        a, da = build("tiny", "random")
        b, db = build("tiny", "random")
        self.assertEqual(da, db)
        self.assertTrue(torch.equal(a.visual.proj, b.visual.proj))


if __name__ == "__main__":
    unittest.main()
