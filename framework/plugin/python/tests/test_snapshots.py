"""Snapshot files, safetensors and PEFT adapters in framework/lora's formats."""

import json
import os
import struct
import tempfile
import unittest

import numpy as np

from sglab_plugin import Adapter, Module, num_params
from sglab_plugin.peft import CONFIG_FILE, WEIGHTS_FILE, load_peft, save_peft
from sglab_plugin.safetensors import (decode_safetensors, encode_safetensors, go_float, read_safetensors,
                                      write_safetensors)
from sglab_plugin.snapshots import read_snapshots, schema_json, write_snapshots

SCHEMA = [Module("visual.blocks.0.attn.q_proj", 3, 4, 2, 4.0), Module("visual.blocks.0.attn.v_proj", 5, 2, 1, 0.5)]


class Temp(unittest.TestCase):
    def setUp(self):
        self._dir = tempfile.TemporaryDirectory()
        self.dir = self._dir.name

    def tearDown(self):
        self._dir.cleanup()


class TestSnapshots(Temp):
    def test_round_trip(self):
        rng = np.random.default_rng(3)
        snaps = rng.standard_normal((5, num_params(SCHEMA))).astype(np.float32)
        path = os.path.join(self.dir, "s.safetensors")
        write_snapshots(path, SCHEMA, snaps, {"expert": "digits/rot45"})
        schema, got, meta = read_snapshots(path)
        self.assertEqual(schema, SCHEMA)
        np.testing.assert_array_equal(got, snaps)
        self.assertEqual(meta, {"expert": "digits/rot45"})
        self.assertEqual(os.listdir(self.dir), ["s.safetensors"])  # no temporary left behind

    def test_layout_is_go_s(self):
        # Per module A [M, r, in] then B [M, out, r], "format" and "schema" metadata,
        # the header padded to 8 bytes.
        snaps = [Adapter(SCHEMA, np.arange(num_params(SCHEMA)) + 100 * m) for m in range(2)]
        path = os.path.join(self.dir, "s.safetensors")
        write_snapshots(path, SCHEMA, snaps)
        with open(path, "rb") as f:
            data = f.read()
        (n,) = struct.unpack_from("<Q", data)
        self.assertEqual((8 + n) % 8, 0)
        header = json.loads(data[8:8 + n])
        self.assertEqual(header["__metadata__"]["format"], "sglab-snapshots")
        self.assertEqual(header["__metadata__"]["schema"],
                         '[{"name":"visual.blocks.0.attn.q_proj","in":3,"out":4,"rank":2,"alpha":4},'
                         '{"name":"visual.blocks.0.attn.v_proj","in":5,"out":2,"rank":1,"alpha":0.5}]')
        ts, _ = decode_safetensors(data)
        self.assertEqual(list(ts), [m.name + s for m in SCHEMA for s in (".lora_A.weight", ".lora_B.weight")])
        a0 = ts["visual.blocks.0.attn.q_proj.lora_A.weight"]
        self.assertEqual(a0.shape, (2, 2, 3))
        np.testing.assert_array_equal(a0[1], snaps[1].A(0))
        np.testing.assert_array_equal(ts["visual.blocks.0.attn.v_proj.lora_B.weight"][0], snaps[0].B(1))

    def test_refusals(self):
        path = os.path.join(self.dir, "s.safetensors")
        bad = np.zeros((2, num_params(SCHEMA)), np.float32)
        bad[1, 7] = np.inf
        with self.assertRaisesRegex(ValueError, "snapshot 1: parameter 7 is inf"):
            write_snapshots(path, SCHEMA, bad)
        with self.assertRaisesRegex(ValueError, "reserved"):
            write_snapshots(path, SCHEMA, bad[:1], {"schema": "x"})
        with self.assertRaisesRegex(ValueError, "no snapshots"):
            write_snapshots(path, SCHEMA, np.zeros((0, num_params(SCHEMA))))
        with self.assertRaisesRegex(ValueError, "20 values, schema needs 21"):
            write_snapshots(path, SCHEMA, np.zeros((1, 20)))
        self.assertFalse(os.listdir(self.dir))
        write_safetensors(path, {"x": np.zeros(3)})
        with self.assertRaisesRegex(ValueError, f"read snapshots {path}: metadata format"):
            read_snapshots(path)

    def test_half_precision_files_read(self):
        # PEFT banks are often F16 or BF16; the reader widens them exactly.
        snaps = np.array([[0.5, -2, 3.25, 1e-3] * 5 + [7]], np.float32)
        ts = {}
        off = 0
        for m in SCHEMA:
            nb, na = m.out_features * m.rank, m.rank * m.in_features
            ts[m.name + ".lora_A.weight"] = snaps[:, off + nb:off + nb + na].reshape(1, m.rank, m.in_features)
            ts[m.name + ".lora_B.weight"] = snaps[:, off:off + nb].reshape(1, m.out_features, m.rank)
            off += nb + na
        data = bytearray(encode_safetensors(ts, {"format": "sglab-snapshots", "schema": schema_json(SCHEMA)}))
        (n,) = struct.unpack_from("<Q", data)
        # Rewrite as F16: the header's dtype and offsets, then the data.
        header = json.loads(data[8:8 + n])
        off, body = 0, b""
        for name in ts:
            a = ts[name].astype(np.float16)
            header[name] = {"dtype": "F16", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
            off += a.nbytes
            body += a.tobytes()
        h = json.dumps(header).encode()
        path = os.path.join(self.dir, "h.safetensors")
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h + body)
        _, got, _ = read_snapshots(path)
        np.testing.assert_array_equal(got, snaps.astype(np.float16).astype(np.float32))


class TestSafetensors(Temp):
    def test_round_trip_and_strictness(self):
        ts = {"b": np.ones((2, 3)), "a": np.arange(4.0), "s": np.float32(2)}
        path = os.path.join(self.dir, "t.safetensors")
        write_safetensors(path, ts, {"k": "v"})
        got, meta = read_safetensors(path)
        self.assertEqual(list(got), ["b", "a", "s"])  # data order
        self.assertEqual(got["s"].shape, ())
        np.testing.assert_array_equal(got["a"], ts["a"])
        self.assertEqual(meta, {"k": "v"})
        data = encode_safetensors(ts)
        for bad, want in [(data + bytes(4), "tensors cover"), (data[:-4], "run past"),
                          (data[:6], "fewer than the 8-byte"),
                          (struct.pack("<Q", 10**9) + data[8:], "exceeds")]:
            with self.subTest(want=want), self.assertRaisesRegex(ValueError, want):
                decode_safetensors(bad)

    def test_go_float(self):
        cases = {4.0: "4", 0.5: "0.5", 1e-7: "1e-7", 1.5e-10: "1.5e-10", 1e21: "1e+21", 1e20: "100000000000000000000",
                 1e-6: "0.000001", -2.25: "-2.25"}
        for x, want in cases.items():
            self.assertEqual(go_float(x), want)


class TestPEFT(Temp):
    def test_round_trip(self):
        schema = SCHEMA + [Module("visual.blocks.1.attn.q_proj", 3, 4, 3, 4.0)]
        a = Adapter(schema, np.random.default_rng(5).standard_normal(num_params(schema)))
        save_peft(self.dir, a, "org/backbone")
        with open(os.path.join(self.dir, CONFIG_FILE)) as f:
            cfg = json.load(f)
        self.assertEqual((cfg["r"], cfg["lora_alpha"], cfg["peft_type"]), (2, 4, "LORA"))
        self.assertEqual(cfg["base_model_name_or_path"], "org/backbone")
        self.assertEqual(cfg["target_modules"], ["q_proj", "v_proj"])
        self.assertEqual(cfg["rank_pattern"], {"visual.blocks.0.attn.v_proj": 1, "visual.blocks.1.attn.q_proj": 3})
        self.assertEqual(cfg["alpha_pattern"], {"visual.blocks.0.attn.v_proj": 0.5})
        ts, meta = read_safetensors(os.path.join(self.dir, WEIGHTS_FILE))
        self.assertEqual(meta, {"format": "pt"})
        self.assertIn("base_model.model.visual.blocks.0.attn.q_proj.lora_A.weight", ts)
        b = load_peft(self.dir)
        self.assertEqual(b.schema, schema)
        np.testing.assert_array_equal(b.params, a.params)

    def test_rslora_and_refusals(self):
        a = Adapter(SCHEMA[:1], np.ones(num_params(SCHEMA[:1])))
        save_peft(self.dir, a)
        path = os.path.join(self.dir, CONFIG_FILE)
        with open(path) as f:
            cfg = json.load(f)
        cfg["use_rslora"] = True
        with open(path, "w") as f:
            json.dump(cfg, f)
        self.assertAlmostEqual(load_peft(self.dir).schema[0].alpha, 4 * 2 ** 0.5)
        cfg["use_dora"] = True
        with open(path, "w") as f:
            json.dump(cfg, f)
        with self.assertRaisesRegex(ValueError, "DoRA"):
            load_peft(self.dir)


if __name__ == "__main__":
    unittest.main()
