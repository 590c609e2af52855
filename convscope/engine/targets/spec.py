"""Target specs: the one table of target kinds, and the parser (no TensorFlow, no model).

A target says which number a map explains (engine.targets: the definitions and the
TensorFlow scalar of each kind). Its spec string is what the command line takes
(`--target`), what JSON and recipes record, and what `m.cam(img, target=...)` accepts.

| kind      | syntax                            | the scalar per image                          |
|-----------|-----------------------------------|-----------------------------------------------|
| `class`   | `class:C`                         | the class score (today's path)                |
| `output`  | `output:NAME[:C]`                 | unit / class C of output NAME                 |
| `region`  | `region:x0,y0,x1,y1[:C]`          | Seg-Grad-CAM: sum of class C's logits over    |
|           |                                   | the box of the spatial output                 |
| `mask`    | `mask:FILE.png[:C]`               | the same over the PNG's non-zero pixels       |
| `value`   | `value[:i]`, `value-[:i]`         | regression unit i, + or - (what raises / what |
|           |                                   | lowers it)                                    |
| `unit`    | `unit:LAYER:CHANNEL[@y,x]`        | mean activation of one channel (or one        |
|           |                                   | position of it)                               |
| `similar` | `similar:REF.png[@LAYER]`         | cosine similarity of the embeddings at LAYER  |

Region coordinates are pixels of the image *as the model sees it* (fitted to its input,
W x H; engine.images.fit stretches), x to the right and y down, x1 / y1 exclusive; for an
image of the model's input size these are its own pixels (engine.targets.outputs
.image_box_to_input converts a box drawn on the original image).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import UserError

FLAG = "--target"


@dataclass(frozen=True)
class Kind:
    name: str
    syntax: str
    doc: str  # one line: the scalar it explains


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("class", "class:C", "the score of class C (index or label), before softmax / sigmoid"),
    Kind("output", "output:NAME[:C]", "unit / class C of the model output NAME (default: its "
         "top unit), before its softmax / sigmoid"),
    Kind("region", "region:x0,y0,x1,y1[:C]", "Seg-Grad-CAM: the sum of class C's logits over "
         "the box (input pixels) of the spatial output; default C: the box's predicted class"),
    Kind("mask", "mask:FILE.png[:C]", "Seg-Grad-CAM: the sum of class C's logits over the "
         "PNG's non-zero pixels (resized to the output)"),
    Kind("value", "value[:i] | value-[:i]", "regression output unit i (default 0), its sign "
         "kept: value explains what raises it, value- what lowers it"),
    Kind("unit", "unit:LAYER:CHANNEL[@y,x]", "the mean activation of one channel of an inner "
         "layer (or its value at row y, column x of the layer's grid)"),
    Kind("similar", "similar:REF.png[@LAYER]", "cosine similarity of the image's and REF's "
         "embeddings at LAYER (default: the layer before the head)"),
)}


@dataclass(frozen=True)
class Target:
    """A parsed target (no model yet; engine.targets.bind checks it against one).

    kind: a KINDS name or "callable"; spec: the canonical string (what JSON / recipes
    record); key: hashable (caches, compiled-function keys); the fields the kind uses.
    """

    kind: str
    spec: str
    cls: Any = None  # class / unit C (int, or a label for `class`); None: the top one
    output: str | None = None  # output:NAME
    box: tuple | None = None  # region: (x0, y0, x1, y1)
    path: str | None = None  # mask / similar: a file
    sign: float = 1.0  # value: +1, value-: -1
    layer: str | None = None  # unit / similar
    channel: int | None = None  # unit
    at: tuple | None = None  # unit: (y, x)
    fn: Callable | None = field(default=None, compare=False)  # callable targets

    @property
    def key(self) -> tuple:
        if self.kind == "callable":
            return ("callable", id(self.fn))
        return ("target", self.spec)

    @property
    def description(self) -> str:
        """One line: what this target explains."""
        if self.kind == "callable":
            return f"the value of {self.spec[len('callable:'):]}(outputs)"
        c = "" if self.cls is None else f" {self.cls}"
        if self.kind == "class":
            return f"the score of class{c}"
        if self.kind == "output":
            return f"output {self.output}, unit{c or ' (top)'}"
        if self.kind == "region":
            return f"class{c or ' (predicted)'} summed over the box {_ints(self.box)}"
        if self.kind == "mask":
            return f"class{c or ' (predicted)'} summed over the mask {self.path}"
        if self.kind == "value":
            return f"output value {self.cls or 0} ({'raise' if self.sign > 0 else 'lower'})"
        if self.kind == "unit":
            return (f"channel {self.channel} of {self.layer}"
                    + ("" if self.at is None else f" at y={self.at[0]}, x={self.at[1]}"))
        return f"similarity to {self.path}" + (f" at {self.layer}" if self.layer else "")

    def with_class(self, c) -> "Target":
        """The same target with class / unit C (region, mask, output, class)."""
        return parse(_join(self, c))


def _ints(box) -> str:
    return ",".join(str(int(v)) for v in box)


def _join(t: Target, c) -> str:
    tail = "" if c is None else f":{c}"
    if t.kind == "class":
        return f"class:{c}"
    if t.kind == "output":
        return f"output:{t.output}{tail}"
    if t.kind == "region":
        return f"region:{_ints(t.box)}{tail}"
    if t.kind == "mask":
        return f"mask:{t.path}{tail}"
    return t.spec


def kinds_help() -> str:
    return "; ".join(k.syntax for k in KINDS.values())


def _bad(text, why: str) -> UserError:
    return UserError(f"{FLAG} {text!r}: {why} (one of: {kinds_help()})")


def _int(text, what: str, whole) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise _bad(whole, f"{what} must be a whole number, not {text!r}") from None


def _tail_class(rest: str):
    """(body, C or None): a trailing `:C` whole number."""
    body, sep, last = rest.rpartition(":")
    if sep and re.fullmatch(r"\s*\d+\s*", last):
        return body, int(last)
    return rest, None


def parse(target) -> Target:
    """A Target from a spec string, a Target, or a callable f(outputs) -> (N,).

    UserError with one clear line for anything else (unknown kind, bad syntax)."""
    if isinstance(target, Target):
        return target
    if callable(target):
        name = getattr(target, "__qualname__", None) or type(target).__name__
        return Target("callable", f"callable:{name}", fn=target)
    if not isinstance(target, str) or not target.strip():
        raise _bad(target, "a target is a spec string, a Target or a callable")
    text = target.strip()
    head, sep, rest = text.partition(":")
    kind = head.strip().lower()
    if kind in ("value", "value-"):
        sign = -1.0 if kind == "value-" else 1.0
        i = _int(rest, "the unit", text) if sep and rest.strip() else 0
        if i < 0:
            raise _bad(text, "the unit must be at least 0")
        return Target("value", f"{kind}:{i}", cls=i, sign=sign)
    if kind not in KINDS:
        raise _bad(text, f"unknown target kind {head!r}")
    if not sep or not rest.strip():
        raise _bad(text, f"{kind} needs {KINDS[kind].syntax}")
    rest = rest.strip()
    if kind == "class":
        c = int(rest) if re.fullmatch(r"\d+", rest) else rest
        return Target("class", f"class:{c}", cls=c)
    if kind == "output":
        name, _, c = rest.partition(":")
        cls = None if not c.strip() else _int(c, "the unit", text)
        if not name.strip():
            raise _bad(text, "output needs a NAME")
        return Target("output", f"output:{name.strip()}" + ("" if cls is None else f":{cls}"),
                      output=name.strip(), cls=cls)
    if kind == "region":
        body, cls = _tail_class(rest)
        parts = body.split(",")
        if len(parts) != 4:
            raise _bad(text, "region needs four numbers x0,y0,x1,y1")
        box = tuple(_int(p, "a coordinate", text) for p in parts)
        if box[2] <= box[0] or box[3] <= box[1]:
            raise _bad(text, "the box is empty: x1 must be above x0 and y1 above y0 "
                       "(x1, y1 exclusive)")
        return Target("region", f"region:{_ints(box)}" + ("" if cls is None else f":{cls}"),
                      box=box, cls=cls)
    if kind == "mask":
        body, cls = _tail_class(rest)
        return Target("mask", f"mask:{body}" + ("" if cls is None else f":{cls}"),
                      path=body, cls=cls)
    if kind == "unit":
        body, at_sep, at = rest.rpartition("@") if "@" in rest else (rest, "", "")
        layer, sep2, ch = body.rpartition(":")
        if not sep2 or not layer:
            raise _bad(text, "unit needs LAYER:CHANNEL")
        channel = _int(ch, "the channel", text)
        pos = None
        if at_sep:
            yx = at.split(",")
            if len(yx) != 2:
                raise _bad(text, "a position is @y,x")
            pos = (_int(yx[0], "y", text), _int(yx[1], "x", text))
        spec = f"unit:{layer}:{channel}" + ("" if pos is None else f"@{pos[0]},{pos[1]}")
        return Target("unit", spec, layer=layer, channel=channel, at=pos)
    # similar
    body, at_sep, layer = rest.rpartition("@") if "@" in rest else (rest, "", "")
    return Target("similar", f"similar:{body}" + (f"@{layer}" if at_sep else ""), path=body,
                  layer=layer or None)
