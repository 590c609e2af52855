"""`convscope figure --recipe` on a figure made by `timeline`, `diff` or `cka`: its recipe's
`command` (the argv without --out, engine.cli.learning_common.command_of) runs again with
the --out asked for (default: the recorded figure's own path), through the same front
door as any command — so the figure, its recipe and the bytes are those of the first run.

Before running, the inputs recorded with a SHA-256 (model A, model B, the image of a
diff) are checked as for every recipe: a changed file is refused unless
--allow-changed-inputs (then a warning line). A recipe of an older ConvScope that
recorded --out in its command still remakes (that --out is replaced).
"""
from __future__ import annotations

import os
import sys

from ..errors import UserError

KINDS = ("timeline", "diff", "cka")


def is_command_recipe(recipe: dict) -> bool:
    return "command" in recipe


def argv_of(recipe: dict, recipe_path: str, out: str) -> list[str]:
    """The sub-command's argv that remakes the figure into `out`."""
    command = recipe.get("command")
    if (not isinstance(command, list) or len(command) < 2 or command[0] != "convscope"
            or command[1] not in KINDS or not all(isinstance(a, str) for a in command)):
        raise UserError(f"{recipe_path} is a damaged recipe: its command is not a "
                        f"{', '.join(KINDS)} command line")
    argv, skip = [], False
    for a in command[1:]:
        if skip:
            skip = False
            continue
        if a == "--out":
            skip = True
            continue
        if a.startswith("--out="):
            continue
        argv.append(a)
    return argv + ["--out", out]


def changed_inputs(recipe: dict) -> list[str]:
    """Model files (A, B) and recorded image files that no longer match their SHA-256."""
    from ..figures import recipe as recipes

    problems = []
    for key in ("model", "model_b"):
        m = recipe.get(key) or {}
        path = recipes.model_file(m["spec"]) if m.get("spec") else None
        if path and m.get("sha256"):
            if not os.path.exists(path):
                problems.append(f"model file {path} is missing")
            elif recipes.sha256_path(path) != m["sha256"]:
                problems.append(f"model file {path} has changed (SHA-256 differs)")
    if recipe["command"][1] == "diff":  # the one image the figure shows (timeline: the run's probes)
        for entry in recipe.get("images") or ():
            p = entry.get("path")
            if p and entry.get("sha256") and os.path.isfile(p) and recipes.sha256_file(p) != entry["sha256"]:
                problems.append(f"image {p} has changed (SHA-256 differs)")
    return problems


def remake(args, recipe: dict) -> int:
    from .dispatch import _run, parser

    out = args.out or (args.recipe[:-5] if args.recipe.lower().endswith(".json") else args.recipe)
    argv = argv_of(recipe, args.recipe, out)
    changed = changed_inputs(recipe)
    if changed and not args.allow_changed_inputs:
        raise UserError(f"{'; '.join(changed)}: the figure would not be the one recorded "
                        "(--allow-changed-inputs makes it anyway)")
    for problem in changed:
        print(f"warning: {problem}", file=sys.stderr)
    return _run(parser().parse_args(argv))
