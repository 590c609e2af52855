"""`convscope cam`: a class activation map (or pixel attribution) over an image."""
from __future__ import annotations

from ..cam import registry as cam_registry
from ..errors import UserError
from .common import claim_picture, interruptible, model_command, open_for, to_json
from .target_option import add_target, check_target


def add_parser(sub) -> None:
    c = model_command(sub, "cam", "class activation map over an image")
    c.add_argument("--image", required=True)
    c.add_argument("--method", default=cam_registry.DEFAULT_METHOD,
                   help="one of " + ", ".join(cam_registry.names()))
    c.add_argument("--layer", default=None, help="default: last spatial layer before pooling")
    c.add_argument("--class", dest="class_", default=None, help="index or label; default: top prediction")
    add_target(c)
    c.add_argument("--alpha", type=float, default=cam_registry.DEFAULT_ALPHA)
    c.add_argument("--colormap", default=cam_registry.DEFAULT_COLORMAP)
    c.add_argument("--max-n", type=int, default=None, help="Faster Score-CAM: channels kept")
    from .attribution_options import add_options

    add_options(c)
    c.add_argument("--out", required=True, help="overlay PNG")
    c.add_argument("--npy", help="heatmap (h, w) float32 at the method's own resolution: "
                   "the layer's for CAMs ([0, 1]), the input's for pixel attributions "
                   "(signed ones in [-1, 1]), the patch grid for occlusion")
    c.add_argument("--json", action="store_true")


def claim(args, out) -> dict:
    """--out and --npy, and a --target's syntax, checked before any work."""
    check_target(args)
    return claim_picture(args, out)


def run(args, out, claimed) -> tuple[int, str]:
    model, image = open_for(args)
    from .attribution_options import describe, options_from

    options = options_from(args)
    if args.max_n is not None:
        options["max_n"] = args.max_n
    if args.target is not None and args.class_ is not None:
        raise UserError("give --class or --target, not both (--target class:C is a class)")
    class_index = model.class_index(args.class_) if args.class_ is not None else None
    target = args.target  # checked against the model by compute_cam, before anything is written
    if not 0.0 <= args.alpha <= 1.0:
        raise UserError("--alpha must be between 0 and 1")
    cam = interruptible(lambda token: model.cam(
        image, method=args.method, layer=args.layer, class_index=class_index,
        target=target, cancel=token, **options))
    overlay = cam.overlay(alpha=args.alpha, colormap=args.colormap)
    if args.npy:
        out.save_npy(claimed["npy"], cam.heatmap.astype("float32"))
    out.save_png(claimed["out"], overlay)
    if args.json:
        return 0, to_json(cam.as_dict())
    return 0, describe(cam, args.out)
