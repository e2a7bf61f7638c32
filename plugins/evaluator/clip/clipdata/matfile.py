"""A reader for the numeric arrays of MATLAB level-5 MAT-files, the format of Flowers102's
imagelabels.mat and setid.mat, so that Flowers needs no SciPy.

The format: a 128-byte header (text, subsystem offset, version 0x0100, endian mark "IM" or
"MI"), then data elements, each an 8-byte tag (type, byte count) and its data padded to 8
bytes, or a "small" element whose count and type share 4 bytes and whose data fits in the
next 4. A variable is a miMATRIX element (flags, dimensions, name, real part), usually
wrapped in a zlib-compressed miCOMPRESSED element. Arrays are stored column-major, and
MATLAB may store a double array in a narrower integer type. Only numeric, non-complex,
non-sparse arrays are read; other variables are skipped. Version 7.3 files (HDF5) are
refused with a message."""

import struct
import zlib

import numpy as np

MI_INT8, MI_UINT8, MI_INT16, MI_UINT16, MI_INT32, MI_UINT32 = 1, 2, 3, 4, 5, 6
MI_SINGLE, MI_DOUBLE, MI_INT64, MI_UINT64 = 7, 9, 12, 13
MI_MATRIX, MI_COMPRESSED = 14, 15

STORAGE = {MI_INT8: "i1", MI_UINT8: "u1", MI_INT16: "i2", MI_UINT16: "u2", MI_INT32: "i4", MI_UINT32: "u4",
           MI_SINGLE: "f4", MI_DOUBLE: "f8", MI_INT64: "i8", MI_UINT64: "u8"}

# mxClass of a matrix -> numpy dtype of the values it holds (classes 6-15 are numeric).
CLASSES = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4", 14: "i8", 15: "u8"}
MX_SPARSE = 5
FLAG_COMPLEX = 0x0800


def loadmat(path):
    """{name: ndarray} of the numeric variables of a level-5 MAT-file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 128:
        raise ValueError(f"{path}: too short for a MAT-file")
    if data[:8] == b"\x89HDF\r\n\x1a\n" or b"MATLAB 7.3" in data[:128]:
        raise ValueError(f"{path}: a MATLAB 7.3 (HDF5) file; save it as -v7 or -v6, as Flowers102's originals are")
    mark = data[126:128]
    if mark == b"IM":
        endian = "<"
    elif mark == b"MI":
        endian = ">"
    else:
        raise ValueError(f"{path}: not a level-5 MAT-file (no endian mark at byte 126)")
    out = {}
    try:
        for kind, body in _elements(data, 128, endian):
            if kind == MI_COMPRESSED:
                for kind2, body2 in _elements(zlib.decompress(body), 0, endian):
                    if kind2 == MI_MATRIX:
                        _matrix(body2, endian, out)
            elif kind == MI_MATRIX:
                _matrix(body, endian, out)
    except (struct.error, zlib.error, ValueError) as e:
        raise ValueError(f"{path}: damaged MAT-file: {e}") from None
    return out


def _elements(buf, pos, endian):
    while pos + 8 <= len(buf):
        kind, count = struct.unpack_from(endian + "II", buf, pos)
        if kind >> 16:  # small element: count in the upper half of the first word
            kind, count = kind & 0xFFFF, kind >> 16
            yield kind, buf[pos + 4:pos + 4 + count]
            pos += 8
            continue
        start = pos + 8
        if start + count > len(buf):
            raise ValueError(f"element at byte {pos} runs past the end")
        yield kind, buf[start:start + count]
        pos = start + count
        if kind != MI_COMPRESSED:
            pos += -count % 8


def _matrix(body, endian, out):
    parts = list(_elements(body, 0, endian))
    if len(parts) < 3:
        raise ValueError("matrix with fewer than 3 sub-elements")
    flags = struct.unpack_from(endian + "I", parts[0][1])[0]
    mx_class = flags & 0xFF
    kind, dims_raw = parts[1]
    dims = np.frombuffer(dims_raw, dtype=endian + STORAGE[kind]).astype(int).tolist()
    name = parts[2][1].decode("ascii", "replace")
    if mx_class not in CLASSES or mx_class == MX_SPARSE or flags & FLAG_COMPLEX or len(parts) < 4:
        return  # not a plain numeric array
    kind, raw = parts[3]
    if kind not in STORAGE:
        raise ValueError(f"variable {name!r}: storage type {kind}")
    values = np.frombuffer(raw, dtype=endian + STORAGE[kind]).astype(CLASSES[mx_class])
    if values.size != int(np.prod(dims)):
        raise ValueError(f"variable {name!r}: {values.size} values for dimensions {dims}")
    out[name] = values.reshape(dims, order="F")
