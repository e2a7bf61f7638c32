"""Plugin parameters: declared once, checked strictly, documented for Info.

This is framework/params for Python. A plugin lists Param(name, default, doc) in its
class; Configure then rejects unknown keys and values of the wrong type with messages
in framework/params' wording (every problem at once, each naming its key), fills the
defaults, and only then hands the plugin a complete dict. Problems are one per line,
'parameter "key": what is wrong', which is how the runner finds the key's line in the
experiment file; a plugin's own checks in configure() should raise PluginError worded
alike (several problems: one per line). The TOML block reaches the
plugin as JSON, so a float written as 2.0 in TOML may arrive as the integer 2: floats
accept integers, and integers accept integral floats, as in Go.

Constraints are declared beside the parameter, as Go's tags declare them, and reach
Info (so `runner plugins` shows them): min=/max= (inclusive) and above=/below=
(exclusive) bounds on int and float parameters, one_of= on string parameters; on a
list they apply to every element. decode() reports a value that breaks one in Go's
words; a malformed constraint (a bound of the wrong type, min beside above, an empty
range, a default that breaks it) is a ValueError naming the parameter when the Param is
made, as a bad type is.
"""

from __future__ import annotations

import decimal
import json
import math

_SCALARS = ("bool", "int", "float", "string")


def _type_of(value) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)) and value:
        inner = _type_of(value[0])
        return "[]" + inner if inner in _SCALARS else None
    return None


class Param:
    """One accepted parameter: its name, its default (which also fixes its type unless
    type is given), and a doc string that says what it does and why the default.

    type is Go's spelling: "bool", "int", "float", "string", or "[]" + one of those.
    It is needed only when the default cannot tell (an empty list, or a float
    parameter whose default is written as an integer).
    """

    def __init__(self, name: str, default, doc: str, type: str | None = None, *,  # noqa: A002
                 min=None, max=None, above=None, below=None, one_of=None) -> None:  # noqa: A002
        if not name:
            raise ValueError("Param: empty name")
        t = type or _type_of(default)
        if t is None:
            raise ValueError(f"Param {name!r}: cannot tell the type of default {default!r}; "
                             f'pass type= (e.g. type="[]string")')
        if t not in _SCALARS and not (t.startswith("[]") and t[2:] in _SCALARS):
            raise ValueError(f"Param {name!r}: type {t!r} is not one of bool, int, float, string or []T of those")
        self.name, self.doc, self.type = name, doc, t
        try:
            self.default = _convert(t, default)
        except ValueError as e:
            raise ValueError(f"Param {name!r}: default {default!r}: {e}") from None
        self.bounds = _bounds(name, t[2:] if t.startswith("[]") else t,
                              {"min": min, "max": max, "above": above, "below": below})
        self.one_of = _one_of(name, t, one_of)
        problem = self.check(self.default)
        if problem:
            raise ValueError(f"Param {name!r}: default {default!r}: {problem}")

    def bound_text(self, which: str) -> str:
        """A bound ("min", "max", "above", "below") as Go's params writes it; "" for none."""
        b = self.bounds.get(which)
        if b is None:
            return ""
        return str(b) if isinstance(b, int) else go_g(b)

    def check(self, value) -> str:
        """What is wrong with a converted value by the constraints, in Go's words; ""
        when nothing is."""
        if isinstance(value, list):
            for i, e in enumerate(value):
                msg = self.check(e)
                if msg:
                    return f"element {i}: {msg}"
            return ""
        if self.one_of and value not in self.one_of:
            choices = ", ".join(json.dumps(o, ensure_ascii=False) for o in self.one_of)
            return f"must be one of {choices}, got {json.dumps(value, ensure_ascii=False)}"
        b = self.bounds
        if not b or isinstance(value, (bool, str)):
            return ""
        if (("min" in b and value < b["min"]) or ("max" in b and value > b["max"]) or
                ("above" in b and value <= b["above"]) or ("below" in b and value >= b["below"])):
            return f"must be {self._describe()}, got {_format(value)}"
        return ""

    def _describe(self) -> str:
        lo = "min" if "min" in self.bounds else "above" if "above" in self.bounds else None
        hi = "max" if "max" in self.bounds else "below" if "below" in self.bounds else None
        if lo and hi:
            return (f"in {'[' if lo == 'min' else '('}{self.bound_text(lo)}, "
                    f"{self.bound_text(hi)}{']' if hi == 'max' else ')'}")
        words = {"min": "at least", "above": "greater than", "max": "at most", "below": "less than"}
        k = lo or hi
        return f"{words[k]} {self.bound_text(k)}"

    def default_text(self) -> str:
        """The default as it would be written in TOML, formatted as Go's params does."""
        return _format(self.default)

    def __repr__(self) -> str:
        return f"Param({self.name!r}, {self.default!r}, type={self.type!r})"


def _bounds(name: str, t: str, given: dict) -> dict:
    """The bounds given for a parameter of scalar type t, checked; ValueError naming the
    parameter when one is malformed."""
    out = {}
    for k, v in given.items():
        if v is None:
            continue
        if t not in ("int", "float"):
            raise ValueError(f"Param {name!r}: {k}={v!r} on a {t} parameter; bounds need int or float")
        if t == "int":
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"Param {name!r}: {k}={v!r} is not an integer")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"Param {name!r}: {k}={v!r} is not a finite number")
        out[k] = v if t == "int" else float(v)
    if "min" in out and "above" in out:
        raise ValueError(f"Param {name!r}: min and above both bound it from below; keep one")
    if "max" in out and "below" in out:
        raise ValueError(f"Param {name!r}: max and below both bound it from above; keep one")
    lo = out.get("min", out.get("above"))
    hi = out.get("max", out.get("below"))
    if lo is not None and hi is not None and (lo > hi or lo == hi and ("above" in out or "below" in out)):
        raise ValueError(f"Param {name!r}: no value lies between {lo} and {hi}")
    return out


def _one_of(name: str, t: str, one_of) -> list[str]:
    if one_of is None:
        return []
    if t not in ("string", "[]string"):
        raise ValueError(f"Param {name!r}: one_of on a {t} parameter; one_of needs a string")
    choices = list(one_of)
    if not choices or any(not isinstance(c, str) or not c for c in choices) or len(set(choices)) != len(choices):
        raise ValueError(f"Param {name!r}: one_of={one_of!r} needs distinct, non-empty strings")
    return choices


def _describe(x) -> str:
    if isinstance(x, str):
        return f"the string {json.dumps(x, ensure_ascii=False)}"
    if x is None:
        return "nothing"
    if isinstance(x, list):
        return "a list"
    if isinstance(x, dict):
        return "a table"
    if isinstance(x, bool):
        return f"{'true' if x else 'false'} (bool)"
    return f"{x} ({type(x).__name__})"


def _convert(t: str, x):
    """x as a value of type t, or ValueError with Go's message."""
    if t == "bool":
        if not isinstance(x, bool):
            raise ValueError(f"want a boolean, got {_describe(x)}")
        return x
    if t == "string":
        if not isinstance(x, str):
            raise ValueError(f"want a string, got {_describe(x)}")
        return x
    if t == "int":
        if isinstance(x, int) and not isinstance(x, bool):
            return x
        if isinstance(x, float):
            if x == math.trunc(x) and abs(x) < 2**53:
                return int(x)
            raise ValueError(f"want an integer, got {x}")
        raise ValueError(f"want an integer, got {_describe(x)}")
    if t == "float":
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise ValueError(f"want a number, got {_describe(x)}")
        g = float(x)
        if not math.isfinite(g):
            raise ValueError(f"want a finite number, got {g}")
        return g
    # a list
    if not isinstance(x, (list, tuple)):
        raise ValueError(f"want a list, got {_describe(x)}")
    out = []
    for i, e in enumerate(x):
        try:
            out.append(_convert(t[2:], e))
        except ValueError as err:
            raise ValueError(f"element {i}: {err}") from None
    return out


def decode(params: list[Param], given: dict) -> tuple[dict, list[str]]:
    """The complete values (defaults filled) and the problems, one per bad key, in key
    order, worded as framework/params words them: 'parameter "key": ...', the form the
    runner locates in the experiment file."""
    values, problems = decode_by_key(params, given)
    return values, [problems[k] for k in sorted(problems)]


def decode_by_key(params: list[Param], given: dict) -> tuple[dict, dict[str, str]]:
    """decode(), with the problems by key: a key with a problem holds its default in
    the values (or is absent, when no parameter has that name)."""
    by_name = {p.name: p for p in params}
    values = {p.name: _copy(p.default) for p in params}
    problems = {}
    for k in sorted(given):
        p = by_name.get(k)
        if p is None:
            known = ", ".join(sorted(by_name)) or "none"
            problems[k] = f"parameter {json.dumps(k)}: unknown (known: {known})"
            continue
        try:
            v = _convert(p.type, given[k])
        except ValueError as e:
            problems[k] = f"parameter {json.dumps(k)}: {e}"
            continue
        problem = p.check(v)
        if problem:
            problems[k] = f"parameter {json.dumps(k)}: {problem}"
            continue
        values[k] = v
    return values, problems


def _copy(v):
    return list(v) if isinstance(v, list) else v


def go_g(x: float) -> str:
    """x as Go's strconv.FormatFloat(x, 'g', -1, 64) writes it: shortest digits,
    exponent form below 1e-4 and from 1e6 on (Go's %v)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0" if math.copysign(1, x) < 0 else "0"
    sign, digits, exp = decimal.Decimal(repr(x)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    e10 = len(ds) + exp - 1
    neg = "-" if sign else ""
    if e10 < -4 or e10 >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if e10 < 0 else '+'}{abs(e10):02d}"
    if e10 < 0:
        return f"{neg}0.{'0' * (-e10 - 1)}{ds}"
    if len(ds) <= e10 + 1:
        return f"{neg}{ds}{'0' * (e10 + 1 - len(ds))}"
    return f"{neg}{ds[:e10 + 1]}.{ds[e10 + 1:]}"


def _format(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float):
        return go_g(v)
    if isinstance(v, list):
        return "[" + ", ".join(_format(e) for e in v) + "]"
    return str(v)
