"""Unit tests of the CLIP evaluator's Python parts. Run from plugins/evaluator/clip:

    /usr/bin/python3 -m unittest discover -s tests -t .

(clip_test.go runs them under go test.)"""

import os
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
CLIP = os.path.dirname(HERE)
REPO = os.path.normpath(os.path.join(CLIP, "..", "..", ".."))
for p in (CLIP, os.path.join(REPO, "framework", "plugin", "python")):
    if p not in sys.path:
        sys.path.insert(0, p)

FIXTURE = os.path.join(REPO, "datasets", "fixtures", "tiny-clip")
TINY_VOCAB = os.path.join(FIXTURE, "bpe_tiny_vocab.txt.gz")
