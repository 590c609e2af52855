"""`convscope info`: describe a model — input, head, parameters, every layer."""
from __future__ import annotations

from .common import model_command, open_for, to_json


def add_parser(sub) -> None:
    c = model_command(sub, "info", "describe a model: input, head, parameters, every layer")
    c.add_argument("--json", action="store_true")


def run(args, out, claimed) -> tuple[int, str]:
    model, _ = open_for(args)
    s = model.describe()
    if args.json:
        print(to_json(dict(s.as_dict(), convscope_version=_version())))  # issue 22
    else:
        _print_info(s)
    return 0, ""


def _version() -> str:
    from ... import __version__

    return __version__


def _print_info(s) -> None:  # engine.summary.ModelSummary
    print(f"model     {s.name}  ({s.source})")
    print(f"input     {' x '.join('?' if d is None else str(d) for d in s.input_shape)}  (preprocess: {s.preprocess})")
    if s.head.classes:
        print(f"head      {s.head.describe()}")
    else:
        shape = "x".join("?" if d is None else str(d) for d in s.head.output_shape)
        print(f"head      none: the output is {shape} (no classifier head; no predictions or CAMs)")
    if s.params is not None:
        print(f"params    {s.params:,}")
    print(f"device    {s.device}")
    if s.default_cam_layer:
        print(f"CAM layer {s.default_cam_layer} (default)")
    if s.note:
        print(f"note      {s.note}")
    if s.outputs > 1:
        print(f"outputs   {s.outputs_note()}")
    if s.layers:
        print()
        width = max(len(layer.path) for layer in s.layers)
        for layer in s.layers:
            shape = "x".join("?" if d is None else str(d) for d in layer.output_shape) if layer.output_shape else "?"
            print(f"{layer.path:<{width}}  {layer.class_name:<24} {shape:<16} {layer.params:>10,}")
