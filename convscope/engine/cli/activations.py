"""`convscope activations`: the grid of all channels of a layer's activations."""
from __future__ import annotations

from ..errors import UserError
from ..explore import activation_view
from .common import claim_picture, model_command, open_for


def add_parser(sub) -> None:
    c = model_command(sub, "activations", "grid of all channels of a layer's activations")
    c.add_argument("--image", required=True)
    c.add_argument("--layer", required=True)
    c.add_argument("--out", required=True, help="grid PNG")
    c.add_argument("--per-row", type=int, default=16)
    c.add_argument("--normalise", default=activation_view.DEFAULT_NORMALISATION,
                   choices=activation_view.NORMALISATIONS)
    c.add_argument("--colormap", default=activation_view.DEFAULT_COLORMAP)
    c.add_argument("--npy", help="raw activations (H, W, C) float32")


claim = claim_picture  # --out and --npy, checked before any work


def run(args, out, claimed) -> tuple[int, str]:
    model, image = open_for(args)
    model.layer(args.layer, spatial=True)
    if args.per_row < 1:
        raise UserError("--per-row must be at least 1")
    act = model.activations(image, [args.layer])[args.layer]
    grid = activation_view.render_grid(act, per_row=args.per_row, mode=args.normalise,
                                       colormap=args.colormap)
    if args.npy:
        out.save_npy(claimed["npy"], act.astype("float32"))
    out.save_png(claimed["out"], grid)
    dead = activation_view.dead_channels(act)
    return 0, (f"{args.layer}: {act.shape[0]}x{act.shape[1]}x{act.shape[2]}, "
               f"{len(dead)} dead channel(s) -> {args.out}")
