"""`convscope video`: every frame (or every N-th) of a clip explained, none dropped.

    convscope video --model SPEC --input CLIP.mp4 --out EXPLAINED.mp4|.gif
                    [--method gradcam] [--layer L] [--class C|top] [--alpha 0.4] [--colormap jet]
                    [--smooth 0.0-0.9] [--every N] [--max-frames N] [--side-by-side]

Frames are explained in batches (engine/video/pipeline.py) and written at the source's
frame rate: .mp4/.mov (mp4v), .avi/.mkv (FFV1, lossless), .gif (Pillow). A progress bar
goes to stderr; Ctrl-C or an error leaves no file behind.
"""
from __future__ import annotations

import sys
from .common import check_model_spec, interruptible, model_command


def add_parser(sub) -> None:
    c = model_command(sub, "video", "explain every frame of a video: CAM overlay and caption per frame")
    c.add_argument("--input", required=True, help="a video file (.mp4, .avi, .mov, .mkv, .webm)")
    c.add_argument("--out", required=True, help=".mp4/.mov, .avi/.mkv (lossless) or .gif")
    c.add_argument("--method", default="gradcam")
    c.add_argument("--layer", default=None, help="default: last spatial layer before pooling")
    c.add_argument("--class", dest="class_", default="top",
                   help="index or label, or top (each frame's top prediction; default)")
    from .target_option import add_target

    add_target(c)
    c.add_argument("--alpha", type=float, default=0.4)
    c.add_argument("--colormap", default="jet")
    c.add_argument("--smooth", type=float, default=0.0,
                   help="temporal smoothing of the heatmap, 0 (none) to 0.9 (moving average)")
    c.add_argument("--every", type=int, default=1, help="explain every N-th frame; the map is "
                   "kept on the frames between (default 1: every frame)")
    c.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    c.add_argument("--side-by-side", action="store_true", help="the frame and its overlay side by side")
    c.add_argument("--no-caption", dest="caption", action="store_false",
                   help="leave out the caption (class and probability)")
    c.add_argument("--batch-size", type=int, default=8, help="frames per forward pass (default 8)")


def claim(args, out) -> dict:
    """The destination is checked before any work (the file itself is written by the
    pipeline, atomically, through engine.outputs)."""
    from ..outputs import check_destination
    from ..video.io import OUTPUT_SUFFIXES, check_output

    check_output(args.out)  # its own message, naming the video formats
    check_destination(args.out, OUTPUT_SUFFIXES, "--out", out.inputs)
    return {}


def run(args, _out=None, _claimed=None) -> int:
    import os

    from ..colormaps import lut
    from ..errors import UserError
    from ..video.io import VideoSource, check_output
    from ..video.pipeline import VideoOptions, check_options

    from ..cam import registry

    # Everything that can be checked before TensorFlow loads is checked first.
    options = VideoOptions(
        method=registry.get(args.method).name, layer=args.layer, alpha=args.alpha,
        colormap=args.colormap, smooth=args.smooth, every=args.every,
        max_frames=args.max_frames, side_by_side=args.side_by_side, caption=args.caption,
        batch_size=args.batch_size)
    check_options(options)
    from .target_option import check_target

    check_target(args)
    lut(args.colormap)
    check_output(args.out)
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        raise UserError(f"cannot write {args.out}: folder {folder} does not exist")
    if os.path.abspath(args.out) == os.path.abspath(args.input):
        raise UserError("--out is the --input file; give another name for the explained video")
    with VideoSource.open_file(args.input) as src:
        info = src.info
        src.read()  # at least one frame decodes
    from .. import tf_runtime

    check_model_spec(args.model)
    tf_runtime.init(args.device)
    from ..model import open_model

    from ..model_options import from_args

    model = open_model(args.model, preprocess=args.preprocess, device=args.device,
                       **from_args(args))
    if args.target is not None and str(args.class_).lower() != "top":
        raise UserError("give --class or --target, not both (--target class:C is a class)")
    class_index = None if str(args.class_).lower() == "top" else model.class_index(args.class_)
    if args.target is not None:
        import numpy as np

        from .. import targets
        from ..images import from_array

        frame = from_array(np.zeros((info.height, info.width, 3), np.uint8), name="frame")
        targets.bind(model, args.target, [frame])  # a bad target: one line before any frame
    if options.layer is not None:
        model.layer(options.layer, spatial=True)
    options = VideoOptions(**{**options.__dict__, "class_index": class_index,
                              "target": args.target})

    from tqdm import tqdm

    total = info.frame_count
    if options.max_frames is not None:
        total = options.max_frames if total is None else min(total, options.max_frames)
    bar = tqdm(total=total, unit="frame", desc=info.name, file=sys.stderr, leave=False,
               dynamic_ncols=True, disable=not sys.stderr.isatty())

    def progress(done, _total):
        bar.update(done - bar.n)

    from ..video.pipeline import explain_video

    try:
        summary = interruptible(lambda token: explain_video(
            model, args.input, args.out, options, progress=progress, cancel=token))
    finally:
        bar.close()
    h, w = summary.size
    print(f"{summary.frames} frames ({summary.explained} explained, {options.method}), "
          f"{w}x{h} at {summary.fps:g} fps, {summary.frames / max(summary.seconds, 1e-9):.1f} "
          f"frames/s -> {args.out}")
    return 0
