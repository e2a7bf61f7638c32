"""The plugin contract in Python: the three kinds and the values their calls carry.

These mirror the Go interfaces of framework/plugin (kinds.go) one to one. A plugin
subclasses Encoder, Evaluator or Generator, sets the class attributes name, version,
description and params, and overrides the kind's methods; serve() does the rest.
Nothing here imports gRPC, so plugin logic can be unit-tested without a host.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from .lora import Adapter, Module
from .params import Param


class PluginError(Exception):
    """The plugin refuses a call: a bad parameter, an unknown dataset, a task it cannot
    serve. The message reaches the runner as is, so name the key, task or file it is
    about. Any other exception is treated as a bug in the plugin: the caller gets its
    type and text, and the traceback goes to the plugin's log."""


@dataclass
class Metric:
    """One metric evaluate() returns, as the reports show it: its name (the key in
    evaluate()'s dict), what it measures, and its direction (higher is better unless
    lower_is_better)."""

    name: str
    description: str = ""
    lower_is_better: bool = False


@dataclass
class Transform:
    """One step of a task's domain chain, e.g. rotate(45) is Transform("rotate", [45.0])."""

    name: str
    args: list[float] = field(default_factory=list)


@dataclass
class Task:
    """A (dataset, domain) pair with a free-text description (framework/task)."""

    id: str
    description: str
    dataset: str
    domain: list[Transform] = field(default_factory=list)
    params: dict = field(default_factory=dict)


@dataclass
class TrainOptions:
    """How to train an expert or oracle LoRA.

    snapshots: keep the last M epochs' adapters (M <= epochs). rank: 0 means the
    evaluator's default. init_seed seeds the adapter's initialization apart from the
    training seed; the runner gives every expert of an experiment seed the same one, so
    the library lives in one aligned parameter space.
    """

    epochs: int
    snapshots: int
    rank: int = 0
    init_seed: int = 0


@dataclass
class TrainResult:
    """A finished training run: how many snapshots were written, and any metrics
    worth keeping (e.g. the final training loss)."""

    snapshots: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Expert:
    """One entry of a generator's library. The snapshots travel by reference: read
    them with sglab_plugin.snapshots.read_snapshots(snapshot_path)."""

    id: str
    description: str
    embedding: np.ndarray
    snapshot_path: str


@dataclass
class Library:
    """What a generator fits on: the adapters' schema and the experts."""

    schema: list[Module]
    experts: list[Expert]


_current = threading.local()


class Plugin:
    """What every kind shares: a name, a version, a description and parameters.

    Subclasses set the class attributes and may override configure(). serve() calls
    the methods from gRPC worker threads, one call at a time.
    """

    kind = ""
    name = ""
    version = ""
    description = ""
    params: list[Param] = []

    def check(self, values: dict) -> list[str]:
        """The problems the plugin's own checks find (a file that must exist, parameters
        checked together), one line each naming its key as 'parameter "key": ...'.
        serve() calls it before configure() and reports its lines together with the
        values the declared types and constraints refused (those keys hold their
        defaults in values, and lines naming them are dropped), so that one Configure
        names every bad parameter. configure() may call it too."""
        return []

    def configure(self, values: dict) -> None:
        """Applies the parameters. values holds every declared parameter, the TOML's
        value or else the default, already checked for type and for the constraints the
        Params declare, and by check(); raise PluginError naming the key, e.g.
        'parameter "tau": ...', for what only applying it finds."""

    def cancelled(self) -> bool:
        """True when the host has given up on the current call (its timeout passed, or
        the run was interrupted). Long loops should check it and return early; nobody
        waits for the result any more."""
        ctx = getattr(_current, "context", None)
        return ctx is not None and not ctx.is_active()

    def grpc_context(self):
        """The grpc.ServicerContext of the current call, or None outside a call."""
        return getattr(_current, "context", None)


class Encoder(Plugin):
    """Maps task descriptions to semantic vectors."""

    kind = "encoder"

    def embed(self, texts: list[str]) -> list[np.ndarray]:
        """One vector per text, all of the same length, finite."""
        raise NotImplementedError


class Evaluator(Plugin):
    """Owns the backbone and the data: trains LoRAs on tasks and scores them."""

    kind = "evaluator"

    def schema(self) -> list[Module]:
        """The adapters this evaluator accepts and produces, after configure()."""
        raise NotImplementedError

    def datasets(self) -> list[str]:
        """The datasets it can serve."""
        return []

    def transforms(self) -> list[str]:
        """The domain transforms it knows."""
        return []

    def metrics(self) -> list[Metric]:
        """The metrics evaluate() returns, in the order the reports' tables show them."""
        return []

    def headline(self) -> list[str]:
        """The names of the metrics the reports' statistics and comparisons use, the
        primary first (it picks the best adapter and is the transfer diagnostic's
        default). The runner refuses an evaluator without one."""
        return []

    def backbone(self) -> str:
        """The model the adapters apply to, as PEFT's base_model_name_or_path names it
        (a Hugging Face id or a path); "" when unknown."""
        return ""

    def check_task(self, task: Task) -> None:
        """Raises PluginError naming the task and the offending part when the task
        cannot be served (unknown dataset, transform or parameter)."""

    def train(self, task: Task, seed: int, opts: TrainOptions, out_path: str) -> TrainResult:
        """Fine-tunes a LoRA on task and writes the last opts.snapshots epochs' adapters
        to out_path with sglab_plugin.snapshots.write_snapshots."""
        raise NotImplementedError

    def evaluate(self, task: Task, adapter: Adapter | None, seed: int) -> dict[str, float]:
        """Scores adapter (None: the bare backbone) on task's test data."""
        raise NotImplementedError


class Generator(Plugin):
    """Turns a library and a target description embedding into adapters."""

    kind = "generator"

    def fit(self, library: Library, seed: int) -> None:
        """Fits on the library; a later fit replaces the earlier one."""
        raise NotImplementedError

    def generate(self, target: np.ndarray, n: int, seed: int) -> list[Adapter]:
        """n adapters (Adapters or flat vectors) of the library's schema for the target
        embedding; the same seed gives the same adapters."""
        raise NotImplementedError

    # Optional: a generator that defines both
    #   save_fit(self, path: str) -> None          write the fitted state to path
    #   load_fit(self, path: str, library: Library) -> None   restore it instead of fit
    # can have its fit saved (`runner fit`) and loaded (`--fit`); without them SaveFit
    # and LoadFit answer UNIMPLEMENTED and the runner says the plugin cannot save its fit.
