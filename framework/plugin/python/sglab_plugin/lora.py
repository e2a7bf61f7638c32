"""The adapter model, as framework/lora defines it in Go.

An adapter is an ordered list of modules, each with a down-projection A (rank x in)
and an up-projection B (out x rank). Adapters cross the plugin boundary as one flat
float32 vector in canonical order: per module, B (row-major) then A (row-major), in
module order. Every generator and evaluator of sglab reads that same order, so the
helpers here are the only place a Python plugin should slice it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Module:
    """One adapted weight matrix W (out_features x in_features).

    The delta PEFT applies is (alpha / rank) * B @ A.
    """

    name: str
    in_features: int
    out_features: int
    rank: int
    alpha: float

    @property
    def size(self) -> int:
        """Parameters of the module: out*r (B) + r*in (A)."""
        return self.out_features * self.rank + self.rank * self.in_features

    @property
    def scale(self) -> float:
        """alpha / rank, the factor PEFT applies to B @ A."""
        return self.alpha / self.rank


def num_params(schema: list[Module]) -> int:
    """Length of the flat vector of an adapter with this schema."""
    return sum(m.size for m in schema)


def offsets(schema: list[Module]) -> list[int]:
    """Where each module starts in the flat vector."""
    out, n = [], 0
    for m in schema:
        out.append(n)
        n += m.size
    return out


def validate_schema(schema: list[Module]) -> None:
    """Raises ValueError on the first ill-formed module, with Go's wording."""
    if not schema:
        raise ValueError("lora: schema has no modules")
    seen = set()
    for i, m in enumerate(schema):
        if not m.name:
            raise ValueError(f"lora: module {i} has no name")
        if m.name in seen:
            raise ValueError(f"lora: module {m.name!r} appears twice")
        if m.in_features <= 0 or m.out_features <= 0 or m.rank <= 0:
            raise ValueError(
                f"lora: module {m.name!r} has shape in={m.in_features} out={m.out_features} "
                f"rank={m.rank}; all must be positive")
        if not math.isfinite(m.alpha):
            raise ValueError(f"lora: module {m.name!r} has alpha {m.alpha}")
        seen.add(m.name)


def check_compatible(schema: list[Module], other: list[Module]) -> None:
    """Raises ValueError naming the first difference between two schemas."""
    if len(schema) != len(other):
        raise ValueError(f"lora: incompatible schemas: {len(schema)} modules vs {len(other)}")
    for i, (a, b) in enumerate(zip(schema, other)):
        if a != b:
            raise ValueError(f"lora: incompatible schemas at module {i}: {a} vs {b}")


class Adapter:
    """One LoRA: a schema and its parameters in canonical flat order.

    params is a 1-D float32 array; A(i) and B(i) are reshaped views into it, so
    writing through them changes the adapter.
    """

    def __init__(self, schema: list[Module], params) -> None:
        params = np.asarray(params, dtype=np.float32)
        if params.ndim != 1:
            raise ValueError(f"lora: flat vector has shape {params.shape}, want 1-D")
        n = num_params(schema)
        if params.size != n:
            raise ValueError(f"lora: flat vector has {params.size} values, schema needs {n}")
        self.schema = list(schema)
        self.params = params
        self._offsets = offsets(self.schema)

    @classmethod
    def zeros(cls, schema: list[Module]) -> Adapter:
        """A zero adapter: no change to the backbone."""
        return cls(schema, np.zeros(num_params(schema), dtype=np.float32))

    def B(self, i: int) -> np.ndarray:  # noqa: N802 (the paper's and PEFT's name)
        """Module i's up-projection, shape (out_features, rank), a view."""
        m, off = self.schema[i], self._offsets[i]
        return self.params[off:off + m.out_features * m.rank].reshape(m.out_features, m.rank)

    def A(self, i: int) -> np.ndarray:  # noqa: N802
        """Module i's down-projection, shape (rank, in_features), a view."""
        m = self.schema[i]
        off = self._offsets[i] + m.out_features * m.rank
        return self.params[off:off + m.rank * m.in_features].reshape(m.rank, m.in_features)

    def delta_w(self, i: int) -> np.ndarray:
        """(alpha / rank) * B @ A of module i, shape (out_features, in_features)."""
        return np.float32(self.schema[i].scale) * (self.B(i) @ self.A(i))

    def check_finite(self) -> None:
        """Raises ValueError at the first NaN or infinity, as Go's CheckFinite does."""
        bad = np.flatnonzero(~np.isfinite(self.params))
        if bad.size:
            raise ValueError(f"lora: parameter {bad[0]} is {self.params[bad[0]]}")

    def __repr__(self) -> str:
        return f"Adapter({len(self.schema)} modules, {self.params.size} params)"
