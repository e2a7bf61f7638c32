#!/usr/bin/python3
"""Fake Python plugins for framework/plugin's tests (python_test.go), one per value of
SGLAB_PY_FAKE, served through the real host path like the Go fakes in plugin_test.go."""

import ctypes
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "..", "python"))

import numpy as np  # noqa: E402

from sglab_plugin import (Adapter, Encoder, Evaluator, Generator, Metric, Module, Param, PluginError,  # noqa: E402
                          TrainResult, log, serve)
from sglab_plugin.snapshots import read_snapshots, write_snapshots  # noqa: E402


def small_schema(width=1):
    """Two modules of different shapes, so a wrong flat order shows."""
    return [Module("blocks.0.attn.q_proj", 3 * width, 4, 2, 4.0), Module("blocks.0.attn.v_proj", 5, 2, 1, 0.5)]


def exact_snapshots(schema, m, seed):
    """Values exact in float32 that Go recomputes bit for bit (python_test.go)."""
    n = sum(mod.size for mod in schema)
    k = np.arange(n)
    return np.stack([((k * 7 + i * 13 + seed) % 101 - 50) / 8.0 for i in range(m)]).astype(np.float32)


class FakeEncoder(Encoder):
    name, version, description = "py-encoder", "1.0", "length of each text, times scale"
    params = [Param("scale", 1.0, "multiplies every vector"), Param("width", 2, "vector length"),
              Param("tags", ["a"], "unused; a list parameter")]

    def configure(self, values):
        if values["scale"] <= 0:
            raise PluginError(f'parameter "scale": must be positive, got {values["scale"]}')
        self.scale, self.width = values["scale"], values["width"]

    def embed(self, texts):
        return [np.full(self.width, self.scale * len(t), dtype=np.float32) for t in texts]


class FakeEvaluator(Evaluator):
    name, version, description = "py-evaluator", "1.0", "writes exact snapshots; reports adapter entries"
    params = [Param("width", 1, "widens the first module, for large messages")]

    def configure(self, values):
        self.width = values["width"]

    def schema(self):
        return small_schema(self.width)

    def datasets(self):
        return ["digits"]

    def metrics(self):
        return [Metric("sum", "sum of the adapter's entries"), Metric("loss", "a loss", lower_is_better=True)]

    def headline(self):
        return ["sum"]

    def check_task(self, task):
        if task.dataset != "digits":
            raise PluginError(f"task {task.id}: unknown dataset {task.dataset!r}")

    def train(self, task, seed, opts, out_path):
        snaps = exact_snapshots(self.schema(), opts.snapshots, seed)
        write_snapshots(out_path, self.schema(), snaps, {"task": task.id})
        return TrainResult(opts.snapshots, {"loss": 0.5})

    def evaluate(self, task, adapter, seed):
        if task.id == "crash":
            log.error("fake evaluator: about to crash")
            ctypes.string_at(0)  # a segfault, as a broken native library would cause
        if task.id == "hang":
            time.sleep(3600)
        if task.id == "bug":
            return {"sum": 1 / 0}
        if adapter is None:
            return {"sum": -1.0, "seed": float(seed), "arg": task.domain[0].args[0], "k": float(task.params["k"])}
        return {"sum": float(adapter.params.astype(np.float64).sum()), "b0": float(adapter.B(0)[-1, -1]),
                "a0": float(adapter.A(0)[-1, -1]), "b1": float(adapter.B(1)[0, 0]), "a1": float(adapter.A(1)[0, -1])}


class FakeGenerator(Generator):
    """Generates the experts' snapshots back (mode "snapshots"), or their mean."""

    name, version, description = "py-generator", "1.0", "echoes its library"
    params = [Param("mode", "mean", "what to generate", one_of=["mean", "snapshots"]),
              Param("shift", 0.0, "added", above=-10, max=10)]

    def configure(self, values):
        self.mode, self.shift = values["mode"], values["shift"]

    def fit(self, library, seed):
        self.snaps = []
        for e in library.experts:
            try:
                _, snaps, _ = read_snapshots(e.snapshot_path)
            except (OSError, ValueError) as err:
                raise PluginError(f"expert {e.id}: {err}") from None
            self.snaps.append(snaps)
        self.schema = library.schema

    def generate(self, target, n, seed):
        print("hello from a careless print")
        if self.mode == "snapshots":
            return [Adapter(self.schema, s) for s in self.snaps[0][:n]]
        mean = np.mean([s.mean(axis=0) for s in self.snaps], axis=0) + self.shift
        return [mean + i for i in range(n)]


class SavingGenerator(FakeGenerator):
    """FakeGenerator whose fit can be saved and loaded."""

    name = "py-saving-generator"

    def save_fit(self, path):
        with open(path, "wb") as f:
            np.save(f, np.stack([np.asarray(s, dtype=np.float32) for s in self.snaps]))

    def load_fit(self, path, library):
        with open(path, "rb") as f:
            self.snaps = list(np.load(f))
        if len(self.snaps) != len(library.experts):
            raise PluginError(f"fitted on {len(self.snaps)} experts, the library has {len(library.experts)}")
        self.schema = library.schema


FAKES = {"encoder": FakeEncoder, "evaluator": FakeEvaluator, "generator": FakeGenerator, "saving-generator": SavingGenerator}

if __name__ == "__main__":
    serve(FAKES[os.environ.get("SGLAB_PY_FAKE", "generator")]())
