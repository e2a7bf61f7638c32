#!/usr/bin/python3
"""The CLIP evaluator plugin (evaluator.py) as an executable for the sglab runner:

    [evaluator]
    plugin = "../plugins/evaluator/clip/main.py"   # relative to the experiment file
"""

import os
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the repository
HERE = os.path.dirname(os.path.realpath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "..", "..", "framework", "plugin", "python")]

from evaluator import ClipEvaluator  # noqa: E402
from sglab_plugin import serve  # noqa: E402

if __name__ == "__main__":
    serve(ClipEvaluator())
