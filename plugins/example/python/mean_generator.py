#!/usr/bin/python3
"""A third-party generator in Python: the uniform mean of the experts' prototypes (Model
Soup). Name this file in an experiment: generator = "<path>/mean_generator.py"."""
import os
import sys

# The SDK lives in the repository; a plugin kept elsewhere sets PYTHONPATH instead.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "../../../framework/plugin/python"))

import numpy as np  # noqa: E402
from sglab_plugin import Adapter, Generator, PluginError, serve  # noqa: E402
from sglab_plugin.snapshots import prototype, read_snapshots  # noqa: E402


class MeanGenerator(Generator):
    name, version = "example-python-mean", "0.1.0"
    description = "example Python plugin: the uniform mean of the experts' prototypes"

    def fit(self, library, seed):
        if not library.experts:
            raise PluginError("the library has no experts")
        self.schema = library.schema
        self.mean = np.mean([prototype(read_snapshots(e.snapshot_path)[1]) for e in library.experts], axis=0)

    def generate(self, target, n, seed):
        return [Adapter(self.schema, self.mean) for _ in range(n)]


if __name__ == "__main__":
    serve(MeanGenerator())
