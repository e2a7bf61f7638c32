import os
import tempfile
import unittest
from unittest import mock

import numpy as np

from evaluator import ClipEvaluator, batch_bounds
from sglab_plugin import Adapter, PluginError, Task, TrainOptions, Transform
from sglab_plugin.params import decode
from sglab_plugin.snapshots import read_snapshots

from . import FIXTURE, TINY_VOCAB, fixtures


def configured(**over):
    e = ClipEvaluator()
    given = {"model": "tiny", "weights": "random", "vocab": TINY_VOCAB, "coco_dir": os.path.join(FIXTURE, "coco"),
             "batch_size": 8, "lr": 1e-3, "threads": 1}
    given.update(over)
    values, errs = decode(e.params, given)
    assert not errs, errs
    e.configure(values)
    return e


def coco_task(category, tid=None):
    return Task(tid or category, f"a photo of a {category}", "coco", [], {"category": category})


class TestInfo(unittest.TestCase):
    def test_default_schema_is_the_papers(self):
        e = ClipEvaluator()  # Info needs no configuration and no weights
        s = e.schema()
        self.assertEqual(sum(m.size for m in s), 110592)
        self.assertEqual(s[0].name, "visual.transformer.resblocks.0.attn.q_proj")
        self.assertEqual([m.name for m in e.metrics()], ["i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10"])
        self.assertTrue(all(m.description and not m.lower_is_better for m in e.metrics()))
        self.assertEqual(e.headline(), ["i2t_r1", "t2i_r1"])
        self.assertEqual(e.datasets(), ["coco", "flowers", "pets"])


class TestConfigure(unittest.TestCase):
    def configure(self, given):
        e = ClipEvaluator()
        values, errs = decode(e.params, given)
        self.assertEqual(errs, [])
        with self.assertRaises(PluginError) as cm:
            e.configure(values)
        return str(cm.exception)

    def test_constraints_reported_at_once(self):
        _, errs = decode(ClipEvaluator().params, {"model": "ViT-Z", "rank": 0, "lr": 0, "batch_size": 1})
        self.assertEqual([e.split(":")[0] for e in errs],
                         ['parameter "batch_size"', 'parameter "lr"', 'parameter "model"', 'parameter "rank"'])
        self.assertIn("must be at least 2, got 1", errs[0])

    def test_missing_files_named_with_where_to_get_them(self):
        with tempfile.TemporaryDirectory() as d:
            msg = self.configure({"weights": "ViT-B-16.pt", "vocab": "bpe_simple_vocab_16e6.txt.gz",
                                  "coco_dir": "coco", "pets_dir": os.path.join(d, "pets")})
        self.assertIn('parameter "weights":', msg)
        self.assertIn("ViT-B-16.pt does not exist", msg)
        self.assertIn("openaipublic.azureedge.net/clip/models/5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt", msg)
        self.assertIn('parameter "vocab":', msg)
        self.assertIn("bpe_simple_vocab_16e6.txt.gz", msg)
        self.assertIn('parameter "coco_dir":', msg)
        self.assertIn("captions_train2017.json is missing; download", msg)
        self.assertIn("cocodataset.org", msg)
        self.assertIn('parameter "pets_dir":', msg)

    def test_relative_paths_from_the_experiment_folder(self):
        with mock.patch.dict(os.environ, {"SGLAB_EXPERIMENT_DIR": "/nowhere/experiments"}):
            msg = self.configure({"model": "tiny", "weights": "w/tiny.pt", "vocab": TINY_VOCAB})
        self.assertIn("/nowhere/experiments/w/tiny.pt does not exist", msg)

    def test_empty_weights(self):
        msg = self.configure({"vocab": TINY_VOCAB})
        self.assertIn('parameter "weights" is empty', msg)

    def test_bad_device(self):
        self.assertIn('"device": \'tpu\'', self.configure({"device": "tpu"}))

    def test_devices_round_robin_by_worker(self):
        with mock.patch("torch.cuda.is_available", return_value=False):
            with mock.patch.dict(os.environ, {"SGLAB_WORKER_INDEX": "2"}):
                e = configured(devices=["cpu", "cuda:0"])  # worker 2 of 2 devices: the first
                self.assertEqual(str(e.device), "cpu")
            with mock.patch.dict(os.environ, {"SGLAB_WORKER_INDEX": "1"}):
                with self.assertRaisesRegex(PluginError, 'parameter "devices": .cuda:0.*no CUDA'):
                    configured(devices=["cpu", "cuda:0"])


class TestTasks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.e = configured()

    def test_check_task(self):
        self.e.check_task(coco_task("star"))
        self.e.check_task(Task("c", "d", "coco", [], {"category": 5}))
        cases = [
            (Task("t", "d", "imagenet", [], {}), "unknown dataset 'imagenet'"),
            (Task("t", "d", "coco", [], {}), 'needs the parameter "category"'),
            (Task("t", "d", "coco", [], {"category": "star", "colour": "red"}), 'unknown parameter "colour"'),
            (Task("t", "d", "coco", [Transform("rotate", [45.0])], {"category": "star"}), "transforms"),
            (Task("t", "d", "coco", [], {"category": "hexagon"}), "no category 'hexagon'"),
            (Task("t", "d", "pets", [], {"class": "beagle"}), '"pets_dir" is empty'),
        ]
        for task, want in cases:
            with self.assertRaisesRegex(PluginError, want):
                self.e.check_task(task)

    def test_train_and_evaluate(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "star.safetensors")
            res = self.e.train(coco_task("star"), 1, TrainOptions(epochs=4, snapshots=2, rank=0, init_seed=5), out)
            self.assertEqual(res.snapshots, 2)
            self.assertLess(res.metrics["final_loss"], res.metrics["first_loss"])
            schema, snaps, meta = read_snapshots(out)
            self.assertEqual(snaps.shape, (2, sum(m.size for m in schema)))
            self.assertEqual(meta["task"], "star")
            self.assertEqual(meta["init_seed"], "5")
            self.assertEqual(meta["evaluator"], "clip 0.1.0")
            bare = self.e.evaluate(coco_task("star"), None, 1)
            zero = self.e.evaluate(coco_task("star"), Adapter.zeros(schema), 1)
            self.assertEqual(bare, zero)
            tuned = self.e.evaluate(coco_task("star"), Adapter(schema, snaps[-1]), 1)
            self.assertEqual(set(tuned), set(bare))
            self.assertTrue(all(0 <= v <= 100 for v in tuned.values()))

    def test_shared_init_across_tasks(self):
        e = configured(train_a=False)
        with tempfile.TemporaryDirectory() as d:
            flats = []
            for cat in ("star", "circle"):
                out = os.path.join(d, cat)
                e.train(coco_task(cat), 7, TrainOptions(epochs=2, snapshots=1, rank=0, init_seed=11), out)
                schema, snaps, _ = read_snapshots(out)
                flats.append(Adapter(schema, snaps[0]))
            a, b = flats
            for i in range(len(schema)):
                np.testing.assert_array_equal(a.A(i), b.A(i))  # A frozen at the one shared init
            self.assertFalse(np.array_equal(a.B(0), b.B(0)))  # B learned each task's data
            out = os.path.join(d, "other-seed")
            e.train(coco_task("star"), 7, TrainOptions(epochs=1, snapshots=1, rank=0, init_seed=12), out)
            schema, snaps, _ = read_snapshots(out)
            c = Adapter(schema, snaps[0])
            self.assertFalse(np.array_equal(a.A(0), c.A(0)))

    def test_same_seed_same_numbers(self):
        task = coco_task("circle")
        with tempfile.TemporaryDirectory() as d:
            for name in ("x", "y"):
                self.e.train(task, 3, TrainOptions(2, 2, 0, 1), os.path.join(d, name))
            np.testing.assert_array_equal(read_snapshots(os.path.join(d, "x"))[1], read_snapshots(os.path.join(d, "y"))[1])

    def test_bad_adapter(self):
        s = self.e.schema()
        with self.assertRaisesRegex(PluginError, "adapter has 3 modules"):
            self.e.evaluate(coco_task("star"), Adapter(s[:3], np.zeros(sum(m.size for m in s[:3]), np.float32)), 1)
        a = Adapter.zeros(s)
        a.params[5] = np.nan
        with self.assertRaisesRegex(PluginError, "parameter 5 is nan"):
            self.e.evaluate(coco_task("star"), a, 1)


class TestPaperDatasets(unittest.TestCase):
    def test_pets_and_flowers_tasks(self):
        with tempfile.TemporaryDirectory() as d:
            pets, flowers = os.path.join(d, "pets"), os.path.join(d, "flowers")
            rows = [(f"Bombay_{k}", 7) for k in range(1, 9)]
            fixtures.pets(pets, trainval=rows[:5], test=rows[5:],
                          captions={f"{img}.jpg": [f"a black cat number {k}"] for k, (img, _) in enumerate(rows)})
            labels = [3] * 10
            fixtures.flowers(flowers, labels, trnid=[1, 2, 3], valid=[4], tstid=[5, 6, 7, 8, 9, 10],
                             captions={f"image_{k:05d}.jpg": [f"a pink flower {k}", "petals"] for k in range(1, 11)})
            e = configured(coco_dir="", pets_dir=pets, flowers_dir=flowers, test_images=4)
            for task in (Task("bombay", "a photo of a Bombay", "pets", [], {"class": "bombay"}),
                         Task("f3", "a photo of a flower", "flowers", [], {"class": 3})):
                e.check_task(task)
                e.train(task, 1, TrainOptions(2, 1, 0, 1), os.path.join(d, task.id))
                got = e.evaluate(task, None, 1)
                self.assertEqual(len(got), 6)
            # test_images caps the test set, drawn by (task, seed)
            _, _, groups, _ = e._test_data(Task("f3", "", "flowers", [], {"class": 3}), 1)
            self.assertEqual(len(groups), 4)


class TestBatches(unittest.TestCase):
    def test_bounds(self):
        self.assertEqual(batch_bounds(10, 4), [0, 4, 8, 10])  # a last batch of half a batch is kept
        self.assertEqual(batch_bounds(9, 4), [0, 4, 9])  # a last batch of 1 joins the one before
        self.assertEqual(batch_bounds(3, 32), [0, 3])


if __name__ == "__main__":
    unittest.main()
