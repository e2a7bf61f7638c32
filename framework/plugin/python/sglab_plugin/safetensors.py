"""Safetensors, written and read without the safetensors package (Debian has none).

The layout is Hugging Face's: 8 bytes N (little-endian uint64), N bytes of JSON header
{name: {"dtype", "shape", "data_offsets": [begin, end]}, optional "__metadata__":
{str: str}}, then the byte buffer. The writer produces the bytes framework/lora's Go
writer produces for the same input (sorted header keys, F32 data, header padded with
spaces to 8-byte alignment), so files from either side are interchangeable; the reader
is as strict as Go's, because files come from other programs and other machines.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from typing import Iterable

import numpy as np

MAX_HEADER_LEN = 100_000_000
METADATA_KEY = "__metadata__"
_DTYPES = {"F32": 4, "F16": 2, "BF16": 2}


class SafetensorsError(ValueError):
    """A malformed or unsupported safetensors file."""


def go_float(x: float) -> str:
    """x as Go's encoding/json writes a float64, so headers match byte for byte."""
    x = float(x)
    if x == 0:
        return "0" if not np.signbit(x) else "-0"
    a = abs(x)
    if 1e-6 <= a < 1e21:
        return np.format_float_positional(x, unique=True, trim="-")
    s = repr(x)  # shortest round-trip digits, as strconv's -1 precision
    mant, _, exp = s.partition("e")
    sign, digits = exp[0], exp[1:].lstrip("0") or "0"
    if sign == "-" and len(digits) == 1:
        return f"{mant}e-{digits}"
    return f"{mant}e{sign}{digits.zfill(2)}"


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_header(entries: list[tuple[str, list[int], int]], meta: dict[str, str] | None) -> bytes:
    """The padded JSON header for F32 tensors (name, shape, numel) laid out in order."""
    fields, off = {}, 0
    for name, shape, numel in entries:
        if not name:
            raise SafetensorsError("a tensor has an empty name")
        if name == METADATA_KEY:
            raise SafetensorsError(f"tensor name {name!r} is reserved")
        if name in fields:
            raise SafetensorsError(f"tensor {name!r} appears twice")
        fields[name] = '{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}' % (
            _dumps([int(d) for d in shape]), off, off + 4 * numel)
        off += 4 * numel
    if meta:
        for k, v in meta.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError(f"metadata {k!r}: keys and values must be strings")
        fields[METADATA_KEY] = _dumps(dict(sorted(meta.items())))
    text = "{" + ",".join(_dumps(k) + ":" + fields[k] for k in sorted(fields)) + "}"
    hdr = text.encode("utf-8")
    hdr += b" " * (-(8 + len(hdr)) % 8)
    return struct.pack("<Q", len(hdr)) + hdr


def _f32(a) -> np.ndarray:
    a = np.asarray(a, dtype="<f4")  # not ascontiguousarray: it turns a scalar into shape (1,)
    return a if a.flags.c_contiguous else a.copy()


def write_atomic(path: str, chunks: Iterable[bytes]) -> None:
    """Writes path through a synced temporary file in the same folder and renames it
    into place, so readers see the old file or the whole new one, never a torn write."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                f.write(c)
            f.flush()
            os.fchmod(f.fileno(), 0o644)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    try:  # persist the rename; not every platform can sync a folder
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _pairs(tensors) -> list[tuple[str, np.ndarray]]:
    items = tensors.items() if isinstance(tensors, dict) else tensors
    return [(name, _f32(a)) for name, a in items]


def encode_safetensors(tensors, meta: dict[str, str] | None = None) -> bytes:
    """tensors (a dict or (name, array) pairs, in data order) as F32 safetensors bytes."""
    ts = _pairs(tensors)
    hdr = encode_header([(n, list(a.shape), a.size) for n, a in ts], meta)
    return hdr + b"".join(a.tobytes() for _, a in ts)


def write_safetensors(path: str, tensors, meta: dict[str, str] | None = None) -> None:
    """Writes tensors as F32 safetensors atomically; see encode_safetensors."""
    ts = _pairs(tensors)
    hdr = encode_header([(n, list(a.shape), a.size) for n, a in ts], meta)
    write_atomic(path, [hdr] + [memoryview(a).cast("B") for _, a in ts])


class _Entry:
    __slots__ = ("name", "dtype", "shape", "numel", "begin", "end")

    def __init__(self, name, dtype, shape, begin, end):
        self.name, self.dtype, self.shape, self.begin, self.end = name, dtype, shape, begin, end
        self.numel = int(np.prod(shape, dtype=np.int64)) if shape else 1


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise SafetensorsError(f"header: key {k!r} appears twice")
        out[k] = v
    return out


def _int_list(v, what: str) -> list[int]:
    if not isinstance(v, list) or not all(type(x) is int for x in v):
        raise SafetensorsError(f"{what}: want a list of integers, got {v!r}")
    return v


def parse_header(data) -> tuple[list[_Entry], dict[str, str], int]:
    """Validates the header of a whole file held in data; returns the entries sorted by
    offset (known to tile the buffer exactly), the metadata, and where the buffer starts."""
    if len(data) < 8:
        raise SafetensorsError(f"file has {len(data)} bytes, fewer than the 8-byte header length")
    (n,) = struct.unpack_from("<Q", data, 0)
    if n > MAX_HEADER_LEN:
        raise SafetensorsError(f"header length {n} exceeds the limit of {MAX_HEADER_LEN} bytes")
    if n > len(data) - 8:
        raise SafetensorsError(f"header length {n} exceeds the {len(data) - 8} bytes that follow it")
    raw = bytes(data[8:8 + n])
    if not raw.startswith(b"{"):
        raise SafetensorsError("header does not start with '{'")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise SafetensorsError("header is not valid UTF-8") from None
    except json.JSONDecodeError as e:
        raise SafetensorsError(f"header: {e}") from None
    buf_len = len(data) - 8 - n
    meta: dict[str, str] = {}
    entries = []
    for name, v in header.items():
        if name == METADATA_KEY:
            if v is None:
                continue
            if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
                raise SafetensorsError(f"header: {METADATA_KEY}: want an object of strings")
            meta = v
            continue
        if not name:
            raise SafetensorsError("header: a tensor has an empty name")
        if not isinstance(v, dict):
            raise SafetensorsError(f"tensor {name!r}: want an object")
        extra = set(v) - {"dtype", "shape", "data_offsets"}
        if extra:
            raise SafetensorsError(f"tensor {name!r}: unknown field {sorted(extra)[0]!r}")
        for field in ("dtype", "shape", "data_offsets"):
            if field not in v:
                raise SafetensorsError(f"tensor {name!r}: missing {field}")
        dtype = v["dtype"]
        if dtype not in _DTYPES:
            raise SafetensorsError(f"tensor {name!r}: dtype {dtype!r} is not supported (want F32, F16 or BF16)")
        shape = _int_list(v["shape"], f"tensor {name!r}: shape")
        if any(d < 0 for d in shape):
            raise SafetensorsError(f"tensor {name!r}: shape {shape} has a negative dimension")
        offs = _int_list(v["data_offsets"], f"tensor {name!r}: data_offsets")
        if len(offs) != 2:
            raise SafetensorsError(f"tensor {name!r}: data_offsets has {len(offs)} values, want 2")
        e = _Entry(name, dtype, shape, offs[0], offs[1])
        if e.begin < 0 or e.end < e.begin:
            raise SafetensorsError(f"tensor {name!r}: data_offsets {offs} are not an interval")
        if e.end > buf_len:
            raise SafetensorsError(f"tensor {name!r}: data_offsets {offs} run past the {buf_len}-byte buffer")
        if e.end - e.begin != e.numel * _DTYPES[dtype]:
            raise SafetensorsError(
                f"tensor {name!r}: data_offsets {offs} span {e.end - e.begin} bytes but shape "
                f"{shape} of {dtype} needs {e.numel * _DTYPES[dtype]}")
        entries.append(e)
    entries.sort(key=lambda e: (e.begin, e.end, e.name))
    pos = 0
    for i, e in enumerate(entries):
        if e.begin < pos:
            raise SafetensorsError(f"tensor {e.name!r}: data overlaps tensor {entries[i - 1].name!r}")
        if e.begin > pos:
            raise SafetensorsError(f"tensor {e.name!r}: data starts at {e.begin}, leaving a hole after byte {pos}")
        pos = e.end
    if pos != buf_len:
        raise SafetensorsError(f"tensors cover {pos} bytes but the buffer has {buf_len}")
    return entries, meta, 8 + n


def tensor_data(data, e: _Entry, start: int) -> np.ndarray:
    """Entry e of a parsed file as a new float32 array of its shape."""
    raw = np.frombuffer(data, dtype=np.uint8, count=e.end - e.begin, offset=start + e.begin)
    if e.dtype == "F32":
        out = raw.view("<f4").astype(np.float32)
    elif e.dtype == "F16":
        out = raw.view("<f2").astype(np.float32)
    else:  # BF16: the high half of a float32
        out = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
    return out.reshape(tuple(e.shape))


def decode_safetensors(data) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parses a safetensors file held in memory. Tensors come back in data order (the
    order they were written), converted to float32."""
    entries, meta, start = parse_header(data)
    return {e.name: tensor_data(data, e, start) for e in entries}, meta


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def read_safetensors(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Reads a safetensors file; see decode_safetensors. Errors name the path."""
    try:
        return decode_safetensors(read_file(path))
    except SafetensorsError as e:
        raise SafetensorsError(f"{path}: {e}") from None
