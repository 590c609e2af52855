"""`convscope cka`: linear CKA between the layers of two models (or a model and itself)
over a folder of images, as a layer x layer heatmap and/or JSON.

    convscope cka --model A [--model B] --images DIR|GLOB|LIST.csv [--layers L1,L2,...]
                  [--layers-b L1,...] [--batch-size 32] [--max-images N] --out cka.pdf [--json]

Images are read one minibatch at a time; CKA is the minibatch estimator with the unbiased
HSIC (engine.learning.cka), so memory does not grow with the folder. The two models may
differ in architecture and input size (each sees the images at its own input). Default
layers: every layer with a spatial output; --layers picks A's (and B's, if --layers-b is
not given). The JSON holds the layer names and the matrix (rows: A's layers).
"""
from __future__ import annotations

import os

from ..errors import UserError
from .learning_common import add_look, claim_figure, command_of, options_from, save_figure, split


def add_parser(sub) -> None:
    c = sub.add_parser("cka", help="linear CKA between the layers of two models (or one)",
                       description="Linear CKA (Kornblith et al. 2019) between every layer of "
                       "model A and every layer of model B (default: A itself) over a folder "
                       "of images, with the unbiased HSIC over minibatches.")
    c.add_argument("--model", action="append", default=[], help="model A (and, again, model B)")
    c.add_argument("--preprocess", default="auto", help="auto, none, rescale, caffe, tf or torch")
    c.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    c.add_argument("--images", required=True, help="a folder, a glob pattern or a LIST.csv")
    c.add_argument("--layers", default=None, help="A's layers, comma-separated (default: every spatial layer)")
    c.add_argument("--layers-b", default=None, help="B's layers (default: --layers, or every spatial layer)")
    c.add_argument("--batch-size", type=int, default=32, help="images per minibatch (at least 4)")
    c.add_argument("--max-images", type=int, default=None, help="use the first N images")
    c.add_argument("--out", default=None, help="FIG.pdf, .svg, .png or .tif")
    c.add_argument("--json", action="store_true", help="print the layer names and the matrix")
    add_look(c, colormap_help="magma by default")


def claim(args, out) -> dict:
    if not 1 <= len(args.model) <= 2:
        raise UserError(f"cka takes one --model (against itself) or two; got {len(args.model)}")
    if args.out is None and not args.json:
        raise UserError("give --out FIG.pdf and/or --json: cka has nothing to write")
    if args.batch_size < 4:
        raise UserError(f"--batch-size must be at least 4 (the unbiased HSIC needs 4 images), "
                        f"not {args.batch_size}")
    if args.max_images is not None and args.max_images < 4:
        raise UserError(f"--max-images must be at least 4, not {args.max_images}")
    return claim_figure(args, out)


def _layers(m, wanted: tuple, flag: str) -> list:
    from ..learning.compare import spatial_paths

    if not wanted:
        paths = spatial_paths(m)
        if not paths:
            raise UserError(f"{m.name} has no layer with a spatial output; give {flag}")
        return paths
    for p in wanted:
        m.layer(p)  # one line naming the near matches
    return list(wanted)


def run(args, out, claimed) -> tuple[int, str]:
    from ..dataset.sources import list_items
    from ..learning.cka import layer_cka
    from .common import check_model_spec, interruptible, to_json

    options = options_from(args)
    paths = [it.path for it in list_items(args.images, limit=args.max_images)]
    if len(paths) < 4:
        raise UserError(f"CKA needs at least 4 images; {args.images} has {len(paths)}")
    for spec in args.model:
        check_model_spec(spec)
    from .. import tf_runtime

    tf_runtime.init(args.device)
    from ..explore import cache as explore
    from ..model import open_model

    a = open_model(args.model[0], preprocess=args.preprocess, device=args.device)
    b = a if len(args.model) == 1 else open_model(args.model[1], preprocess=args.preprocess,
                                                   device=args.device)
    for m in {id(a): a, id(b): b}.values():
        explore.enable(m, False)
        m.require_layers("CKA")
    layers_a = _layers(a, split(args.layers), "--layers")
    wanted_b = split(args.layers_b) or (split(args.layers) if b is a or all(
        p in {i.path for i in b.layers} for p in split(args.layers)) else ())
    layers_b = _layers(b, wanted_b, "--layers-b")
    matrix = interruptible(lambda token: layer_cka(a, layers_a, b, layers_b, paths,
                                                   batch_size=args.batch_size, cancel=token))
    name_a = os.path.basename(args.model[0])
    name_b = name_a if b is a else os.path.basename(args.model[1])
    if "out" in claimed:
        from ..figures import learning as figs
        from ..figures.spec import format_of

        caption = (f"Linear CKA (Kornblith et al. 2019) over {len(paths)} images of "
                   f"{args.images}, unbiased HSIC averaged over minibatches of "
                   f"{args.batch_size} (Nguyen et al. 2021); rows: layers of {name_a}, "
                   f"columns: layers of {name_b}; grey: a layer constant over the images")
        recipe = figs.make_recipe(
            "cka", command_of("cka", args, ("model", "images", "layers", "layers_b", "batch_size",
                                            "max_images")),
            model=figs.model_entry(args.model[0]), images=[],
            figure={"images_spec": args.images, "images_count": len(paths),
                    "layers_a": layers_a, "layers_b": layers_b, "batch_size": args.batch_size},
            options=options,
            extra={"model_b": figs.model_entry(args.model[-1]), "matrix": _rows(matrix)})
        content, _ = figs.cka(matrix, layers_a, layers_b, f"{name_a} (A)", f"{name_b} (B)",
                              caption, options, format_of(args.out), recipe)
        save_figure(out, claimed, content, recipe)
    if args.json:
        return 0, to_json({"model_a": args.model[0], "model_b": args.model[-1],
                           "images": len(paths), "batch_size": args.batch_size,
                           "estimator": "linear CKA, unbiased HSIC averaged over minibatches",
                           "layers_a": layers_a, "layers_b": layers_b, "matrix": _rows(matrix)})
    return 0, f"{args.out}: CKA of {len(layers_a)} x {len(layers_b)} layers over {len(paths)} images"


def _rows(matrix) -> list:
    import math

    return [[None if not math.isfinite(float(v)) else float(v) for v in row] for row in matrix]
