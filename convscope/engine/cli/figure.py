"""`convscope figure`: a figure for a paper, or the same figure again from its recipe.

    convscope figure --model SPEC --image A.jpg [--image B.jpg ...] --out FIG.pdf
                     [--kind cam|methods|layers|classes|activations|filters|curves]
                     [--methods gradcam,gradcam++,scorecam] [--layer L | --layers L1,L2,...]
                     [--class C | --classes C1,C2 | --top-classes K] [--top N] [--filters 0-15]
                     [--colormap jet] [--alpha 0.4] [--width single|double|MM] [--dpi 300]
                     [--font-size 7] [--font FAMILY] [--title TEXT] [--panel-labels] [--no-colorbar]
                     [--npy-dir DIR]
    convscope figure --recipe FIG.pdf.json|FIG.png [--out NEW.pdf] [--allow-changed-inputs]

Without --kind: layers for several --layers, classes for --classes / --top-classes,
methods for several methods or images, else cam. Everything is checked before TensorFlow
loads; bad input is one `error:` line and exit status 2, and nothing is written.
"""
from __future__ import annotations

import dataclasses
import os
import sys

from ..filters import spec as filter_spec
from ..errors import UserError
from .common import MAX_SIZE, MAX_STEPS, check_model_spec, interruptible


def add_parser(sub) -> None:
    c = sub.add_parser("figure", help="a figure for a paper (PDF, SVG, PNG, TIFF) with its recipe",
                       description="A figure for a paper, with its recipe embedded and in OUT.json; "
                       "or the same figure again from a recipe (--recipe).")
    c.add_argument("--model", default=None, help="a .keras/.h5 file, builtin:NAME[?weights=none] or demo")
    c.add_argument("--preprocess", default="auto", help="auto, none, rescale, caffe, tf or torch")
    c.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    c.add_argument("--debug", action="store_true", help="show tracebacks")
    from ..model_options import add_model_options

    add_model_options(c)  # --custom-objects, --trust-model, --head
    c.add_argument("--image", action="append", default=[], help="an image (repeat for more)")
    c.add_argument("--out", default=None, help="FIG.pdf, .svg, .png or .tif (the format follows)")
    c.add_argument("--kind", default=None, help="cam, methods, layers, classes, activations, filters or curves")
    c.add_argument("--methods", default=None, help="comma-separated CAM methods")
    c.add_argument("--method", default=None, help="one CAM method (default gradcam)")
    c.add_argument("--layer", default=None, help="the target layer (default: the model's CAM layer)")
    c.add_argument("--layers", default=None, help="layers figure: L1,L2,...")
    c.add_argument("--class", dest="class_", default=None, help="index or label (default: top prediction)")
    c.add_argument("--classes", default=None, help="C1,C2,... (classes figure; or one per image)")
    from .target_option import add_target

    add_target(c)
    c.add_argument("--top-classes", type=int, default=None, help="classes figure: the K top predictions")
    c.add_argument("--top", type=int, default=None, help="activations: the N most active channels")
    c.add_argument("--filters", default=None, help="filters figure: e.g. 0-15 or 1,5,9")
    c.add_argument("--mode", default=filter_spec.DEFAULT_MODE, choices=filter_spec.MODES,
                   help="filter patterns: " + filter_spec.CLASSIC_HELP)
    c.add_argument("--steps", type=int, default=None, help="filter patterns: ascent steps")
    c.add_argument("--size", type=int, default=64, help="filter patterns: side in pixels")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--max-n", type=int, default=None, help="Faster Score-CAM: channels kept")
    c.add_argument("--curve-steps", type=int, default=50, help="curves: deletion/insertion steps")
    c.add_argument("--colormap", default=None, help="jet (maps) / viridis (activations) by default")
    c.add_argument("--alpha", type=float, default=0.4, help="overlay opacity; 1 = the heatmap alone")
    c.add_argument("--width", default="double", help="single (89 mm), double (183 mm) or millimetres")
    c.add_argument("--dpi", type=int, default=300)
    c.add_argument("--font-size", type=float, default=7.0)
    c.add_argument("--font", default="DejaVu Sans", help="font family (embedded as TrueType)")
    c.add_argument("--title", default="")
    c.add_argument("--panel-labels", action="store_true", help="letter the panels a, b, c …")
    c.add_argument("--no-colorbar", dest="colorbar", action="store_false")
    c.add_argument("--no-heatmap", dest="heatmap", action="store_false", help="cam: no heatmap-alone panel")
    c.add_argument("--normalise", default="channel", choices=("channel", "layer"), help="activations")
    c.add_argument("--per-row", type=int, default=None, help="activations/filters: tiles per row")
    c.add_argument("--npy-dir", default=None, help="also write every array drawn, as .npy")
    c.add_argument("--recipe", default=None, help="remake the figure of FIG.pdf.json / FIG.png")
    c.add_argument("--allow-changed-inputs", action="store_true",
                   help="with --recipe: remake even if the model or an image changed")


def _split(text):
    return tuple(p.strip() for p in text.split(",") if p.strip()) if text else ()


def build(args):
    """(FigureSpec, FigureOptions) from the command line, checked (no TensorFlow)."""
    from ..filters.spec import parse_filters
    from ..figures import FigureOptions, FigureSpec

    for flag, value, low, high in (("--steps", args.steps, 0, MAX_STEPS), ("--size", args.size, 8, MAX_SIZE),
                                   ("--curve-steps", args.curve_steps, 2, 1000)):
        if value is not None and not low <= value <= high:
            raise UserError(f"{flag} must be between {low} and {high}, not {value}")

    from .target_option import check_target

    check_target(args)
    methods = _split(args.methods)
    if args.method:
        if methods:
            raise UserError("give --method M or --methods M1,M2, not both")
        methods = (args.method,)
    layers = _split(args.layers)
    if args.layer:
        if layers:
            raise UserError("give --layer L or --layers L1,L2, not both")
        layers = (args.layer,)
    classes = _split(args.classes)
    if args.class_ is not None:
        if classes:
            raise UserError("give --class C or --classes C1,C2, not both")
        classes = (args.class_,)
    kind = args.kind or _infer_kind(args, methods, layers, classes)
    if kind in ("cam", "layers", "classes") and not methods:
        methods = ("gradcam",)
    if kind == "curves" and not methods:
        methods = ("gradcam", "gradcam++", "scorecam")
    filters = tuple(parse_filters(args.filters)) if args.filters else ()
    spec = FigureSpec(kind=kind, images=tuple(args.image), methods=methods, layers=layers,
                      classes=classes, top_classes=args.top_classes, top=args.top,
                      filters=filters, filter_mode=args.mode, filter_steps=args.steps,
                      filter_size=args.size, seed=args.seed, max_n=args.max_n,
                      curve_steps=args.curve_steps, target=args.target or "")
    options = FigureOptions(width=args.width, dpi=args.dpi, font=args.font,
                            font_size=args.font_size, colormap=args.colormap, alpha=args.alpha,
                            title=args.title, panel_labels=args.panel_labels,
                            colorbar=args.colorbar, heatmap=args.heatmap,
                            normalise=args.normalise, per_row=args.per_row)
    options.check()
    return with_methods(spec), options


def with_methods(spec):
    """Method names checked against the engine's registry (light: no TensorFlow yet); a
    methods figure without --methods gets every class activation map method."""
    from ..figures import naming

    if spec.kind not in ("cam", "methods", "layers", "classes", "curves"):
        spec.check()
        return spec
    methods = tuple(naming.canonical(m) for m in spec.methods) or naming.methods()
    spec = dataclasses.replace(spec, methods=methods)
    spec.check()
    return spec


def _infer_kind(args, methods, layers, classes) -> str:
    if len(layers) > 1:
        return "layers"
    if len(classes) > 1 and len(args.image) == 1 or args.top_classes:
        return "classes"
    if len(methods) > 1 or len(args.image) > 1:
        return "methods"
    return "cam"


def run(args, _out=None, _claimed=None) -> int:
    """The `figure` sub-command (it writes through engine.outputs itself)."""
    from ..figures import format_of, make_figure
    from ..figures.render import check_font
    from ..images import load_image

    if args.recipe:
        given = [f for f in ("model", "image", "kind", "methods", "method", "layer", "layers",
                             "target")
                 if getattr(args, f)]
        if given:
            raise UserError(f"--recipe remakes a figure as recorded; drop --{given[0]}")
        return _remake(args)
    if not args.model:
        raise UserError("figure needs --model (or --recipe FIG.pdf.json to remake a figure)")
    if not args.out:
        raise UserError("figure needs --out FIG.pdf (or .svg, .png, .tif)")
    fmt = format_of(args.out)
    _check_out(args.out, args.npy_dir, [("--image", p) for p in args.image] + [("--model", args.model)])
    spec, options = build(args)
    check_font(options.font)
    images = [load_image(p) for p in spec.images]
    if args.model != "demo" and not args.model.startswith("builtin:") and not os.path.exists(args.model):
        raise UserError(f"model file not found: {args.model}")
    model = _open(args.model, args.preprocess, args.device, args)
    made = interruptible(lambda token: make_figure(model, spec, options, out=args.out, fmt=fmt,
                                                   images=images, npy_dir=args.npy_dir, cancel=token))
    _warn(made)
    _report(spec, args.out, args.npy_dir)
    return 0


def _remake(args) -> int:
    from ..figures import FigureOptions, FigureSpec, format_of, make_figure, recipe as recipes
    from ..images import load_image

    recipe = recipes.load(args.recipe)
    if "command" in recipe:  # timeline / diff / cka: their sub-command runs again (cli/remake_command.py)
        from .remake_command import remake

        return remake(args, recipe)
    out = args.out or (args.recipe[:-5] if args.recipe.lower().endswith(".json") else args.recipe)
    fmt = format_of(out)
    paths = recipes.image_paths(recipe, args.recipe)
    _check_out(out, args.npy_dir, [("recipe's image", p) for p in paths]
               + [("recipe's model", recipe["model"]["spec"])])
    changed = recipes.changed_inputs(recipe, paths)
    if changed and not args.allow_changed_inputs:
        raise UserError(f"{'; '.join(changed)}: the figure would not be the one recorded "
                        "(--allow-changed-inputs makes it anyway)")
    for problem in changed:
        print(f"warning: {problem}", file=sys.stderr)
    try:  # a field of the wrong type (a hand-edited recipe) is one line, not a traceback
        spec = FigureSpec.from_dict(recipe["figure"])
        spec = dataclasses.replace(spec, images=tuple(paths))
        options = FigureOptions.from_dict(recipe["options"])
        spec.check()
        options.check()
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise UserError(f"{args.recipe} is a damaged recipe: {exc}") from None
    images = [load_image(p) for p in paths]
    model = _open(recipe["model"]["spec"], recipe.get("preprocess") or "auto", args.device, args)
    made = interruptible(lambda token: make_figure(model, spec, options, out=out, fmt=fmt,
                                                   images=images, npy_dir=args.npy_dir, cancel=token))
    _warn(made)
    _report(spec, out, args.npy_dir)
    return 0


def _init(device: str) -> None:
    from .. import tf_runtime

    tf_runtime.init(device)  # quiet TensorFlow and pick the device before it is imported


def _open(spec: str, preprocess: str, device: str, args=None):
    if spec != "demo" and not spec.startswith("builtin:") and not os.path.exists(spec):
        raise UserError(f"model file not found: {spec}")
    check_model_spec(spec)  # a FIFO or a device is refused from os.stat
    _init(device)
    from ..model import open_model

    from ..model_options import from_args

    return open_model(spec, preprocess=preprocess, device=device, **from_args(args))


def _check_out(out: str, npy_dir: str | None, inputs=()) -> None:
    from ..outputs import check_not_input

    check_not_input(out, inputs, "--out")  # an output never overwrites an input
    check_not_input(out + ".json", inputs, "the recipe")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise UserError(f"cannot write {out}: folder {folder} does not exist")
    if os.path.isdir(out):
        raise UserError(f"cannot write {out}: it is a folder")
    if npy_dir is not None and not os.path.isdir(npy_dir):
        raise UserError(f"--npy-dir {npy_dir}: no such folder")


def _warn(made) -> None:
    """What the layout had to adapt so no text overlaps (bands, smaller fonts), on stderr."""
    for text in (made.layout or {}).get("warnings", ()) if made is not None else ():
        print(f"warning: {text}", file=sys.stderr)


def _report(spec, out: str, npy_dir: str | None) -> None:
    extra = f", arrays in {npy_dir}" if npy_dir else ""
    print(f"{spec.kind} figure -> {out} (recipe: {out}.json{extra})")
