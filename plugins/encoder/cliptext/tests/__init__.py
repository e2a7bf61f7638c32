"""Unit tests of the cliptext encoder. Run from plugins/encoder/cliptext:

    /usr/bin/python3 -m unittest discover -s tests -t .

(cliptext_test.go runs them under go test.)"""

import os
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
CLIPTEXT = os.path.dirname(HERE)
REPO = os.path.normpath(os.path.join(CLIPTEXT, "..", "..", ".."))
for p in (CLIPTEXT, os.path.join(REPO, "plugins", "evaluator", "clip"), os.path.join(REPO, "framework", "plugin", "python")):
    if p not in sys.path:
        sys.path.insert(0, p)

TINY_VOCAB = os.path.join(REPO, "datasets", "fixtures", "tiny-clip", "bpe_tiny_vocab.txt.gz")
COCO = os.path.join(REPO, "datasets", "fixtures", "tiny-clip", "coco")
