import os
import tempfile
import time
import unittest

import numpy as np

from clipdata import Coco, Flowers, Pets, read_captions
from clipdata.matfile import loadmat

from . import fixtures


class TestCoco(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.root = os.path.join(self.dir.name, "coco")
        fixtures.coco(self.root, "val2017", [
            (139, "000000000139.jpg", ["a dog on a sofa", "a brown dog"], [18]),
            (285, "000000000285.jpg", ["a bear in the grass"], [23]),
            (632, "000000000632.jpg", ["a dog and a bear", "two animals"], [18, 23]),
            (724, "000000000724.jpg", [], [18]),  # no caption
        ], {18: "dog", 23: "bear", 90: "toothbrush"})
        self.cache = os.path.join(self.dir.name, "cache")

    def tearDown(self):
        self.dir.cleanup()

    def test_category_task(self):
        c = Coco(self.root, "val2017", self.cache)
        self.assertIsNone(c.missing())
        self.assertEqual(c.category_id("Dog"), 18)
        self.assertEqual(c.category_id(23), 23)
        items, uncaptioned = c.items(18)
        self.assertEqual([os.path.basename(i.path) for i in items], ["000000000139.jpg", "000000000632.jpg"])
        self.assertEqual(items[1].captions, ("a dog and a bear", "two animals"))
        self.assertEqual(uncaptioned, 1)
        self.assertEqual(c.items(90), ([], 0))
        with self.assertRaisesRegex(ValueError, "no category 'cat'.*bear, dog, toothbrush"):
            c.category_id("cat")

    def test_index_cache(self):
        Coco(self.root, "val2017", self.cache).items(18)
        files = os.listdir(self.cache)
        self.assertEqual(len(files), 1)
        self.assertTrue(files[0].startswith("coco-val2017-"))
        self.assertEqual(Coco(self.root, "val2017", self.cache).items(23)[0][0].captions, ("a bear in the grass",))
        # A changed annotation file is a new index.
        time.sleep(0.01)
        fixtures.coco(self.root, "val2017", [(1, "1.jpg", ["a bear"], [23])], {23: "bear"})
        self.assertEqual(len(Coco(self.root, "val2017", self.cache).items(23)[0]), 1)
        self.assertEqual(len(os.listdir(self.cache)), 2)

    def test_missing(self):
        c = Coco(self.root, "train2017")
        self.assertEqual(c.missing(), os.path.join(self.root, "annotations", "captions_train2017.json"))


class TestPets(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.root = self.dir.name
        fixtures.pets(self.root,
                      trainval=[("Abyssinian_1", 1), ("Abyssinian_2", 1), ("american_bulldog_10", 2)],
                      test=[("Abyssinian_100", 1), ("american_bulldog_5", 2), ("Abyssinian_101", 1)],
                      captions={"Abyssinian_1.jpg": ["a ginger cat"], "Abyssinian_2.jpg": ["a cat", "a sleepy cat"],
                                "Abyssinian_100.jpg": ["a cat on a bed"], "american_bulldog_10.jpg": ["a white dog"]})

    def tearDown(self):
        self.dir.cleanup()

    def test_breed_task(self):
        p = Pets(self.root, os.path.join(self.root, "captions.jsonl"))
        self.assertIsNone(p.missing())
        self.assertEqual(p.class_id("abyssinian"), 1)
        self.assertEqual(p.class_id("American Bulldog"), 2)
        self.assertEqual(p.class_id(2), 2)
        items, none = p.items(1, "train")
        self.assertEqual([os.path.basename(i.path) for i in items], ["Abyssinian_1.jpg", "Abyssinian_2.jpg"])
        self.assertEqual(none, 0)
        items, none = p.items(1, "test")
        self.assertEqual(len(items), 1)
        self.assertEqual(none, 1)
        with self.assertRaisesRegex(ValueError, "no class 'sphynx'"):
            p.class_id("sphynx")


class TestMatfile(unittest.TestCase):
    def test_reads_what_matlab_writes(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.mat")
            labels = np.array([[77, 77, 3, 102, 1]])
            ids = np.array([[1, 300, 8189]])
            fixtures.mat5(path, {"labels": labels, "ids": ids})
            got = loadmat(path)
            self.assertEqual(got["labels"].shape, (1, 5))
            self.assertEqual(got["labels"].dtype, np.float64)
            np.testing.assert_array_equal(got["labels"], labels)
            np.testing.assert_array_equal(got["ids"], ids)

    def test_scipy_files(self):
        try:
            from scipy.io import savemat
        except ImportError:
            self.skipTest("python3-scipy is not installed; the MAT reader is checked against the test's own writer only")
        with tempfile.TemporaryDirectory() as d:
            for compress in (False, True):
                path = os.path.join(d, f"s{compress}.mat")
                m = np.arange(12, dtype=float).reshape(3, 4)
                savemat(path, {"m": m, "n": np.array([[5, 6]], dtype=np.uint16)}, do_compression=compress)
                got = loadmat(path)
                np.testing.assert_array_equal(got["m"], m)
                np.testing.assert_array_equal(got["n"], [[5, 6]])

    def test_refuses_other_files(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "h.mat")
            with open(path, "wb") as f:
                f.write(b"MATLAB 7.3 MAT-file".ljust(512, b" "))
            with self.assertRaisesRegex(ValueError, "7.3"):
                loadmat(path)


class TestFlowers(unittest.TestCase):
    def test_class_task(self):
        with tempfile.TemporaryDirectory() as root:
            labels = [1, 1, 2, 1, 2, 1, 1]
            fixtures.flowers(root, labels, trnid=[1, 3], valid=[2, 5], tstid=[4, 6, 7],
                             captions={f"image_{k:05d}.jpg": [f"flower {k}"] for k in range(1, 7)})
            f = Flowers(root, os.path.join(root, "captions.jsonl"))
            self.assertIsNone(f.missing())
            self.assertEqual(f.classes(), [1, 2])
            items, none = f.items(1, "train")
            self.assertEqual([i.captions[0] for i in items], ["flower 1", "flower 2"])
            items, none = f.items(1, "test")
            self.assertEqual([i.captions[0] for i in items], ["flower 4", "flower 6"])
            self.assertEqual(none, 1)  # image 7 has no caption
            with self.assertRaisesRegex(ValueError, "label number.*1–2"):
                f.class_id("rose")


class TestCaptions(unittest.TestCase):
    def test_errors_name_the_line(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "c.jsonl")
            with open(path, "w") as f:
                f.write('{"image": "a.jpg", "captions": ["x"]}\n\n{"image": "b.jpg", "captions": []}\n')
            with self.assertRaisesRegex(ValueError, r"c\.jsonl:3: \"captions\" must be"):
                read_captions(path)


if __name__ == "__main__":
    unittest.main()
