"""Snapshot files: an expert's last M epochs of adapters, in framework/lora's format.

Evaluators write one after training (Evaluator.train's out_path) and generators read
them to build prototypes and training sets (Library.experts[i].snapshot_path). The
file is safetensors: per module <name>.lora_A.weight [M, r, in] and
<name>.lora_B.weight [M, out, r], F32, with metadata "format" = "sglab-snapshots" and
"schema" = the module list as JSON; any other metadata is the caller's. Files written
here are byte-identical to Go's lora.WriteSnapshots for the same input.
"""

from __future__ import annotations

import json

import numpy as np

from .lora import Module, num_params, offsets, validate_schema
from .safetensors import SafetensorsError, encode_header, go_float, parse_header, read_file, tensor_data, write_atomic

SNAPSHOTS_FORMAT = "sglab-snapshots"
SUFFIX_A = ".lora_A.weight"
SUFFIX_B = ".lora_B.weight"
_RESERVED = ("format", "schema")
_SCHEMA_FIELDS = ("name", "in", "out", "rank", "alpha")


def schema_json(schema: list[Module]) -> str:
    """The "schema" metadata value, as Go's json.Marshal writes it."""
    parts = []
    for m in schema:
        parts.append('{"name":%s,"in":%d,"out":%d,"rank":%d,"alpha":%s}' % (
            json.dumps(m.name, ensure_ascii=False), m.in_features, m.out_features, m.rank, go_float(m.alpha)))
    return "[" + ",".join(parts) + "]"


def parse_schema_json(text: str) -> list[Module]:
    """Decodes the "schema" metadata strictly (unknown fields are errors) and validates it."""
    if not text:
        raise ValueError("missing")
    mods = json.loads(text)
    if not isinstance(mods, list):
        raise ValueError("want a list of modules")
    out = []
    for i, m in enumerate(mods):
        if not isinstance(m, dict):
            raise ValueError(f"module {i}: want an object")
        unknown = set(m) - set(_SCHEMA_FIELDS)
        if unknown:
            raise ValueError(f"module {i}: unknown field {sorted(unknown)[0]!r}")
        for k in ("in", "out", "rank"):
            if type(m.get(k, 0)) is not int:
                raise ValueError(f"module {i}: {k} is {m[k]!r}, want an integer")
        alpha = m.get("alpha", 0)
        if type(alpha) not in (int, float):
            raise ValueError(f"module {i}: alpha is {alpha!r}, want a number")
        name = m.get("name", "")
        if not isinstance(name, str):
            raise ValueError(f"module {i}: name is {name!r}, want a string")
        out.append(Module(name, m.get("in", 0), m.get("out", 0), m.get("rank", 0), float(alpha)))
    validate_schema(out)
    return out


def _as_matrix(schema: list[Module], snaps) -> np.ndarray:
    if isinstance(snaps, (list, tuple)):
        snaps = [np.asarray(getattr(s, "params", s), dtype=np.float32) for s in snaps]
        n = num_params(schema)
        for m, v in enumerate(snaps):
            if v.ndim != 1 or v.size != n:
                raise ValueError(f"snapshot {m} has {v.size} values, schema needs {n}")
        snaps = np.stack(snaps) if snaps else np.zeros((0, n), np.float32)
    return np.asarray(snaps, dtype=np.float32)


def write_snapshots(path: str, schema: list[Module], snaps, meta: dict[str, str] | None = None) -> None:
    """Writes M snapshots of schema atomically to path.

    snaps is an [M, P] array (P = num_params(schema)) or a list of M flat vectors or
    Adapters in canonical order. meta is stored alongside "format" and "schema", which
    are reserved. Non-finite parameters are refused: they would poison every statistic
    a generator computes from the file.
    """
    try:
        _write(path, schema, snaps, meta or {})
    except (ValueError, TypeError) as e:
        raise ValueError(f"lora: write snapshots {path}: {e}") from None


def _write(path, schema, snaps, meta):
    validate_schema(schema)
    x = _as_matrix(schema, snaps)
    n = num_params(schema)
    if x.ndim != 2:
        raise ValueError(f"snapshots have shape {x.shape}, want [M, {n}]")
    if x.shape[0] == 0:
        raise ValueError("no snapshots")
    if x.shape[1] != n:
        raise ValueError(f"snapshot 0 has {x.shape[1]} values, schema needs {n}")
    bad = np.argwhere(~np.isfinite(x))
    if bad.size:
        m, i = bad[0]
        raise ValueError(f"snapshot {m}: parameter {i} is {x[m, i]}")
    for k in meta:
        if k in _RESERVED:
            raise ValueError(f"metadata key {k!r} is reserved")
    meta = dict(meta)
    meta["format"] = SNAPSHOTS_FORMAT
    meta["schema"] = schema_json(schema)
    M = x.shape[0]
    entries, parts = [], []
    for mod, off in zip(schema, offsets(schema)):
        nb = mod.out_features * mod.rank
        na = mod.rank * mod.in_features
        entries.append((mod.name + SUFFIX_A, [M, mod.rank, mod.in_features], M * na))
        entries.append((mod.name + SUFFIX_B, [M, mod.out_features, mod.rank], M * nb))
        parts.append(x[:, off + nb:off + nb + na])
        parts.append(x[:, off:off + nb])
    hdr = encode_header(entries, meta)
    write_atomic(path, [hdr] + [np.ascontiguousarray(p, dtype="<f4").tobytes() for p in parts])


def read_snapshots(path: str) -> tuple[list[Module], np.ndarray, dict[str, str]]:
    """Reads a snapshots file (Go's or Python's; F16 and BF16 data too).

    Returns the schema, an [M, P] float32 array of snapshots in canonical flat order,
    and the caller's metadata (without "format" and "schema"). Every structural
    inconsistency and every non-finite value is a ValueError naming the path.
    """
    try:
        return _read(read_file(path))
    except (ValueError, SafetensorsError) as e:
        raise ValueError(f"lora: read snapshots {path}: {e}") from None


def _read(data):
    entries, meta, start = parse_header(data)
    if meta.get("format") != SNAPSHOTS_FORMAT:
        raise ValueError(f"metadata format is {meta.get('format', '')!r}, want {SNAPSHOTS_FORMAT!r}")
    try:
        schema = parse_schema_json(meta.get("schema", ""))
    except ValueError as e:
        raise ValueError(f"metadata schema: {e}") from None
    want = {}
    for i, m in enumerate(schema):
        want[m.name + SUFFIX_A] = (i, True)
        want[m.name + SUFFIX_B] = (i, False)
    for e in entries:
        if e.name not in want:
            raise ValueError(f"tensor {e.name!r} is not in the schema")
    if len(entries) != len(want):
        raise ValueError(f"file has {len(entries)} tensors, schema of {len(schema)} modules needs {len(want)}")
    M = next((e.shape[0] for e in entries if len(e.shape) == 3), -1)
    for e in entries:
        i, is_a = want[e.name]
        mod = schema[i]
        d = (mod.rank, mod.in_features) if is_a else (mod.out_features, mod.rank)
        if len(e.shape) != 3 or e.shape[0] != M or tuple(e.shape[1:]) != d:
            m = M if M >= 0 else "M"
            raise ValueError(f"tensor {e.name!r} has shape {e.shape}, want [{m} {d[0]} {d[1]}]")
    if M == 0:
        raise ValueError("file holds no snapshots")
    offs = offsets(schema)
    snaps = np.empty((M, num_params(schema)), dtype=np.float32)
    for e in entries:
        i, is_a = want[e.name]
        mod = schema[i]
        lo = offs[i] + (mod.out_features * mod.rank if is_a else 0)
        t = tensor_data(data, e, start).reshape(M, -1)
        bad = np.argwhere(~np.isfinite(t))
        if bad.size:
            m, j = bad[0]
            raise ValueError(f"tensor {e.name!r}, snapshot {m}: value {j} is {t[m, j]}")
        snaps[:, lo:lo + t.shape[1]] = t
    return schema, snaps, {k: v for k, v in meta.items() if k not in _RESERVED}


def prototype(snaps: np.ndarray) -> np.ndarray:
    """The mean of an expert's snapshots (the paper's mu_n), summed in float64 so that
    a hundred snapshots lose no precision."""
    return np.asarray(snaps).mean(axis=0, dtype=np.float64).astype(np.float32)


__all__ = ["read_snapshots", "write_snapshots", "prototype", "SNAPSHOTS_FORMAT"]
