"""The sub-command table: each name and the module that holds it.

To add a sub-command: write `engine/cli/NAME.py` with `add_parser(sub)` and
`run(args, out, claimed)` (and, if it writes files, `claim(args, out)`: check them before
any work), then add one line here. `main.py` reads NAMES to tell a sub-command from the
window's options; engine.cli.dispatch builds the parser and runs the command from it.
"""
from __future__ import annotations

import importlib

# name -> module in engine.cli (the order of `convscope --help`)
COMMANDS = {
    "info": "info",
    "predict": "predict",
    "activations": "activations",
    "filters": "filters",
    "cam": "cam",
    "video": "video",
    "figure": "figure",
    "batch": "batch",
    "examples": "examples",
    "timeline": "timeline",  # engine.learning: a recorded run as a figure
    "diff": "diff",  # two models' maps on one image and their difference
    "cka": "cka",  # linear CKA between the layers of two models
}
NAMES = tuple(COMMANDS)


def module(name: str):
    """The module of sub-command `name` (imported now)."""
    return importlib.import_module(f"{__package__}.{COMMANDS[name]}")
