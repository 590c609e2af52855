"""`convscope diff`: two models' maps on one image, and their signed difference B - A.

    convscope diff --model A --model B --image I [--layer L] [--method M] [--class C]
                   --out diff.pdf [--npy D.npy] [--json]

The class is A's top prediction (or --class), the same for both; the layer is A's default
CAM layer (or --layer), which B must have. --npy writes B's map minus A's, (h, w) float32
in [-1, 1] at the layer's resolution. Also reported: the spatial layers with no
counterpart in the other model, and for each shared layer the relative change of its
activations on the image (engine.learning.compare).
"""
from __future__ import annotations

from ..cam import registry as cam_registry
from ..errors import UserError
from .learning_common import add_look, claim_figure, command_of, options_from, save_figure


def add_parser(sub) -> None:
    c = sub.add_parser("diff", help="two models' maps on one image and their difference",
                       description="Two models' maps on the same image (e.g. two checkpoints) "
                       "and their signed difference B - A.")
    c.add_argument("--model", action="append", default=[], help="model A, then model B (give it twice)")
    c.add_argument("--preprocess", default="auto", help="auto, none, rescale, caffe, tf or torch")
    c.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    c.add_argument("--image", required=True)
    c.add_argument("--method", default=cam_registry.DEFAULT_METHOD,
                   help="one of " + ", ".join(cam_registry.names()))
    c.add_argument("--layer", default=None, help="default: model A's CAM layer")
    c.add_argument("--class", dest="class_", default=None, help="index or label; default: A's top prediction")
    c.add_argument("--out", default=None, help="FIG.pdf, .svg, .png or .tif")
    c.add_argument("--npy", default=None, help="the difference B - A, (h, w) float32")
    c.add_argument("--json", action="store_true")
    add_look(c)


def claim(args, out) -> dict:
    if len(args.model) != 2:
        raise UserError(f"diff compares two models: give --model A --model B (got {len(args.model)})")
    if args.out is None and args.npy is None and not args.json:
        raise UserError("give --out FIG.pdf, --npy D.npy or --json: diff has nothing to write")
    claimed = claim_figure(args, out)
    if args.npy is not None:
        claimed["npy"] = out.claim(args.npy, (".npy",), "--npy")
    return claimed


def run(args, out, claimed) -> tuple[int, str]:
    import os

    from ..figures import learning as figs
    from ..figures.naming import title as method_title
    from ..images import load_image
    from ..learning.compare import diff_maps
    from .common import check_model_spec, interruptible, to_json

    options = options_from(args)
    image = load_image(args.image)
    cam_registry.get(args.method)
    for spec in args.model:
        check_model_spec(spec)
    from .. import tf_runtime

    tf_runtime.init(args.device)
    from ..explore import cache as explore
    from ..model import open_model

    a, b = (open_model(s, preprocess=args.preprocess, device=args.device) for s in args.model)
    for m in (a, b):
        explore.enable(m, False)
    if a.name == b.name:  # two checkpoints of one run share the model's name: tell them apart
        a.name, b.name = os.path.basename(args.model[0]), os.path.basename(args.model[1])
    d = interruptible(lambda token: diff_maps(a, b, image, method=args.method, layer=args.layer,
                                              class_index=args.class_))
    if "npy" in claimed:
        out.save_npy(claimed["npy"], d.diff.astype("float32"))
    peak = float(abs(d.diff).max())
    label = a.label(d.class_index)
    if "out" in claimed:
        pixels = image.pixels
        caption = (f"{method_title(d.cam_a.method)} at layer {d.layer} for class {label} "
                   f"({d.class_index}) in both models: A {a.name} (score {d.cam_a.score:.3g}), "
                   f"B {b.name} (score {d.cam_b.score:.3g}); maps ReLU then min-max per map; "
                   f"difference B − A, largest |B − A| {peak:.3f}")
        recipe = figs.make_recipe(
            "diff", command_of("diff", args, ("model", "image", "method", "layer", "class_")),
            model=figs.model_entry(args.model[0]), images=[figs.image_entry(image.path, image.name)],
            figure={"method": d.cam_a.method, "layer": d.layer, "class": d.class_index},
            options=options, extra={"model_b": figs.model_entry(args.model[1])})
        from ..figures.spec import format_of

        content, _ = figs.diff(pixels, d.map_a, d.map_b, (a.name, b.name), caption, options,
                               format_of(args.out), recipe)
        save_figure(out, claimed, content, recipe)
    notes = []
    if d.pairs.only_a:
        notes.append(f"layers of A with no counterpart in B: {', '.join(d.pairs.only_a)}")
    if d.pairs.only_b:
        notes.append(f"layers of B with no counterpart in A: {', '.join(d.pairs.only_b)}")
    if args.json:
        return 0, to_json({
            "model_a": args.model[0], "model_b": args.model[1], "image": image.path,
            "method": d.cam_a.method, "layer": d.layer, "class_index": d.class_index,
            "label": label, "score_a": d.cam_a.score, "score_b": d.cam_b.score,
            "max_abs_difference": peak, "mean_abs_difference": float(abs(d.diff).mean()),
            "only_in_a": d.pairs.only_a, "only_in_b": d.pairs.only_b,
            "activation_change": d.change})
    where = args.out or args.npy
    return 0, "\n".join([f"{where}: {d.cam_a.method} at {d.layer}, class {label}; "
                         f"largest |B - A| {peak:.3f}"] + notes)

