"""The SDK's side of each call: configuration rules, error statuses, cancellation,
without a host (python_test.go in framework/plugin runs the real host path)."""

import contextlib
import io
import json
import unittest

import grpc
import numpy as np

from sglab_plugin import Evaluator, Generator, Module, Param, PluginError
from sglab_plugin.proto import sglab_pb2
from sglab_plugin.server import _Calls, _EvaluatorServicer, _GeneratorServicer


class Aborted(Exception):
    pass


class FakeContext:
    """A grpc.ServicerContext reduced to what the SDK uses."""

    def __init__(self, active=True):
        self.active = active

    def is_active(self):
        return self.active

    def abort(self, code, details):
        raise Aborted(code, details)


class Echo(Generator):
    name, version = "echo", "1"
    params = [Param("tau", 0.1, "temperature"), Param("names", ["a"], "names")]

    def __init__(self):
        self.seen = []

    def configure(self, values):
        if values["tau"] <= 0:
            raise PluginError(f'parameter "tau": must be positive, got {values["tau"]}')
        self.seen.append(values)

    def fit(self, library, seed):
        self.schema = library.schema
        self.was_cancelled = self.cancelled()

    def generate(self, target, n, seed):
        if n == 99:
            return {}["missing"]
        return [np.full(3 if n == 1 else 2, seed, np.float32)] * n


class Tiny(Evaluator):
    name, version = "tiny", "1"

    def schema(self):
        return [Module("m", 1, 1, 1, 1.0)]

    def evaluate(self, task, adapter, seed):
        return {"b": float(adapter.B(0)[0, 0]), "k": float(len(task.domain))}


def configure(servicer, params):
    return servicer.Configure(sglab_pb2.ConfigureRequest(params_json=json.dumps(params)), FakeContext())


class TestCalls(unittest.TestCase):
    def setUp(self):
        self.plugin = Echo()
        self.gen = _GeneratorServicer(_Calls(self.plugin))

    def status(self, f):
        with self.assertRaises(Aborted) as cm:
            f()
        return cm.exception.args

    def test_save_fit_unimplemented_unless_defined(self):
        for call in (lambda: self.gen.SaveFit(sglab_pb2.SaveFitRequest(path="x"), FakeContext()),
                     lambda: self.gen.LoadFit(sglab_pb2.LoadFitRequest(path="x"), FakeContext())):
            code, msg = self.status(call)
            self.assertEqual(code, grpc.StatusCode.UNIMPLEMENTED)
            self.assertIn("cannot save its fit", msg)

        saved = []

        class Saving(Echo):
            def save_fit(self, path):
                saved.append(path)

            def load_fit(self, path, library):
                self.schema = library.schema
                saved.append((path, len(library.experts)))

        gen = _GeneratorServicer(_Calls(Saving()))
        code, msg = self.status(lambda: gen.SaveFit(sglab_pb2.SaveFitRequest(path="f"), FakeContext()))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("before Fit", msg)
        lib = dict(schema=[sglab_pb2.Module(name="m", **{"in": 1}, out=1, rank=1, alpha=1.0)],
                   experts=[sglab_pb2.Expert(id="e", embedding=[1.0])])
        gen.LoadFit(sglab_pb2.LoadFitRequest(path="f", **lib), FakeContext())
        gen.SaveFit(sglab_pb2.SaveFitRequest(path="g"), FakeContext())
        self.assertEqual(saved, [("f", 1), "g"])
        out = list(gen.Generate(sglab_pb2.GenerateRequest(n=2, seed=2), FakeContext()))
        self.assertEqual(len(out), 2)  # generates on the loaded fit's schema

    def test_configure_checks_then_fills_defaults(self):
        configure(self.gen, {"tau": 1})
        self.assertEqual(self.plugin.seen, [{"tau": 1.0, "names": ["a"]}])
        code, msg = self.status(lambda: configure(self.gen, {"tua": 1, "names": "x"}))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(msg, 'parameter "names": want a list, got the string "x"\n'
                              'parameter "tua": unknown (known: names, tau)')
        code, msg = self.status(lambda: configure(self.gen, {"tau": -1}))
        self.assertEqual((code, msg), (grpc.StatusCode.INVALID_ARGUMENT, 'parameter "tau": must be positive, got -1.0'))

    def test_own_checks_reported_with_the_refused_values(self):
        class Files(Echo):
            params = Echo.params + [Param("path", "", "a file that must exist")]

            def check(self, values):
                out = [] if values["path"] == "here" else [f'parameter "path": {values["path"]!r} does not exist']
                return out + (['parameter "tau": too hot for this path'] if values["tau"] > 5 else [])

        plugin = Files()
        gen = _GeneratorServicer(_Calls(plugin))
        # A value of the wrong type and a missing file: both in one refusal, and nothing configured.
        code, msg = self.status(lambda: configure(gen, {"names": "x", "path": "/no"}))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(msg, 'parameter "names": want a list, got the string "x"\n'
                              'parameter "path": \'/no\' does not exist')
        # A refused key holds its default for check(), whose line about it is dropped.
        code, msg = self.status(lambda: configure(gen, {"path": 3, "tau": 9}))
        self.assertEqual(msg, 'parameter "path": want a string, got 3 (int)\n'
                              'parameter "tau": too hot for this path')
        self.assertEqual(plugin.seen, [])
        configure(gen, {"path": "here"})
        self.assertEqual(plugin.seen, [{"tau": 0.1, "names": ["a"], "path": "here"}])

    def test_info_lists_params_as_go_does(self):
        info = self.gen.Info(sglab_pb2.Empty(), FakeContext())
        self.assertEqual((info.kind, info.name), ("generator", "echo"))
        self.assertEqual([(p.name, p.type, p.default) for p in info.params],
                         [("tau", "float", "0.1"), ("names", "[]string", '["a"]')])

    def test_generate_before_fit_and_bugs(self):
        req = sglab_pb2.GenerateRequest(target=[1], n=2, seed=3)
        code, msg = self.status(lambda: list(self.gen.Generate(req, FakeContext())))
        self.assertEqual((code, msg), (grpc.StatusCode.INVALID_ARGUMENT, "Generate called before Fit"))
        fit = sglab_pb2.FitRequest(schema=[sglab_pb2.Module(name="m", out=1, rank=1, alpha=1, **{"in": 1})])
        self.gen.Fit(fit, FakeContext(active=False))
        self.assertTrue(self.plugin.was_cancelled)
        self.assertEqual(self.plugin.seen, [{"tau": 0.1, "names": ["a"]}])  # defaults applied before the first call
        out = list(self.gen.Generate(req, FakeContext()))
        self.assertEqual([list(a.params) for a in out], [[3.0, 3.0]] * 2)
        req.n = 1
        with contextlib.redirect_stderr(io.StringIO()):
            code, msg = self.status(lambda: list(self.gen.Generate(req, FakeContext())))
        self.assertEqual((code, msg), (grpc.StatusCode.UNKNOWN, "generate: adapter 0 has 3 values, the schema needs 2"))
        req.n = 99
        with contextlib.redirect_stderr(io.StringIO()) as err:
            code, msg = self.status(lambda: list(self.gen.Generate(req, FakeContext())))
        self.assertEqual(code, grpc.StatusCode.UNKNOWN)
        self.assertRegex(msg, r"^KeyError: 'missing' \(at test_server.py:\d+ in generate\); the traceback is in")
        entry = json.loads(err.getvalue())
        self.assertEqual((entry["@level"], entry["@message"]), ("error", "Generate failed"))
        self.assertIn("Traceback (most recent call last)", entry["traceback"])

    def test_evaluate_views_and_wrong_kind(self):
        ev = _EvaluatorServicer(_Calls(Tiny()))
        req = sglab_pb2.EvaluateRequest(task=sglab_pb2.Task(id="t", domain=[sglab_pb2.Transform(name="r")]))
        req.adapter.params.extend([2, 5])
        self.assertEqual(dict(ev.Evaluate(req, FakeContext()).values), {"b": 2.0, "k": 1.0})
        req.adapter.params.append(1)
        code, msg = self.status(lambda: ev.Evaluate(req, FakeContext()))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(msg, "lora: flat vector has 3 values, schema needs 2")
        # The host dispenses the kind the experiment names; a mismatch says so.
        code, msg = self.status(lambda: _EvaluatorServicer(self.gen.c).Info(sglab_pb2.Empty(), FakeContext()))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(msg, "echo is a generator plugin, not an evaluator")


if __name__ == "__main__":
    unittest.main()
