"""`convscope filters`: the patterns that maximally activate a layer's filters (gradient
ascent, engine.filters), as a grid; optionally the ascent forming as an animation."""
from __future__ import annotations

import sys

from ..errors import UserError
from ..filters import spec as filter_spec
from .common import claim_picture, interruptible, model_command, open_for

# Knobs of regularized filter patterns (engine.filters.params.Regularized), passed through.
REGULARIZED_FLAGS = (
    ("--lr", float, "step size (default 0.1)"),
    ("--optimizer", str, "adam (default) or normalized"),
    ("--param", str, "image parametrisation: fourier (default) or pixel"),
    ("--decay", float, "fourier spectrum decay 1/f**decay (default 1)"),
    ("--jitter", float, "random shift, fraction of the side (default 0.06)"),
    ("--scale", float, "random zoom +- (default 0.1)"),
    ("--rotate", float, "random rotation +- degrees (default 10)"),
    ("--tv", float, "total variation weight (default 0.05)"),
    ("--l2", float, "L2 penalty weight (default 0)"),
)


def add_parser(sub) -> None:
    c = model_command(sub, "filters", "patterns that maximally activate a layer's filters (gradient ascent)")
    c.add_argument("--layer", required=True, help="a spatial layer; or a Dense layer / "
                   "`output` for class-model visualisation (the class logits, softmax stripped)")
    c.add_argument("--animate", default=None, help="also write the ascent forming as OUT.gif or "
                   "OUT.mp4 (a frame every --every steps)")
    c.add_argument("--every", type=int, default=None, help="--animate: steps between frames (default 5)")
    c.add_argument("--filters", default=None,
                   help=f"e.g. 0-63 or 1,5,9 (default: the first {filter_spec.DEFAULT_COUNT})")
    c.add_argument("--size", type=int, default=None, help=f"side in pixels, default "
                   f"{filter_spec.DEFAULT_SIZE} (models with a free input size)")
    c.add_argument("--steps", type=int, default=None, help="default: " + ", ".join(
        f"{n} {mode}" for mode, n in filter_spec.DEFAULT_STEPS.items()))
    c.add_argument("--mode", default=filter_spec.DEFAULT_MODE, choices=filter_spec.MODES,
                   help=filter_spec.CLASSIC_HELP)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--batch-size", type=int, default=None, help="images per compiled step (default: what fits)")
    reg = c.add_argument_group("regularized mode")
    for flag, kind, text in REGULARIZED_FLAGS:
        reg.add_argument(flag, type=kind, default=None, help=text)
    reg.add_argument("--no-decorrelate", dest="decorrelate", action="store_false", default=None,
                     help="optimise RGB directly instead of decorrelated colour")
    reg.add_argument("--no-pre-activation", dest="pre_activation", action="store_false", default=None,
                     help="maximise the layer's output after its ReLU")
    c.add_argument("--per-row", type=int, default=8)
    c.add_argument("--out", required=True)
    c.add_argument("--npy", help="patterns (N, size, size, 3) uint8")


def claim(args, out) -> dict:
    from ..filters.animation import SUFFIXES

    claimed = claim_picture(args, out)
    if args.animate is not None:
        claimed["animate"] = out.claim(args.animate, SUFFIXES, "--animate")
    return claimed


def run(args, out, claimed) -> tuple[int, str]:
    model, _ = open_for(args)
    from .. import grid as grid_mod
    from ..filters.ascent import plan_size, resolve_layer, units_of
    from .attribution_options import animation_recorder, class_names

    args.layer = resolve_layer(model, args.layer)
    channels = units_of(model, args.layer)
    filters = (filter_spec.parse_filters(args.filters) if args.filters
               else list(range(min(filter_spec.DEFAULT_COUNT, channels))))
    options = {"mode": args.mode, "seed": args.seed, "steps": args.steps,
               "batch_size": args.batch_size}
    knobs = [flag[2:].replace("-", "_") for flag, _, _ in REGULARIZED_FLAGS]
    given = {k: getattr(args, k) for k in knobs + ["decorrelate", "pre_activation"]
             if getattr(args, k) is not None}
    if given and args.mode != "regularized":
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise UserError(f"{flags}: these options are for --mode regularized")
    options.update(given)
    size = filter_spec.DEFAULT_SIZE if args.size is None else args.size
    note = plan_size(model, size)[2]
    if note and args.size is not None:
        print(note, file=sys.stderr)
    record = animation_recorder(args, grid_mod) if args.animate else None
    if record is not None:
        options.update(progress=record.add, every=record.every)
    patterns = interruptible(lambda token: model.filter_patterns(
        args.layer, filters=filters, size=size, cancel=token, **options))
    if record is not None:
        record.save(out, claimed["animate"])
    picture = grid_mod.tile(patterns, per_row=args.per_row, margin=5, fill=0)
    if args.npy:
        out.save_npy(claimed["npy"], patterns)
    out.save_png(claimed["out"], picture)
    report = f"{len(filters)} filter pattern(s) of {args.layer} -> {args.out}"
    names = class_names(model, args.layer, filters)
    if names:
        report += f"\nclasses (class-model visualisation, logits): {names}"
    if record is not None:
        report += f"\n{len(record.frames)} frame(s) of the ascent -> {args.animate}"
    return 0, report
