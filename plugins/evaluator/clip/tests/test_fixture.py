import filecmp
import gzip
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from PIL import Image

from . import FIXTURE


class TestFixture(unittest.TestCase):
    def test_make_rebuilds_the_committed_fixture(self):
        """datasets/fixtures/tiny-clip is what its make.py writes: the same annotations and
        vocabulary, and images with the same pixels (PNG bytes may vary with zlib)."""
        with tempfile.TemporaryDirectory() as d:
            subprocess.run([sys.executable, os.path.join(FIXTURE, "make.py"), d], check=True,
                           env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
            with gzip.open(os.path.join(d, "bpe_tiny_vocab.txt.gz")) as a, \
                    gzip.open(os.path.join(FIXTURE, "bpe_tiny_vocab.txt.gz")) as b:
                self.assertEqual(a.read(), b.read())
            ann = os.path.join("coco", "annotations")
            names = sorted(os.listdir(os.path.join(FIXTURE, ann)))
            self.assertEqual(names, sorted(os.listdir(os.path.join(d, ann))))
            for name in names:
                self.assertTrue(filecmp.cmp(os.path.join(d, ann, name), os.path.join(FIXTURE, ann, name), shallow=False), name)
            for s in ("train2017", "val2017"):
                files = sorted(os.listdir(os.path.join(FIXTURE, "coco", s)))
                self.assertEqual(files, sorted(os.listdir(os.path.join(d, "coco", s))))
                for f in files:
                    a = np.asarray(Image.open(os.path.join(d, "coco", s, f)))
                    b = np.asarray(Image.open(os.path.join(FIXTURE, "coco", s, f)))
                    self.assertTrue(np.array_equal(a, b), f)


if __name__ == "__main__":
    unittest.main()
