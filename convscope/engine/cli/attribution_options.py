"""`cam` options of the pixel attributions and CAM smoothing (engine.attribution).

The flags are named as the API's keyword arguments: --samples --sigma (SmoothGrad),
--steps --baseline (Integrated Gradients), --patch --stride --fill (occlusion), --masks
(RISE), --seed (SmoothGrad, RISE, IG's noise baseline), --aug-smooth --eigen-smooth
(every CAM method). Only the options given are passed on, so a method refuses options
that are not its own with one clear line.
"""
from __future__ import annotations

VALUE_FLAGS = (
    ("--samples", int, "SmoothGrad: noisy copies (default 50)"),
    ("--sigma", float, "SmoothGrad: noise as a fraction of the input range (default 0.15)"),
    ("--steps", int, "Integrated Gradients: path steps, trapezoid rule (default 64)"),
    ("--baseline", str, "Integrated Gradients: black (default), blurred or noise"),
    ("--patch", int, "occlusion: square side in pixels (default: 1/8 of the input)"),
    ("--stride", int, "occlusion: step between positions (default: patch / 2)"),
    ("--fill", float, "occlusion: pixel value of the square (default 128, grey)"),
    ("--masks", int, "RISE: random masks (default 1000)"),
    ("--seed", int, "SmoothGrad / RISE / noise baseline: random seed (default 0)"),
)


def add_options(parser) -> None:
    g = parser.add_argument_group("pixel attributions (saliency, smoothgrad, integrated-gradients, "
                                  "guided-backprop, guided-gradcam, occlusion, rise)")
    for flag, kind, text in VALUE_FLAGS:
        g.add_argument(flag, type=kind, default=None, help=text)
    s = parser.add_argument_group("CAM smoothing (every class activation map method)")
    s.add_argument("--aug-smooth", action="store_true",
                   help="average over flipped and zoomed copies (test-time augmentation)")
    s.add_argument("--eigen-smooth", action="store_true",
                   help="first principal component of the weighted activations")


def options_from(args) -> dict:
    """The options given on the command line, as keyword arguments of ConvModel.cam."""
    out = {}
    for flag, _, _ in VALUE_FLAGS:
        key = flag[2:].replace("-", "_")
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    if args.aug_smooth:
        out["aug_smooth"] = True
    if args.eigen_smooth:
        out["eigen_smooth"] = True
    return out


def describe(cam, out: str) -> str:
    """The one-line summary `cam` prints (plus IG's completeness check)."""
    where = f"on {cam.layer}" if cam.kind == "cam" else (
        "on the input pixels" if cam.method != "occlusion"
        else f"on a {cam.heatmap.shape[0]}x{cam.heatmap.shape[1]} grid of patch positions")
    what = (f"target {cam.target} ({cam.label})" if getattr(cam, "target", "")
            else f"class {cam.class_index} ({cam.label})")
    text = f"{cam.method} {where}, {what}, score {cam.score:.4f} -> {out}"
    err = cam.info.get("completeness_error")
    if err is not None:
        verdict = "enough steps" if err < 0.01 else "raise --steps for a closer integral"
        text += (f"\ncompleteness error {100 * err:.2f}% (sum of attributions vs score "
                 f"difference to the baseline; {verdict})")
    return text


class _Recorder:
    """Collects a grid frame of the patterns every `every` ascent steps (filters --animate)."""

    def __init__(self, path: str, every: int, per_row: int, grid_mod):
        self.path, self.every, self.per_row, self.grid = path, every, per_row, grid_mod
        self.frames: list = []

    def add(self, step, steps, patterns=None):
        if patterns is not None:
            self.frames.append(self.grid.tile(patterns, per_row=self.per_row, margin=5, fill=0))

    def save(self, out, path):
        from ..filters.animation import save

        save(path, self.frames, out=out)


def animation_recorder(args, grid_mod):
    """filters --animate OUT.gif|.mp4: the recorder (the path is checked before any work)."""
    return _Recorder(args.animate, args.every or 5, args.per_row, grid_mod)


def class_names(model, layer: str, filters) -> str:
    """'0 circle, 1 square, ...' when `layer` makes the model's class scores and the model
    has labels; else ''."""
    from ..filters.ascent import resolve_layer

    if model.labels is None or resolve_layer(model, "output") != layer:
        return ""
    if model.head.binary_sigmoid:
        return ""
    return ", ".join(f"{f} {model.label(f)}" for f in filters)
