"""Headless command line (design §3): info, predict, activations, filters, cam.

Bad input exits with status 2 and one `error: ...` line on stderr (a traceback only with
--debug); output files are written atomically, so a failed run leaves none behind.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import threading

from . import activation_view, filter_spec
from .cam import registry as cam_registry
from .errors import Cancelled, UserError, first_line
from .filter_spec import parse_filters  # noqa: F401  (engine.cli.parse_filters, as before)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, as every other bad input
        raise UserError(f"{message} (see `{self.prog} --help`)")


# Knobs of regularized filter patterns (engine.filter_params.Regularized), passed through.
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


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="convscope", description="See what a convolutional network has learned. "
                "With no command (or `gui`), the window opens.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    def command(name, help_text):
        c = sub.add_parser(name, help=help_text, description=help_text)
        c.add_argument("--model", required=True, help="a .keras/.h5 file, SavedModel folder, builtin:NAME[?weights=none] or demo")
        c.add_argument("--preprocess", default="auto", help="auto, none, rescale, caffe, tf or torch")
        c.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
        c.add_argument("--debug", action="store_true", help="show tracebacks")
        return c

    c = command("info", "describe a model: input, head, parameters, every layer")
    c.add_argument("--json", action="store_true")

    c = command("predict", "top predictions for an image")
    c.add_argument("--image", required=True)
    c.add_argument("--top", type=int, default=5)
    c.add_argument("--json", action="store_true")

    c = command("activations", "grid of all channels of a layer's activations")
    c.add_argument("--image", required=True)
    c.add_argument("--layer", required=True)
    c.add_argument("--out", required=True, help="grid PNG")
    c.add_argument("--per-row", type=int, default=16)
    c.add_argument("--normalise", default=activation_view.DEFAULT_NORMALISATION,
                   choices=activation_view.NORMALISATIONS)
    c.add_argument("--colormap", default=activation_view.DEFAULT_COLORMAP)
    c.add_argument("--npy", help="raw activations (H, W, C) float32")

    c = command("filters", "patterns that maximally activate a layer's filters (gradient ascent)")
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

    c = command("cam", "class activation map over an image")
    c.add_argument("--image", required=True)
    c.add_argument("--method", default=cam_registry.DEFAULT_METHOD,
                   help="one of " + ", ".join(cam_registry.names()))
    c.add_argument("--layer", default=None, help="default: last spatial layer before pooling")
    c.add_argument("--class", dest="class_", default=None, help="index or label; default: top prediction")
    c.add_argument("--alpha", type=float, default=cam_registry.DEFAULT_ALPHA)
    c.add_argument("--colormap", default=cam_registry.DEFAULT_COLORMAP)
    c.add_argument("--max-n", type=int, default=None, help="Faster Score-CAM: channels kept")
    from .cli_attribution import add_options

    add_options(c)
    c.add_argument("--out", required=True, help="overlay PNG")
    c.add_argument("--npy", help="heatmap (h, w) float32 at the method's own resolution: "
                   "the layer's for CAMs ([0, 1]), the input's for pixel attributions "
                   "(signed ones in [-1, 1]), the patch grid for occlusion")
    c.add_argument("--json", action="store_true")

    from . import cli_batch, cli_examples, cli_figure, cli_video

    cli_video.add_parser(sub, command)
    cli_figure.add_parser(sub)
    cli_batch.add_parser(sub, command)
    cli_examples.add_parser(sub, command)
    from .cli_help import state_defaults

    state_defaults(p)  # every --help states each default (issue 17)
    return p


def _interruptible(work):
    """Run work(token) on a helper thread so Ctrl-C reaches us: the main thread waits in
    short joins (where Python runs its signal handlers; it would not while blocked inside a
    TensorFlow call) and on Ctrl-C sets the CancelToken that the computation polls between
    ascent steps and Score-CAM chunks, then waits for it to stop."""
    from .cancel import CancelToken

    token = CancelToken()
    box: dict = {}

    finished = threading.Event()

    def target():
        try:
            box["result"] = work(token)
        except BaseException as exc:  # handed to the main thread
            box["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=target, name="convscope-cli-work", daemon=True)
    thread.start()
    # An Event, not thread.join(timeout): Ctrl-C inside join() can leave CPython 3.11
    # believing the thread has stopped (it releases the running thread's own state lock).
    while not finished.is_set():
        try:
            finished.wait(0.1)
        except KeyboardInterrupt:
            token.cancel()
    if "error" in box:
        raise box["error"]
    if token.cancelled:
        raise Cancelled()
    return box["result"]


def main(argv=None) -> int:
    from . import interrupts

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    interrupts.install()  # SIGTERM / SIGHUP end the run as Ctrl-C does
    try:
        args = _parser().parse_args(argv)
        if args.command is None:
            raise UserError("no command given (see --help)")
        code = _run(args)
        sys.stdout.flush()  # a closed pipe is found here, not at interpreter exit
        return code
    except UserError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `convscope info ... | head`: the reader has gone; so do we
        interrupts.silence_stdout()
        return 141
    except (Cancelled, KeyboardInterrupt):
        print(f"error: interrupted ({interrupts.signal_name()}); nothing was written",
              file=sys.stderr)
        return interrupts.exit_status()
    except MemoryError:
        if debug:
            raise
        print("error: out of memory; try a smaller image, model input, --size or fewer "
              "--filters", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, or a failure Keras/TensorFlow did not explain
        if debug:
            raise
        print(f"error: unexpected failure ({type(exc).__name__}: {first_line(exc)}); "
              "run again with --debug for the traceback", file=sys.stderr)
        return 1


def _run(args) -> int:
    """Outputs are claimed (checked) first, before any work; they are written only if the
    whole command succeeds (engine.outputs); the report line is printed after that."""
    from . import outputs

    with outputs.Outputs() as out:
        claimed = _claim_outputs(args, out)
        result = _work(args, out, claimed)
    # a sub-command module's run(args) returns its exit status alone
    code, report = result if isinstance(result, tuple) else (result, "")
    if report:
        print(report)
    return code


def _claim_outputs(args, out) -> dict:
    """Check the destinations of the commands whose files this module writes (activations,
    filters, cam) before any work. Other commands (video, ...) write through
    engine.outputs themselves; their --out is checked here too when its suffixes are known,
    and is left to them otherwise (a folder, a PDF)."""
    claimed = {}
    if args.command in ("activations", "filters", "cam"):
        from .outputs import IMAGE_SUFFIXES

        claimed["out"] = out.claim(args.out, IMAGE_SUFFIXES, "--out")
        if getattr(args, "npy", None) is not None:
            claimed["npy"] = out.claim(args.npy, (".npy",), "--npy")
        if getattr(args, "animate", None) is not None:
            from .animation import SUFFIXES

            claimed["animate"] = out.claim(args.animate, SUFFIXES, "--animate")
    elif args.command == "video":
        from .outputs import check_destination
        from .video_io import OUTPUT_SUFFIXES, check_output

        check_output(args.out)  # its own message, naming the video formats
        check_destination(args.out, OUTPUT_SUFFIXES, "--out")
    return claimed


def _work(args, out, claimed) -> tuple[int, str]:
    """The command's work; returns (exit status, the line to print after the outputs)."""
    from .images import load_image

    if args.command == "video":
        from . import cli_video

        return cli_video.run(args)
    if args.command == "figure":
        from . import cli_figure

        return cli_figure.run(args, _interruptible)

    if args.command in ("batch", "examples"):
        from . import cli_batch, cli_examples

        return (cli_batch if args.command == "batch" else cli_examples).run(args)

    # Check the inputs before paying for TensorFlow: a bad path fails fast.
    if getattr(args, "image", None) == "":
        raise UserError("--image is empty; give an image file path")
    image = load_image(args.image) if getattr(args, "image", None) else None
    _check_numbers(args)
    _check_model_spec(args.model)
    from . import tf_runtime

    tf_runtime.init(args.device)  # configure the device before TensorFlow is imported
    from .model import open_model

    model = open_model(args.model, preprocess=args.preprocess, device=args.device)
    from . import explore

    explore.enable(model, False)  # one question per run: the all-layer cache would not pay

    if args.command == "info":
        s = model.describe()
        if args.json:
            print(_json(s.as_dict()))
        else:
            _print_info(s)
        return 0, ""

    if args.command == "predict":
        preds = model.predict(image, top=args.top)
        if args.json:
            print(_json({"image": image.path, "model": model.name, "predictions": [
                {"index": p.index, "label": p.label, "score": p.score} for p in preds]}))
        else:
            for p in preds:
                print(f"{p.index:5d}  {p.score:8.4f}  {p.label}")
        return 0, ""

    if args.command == "activations":
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

    if args.command == "filters":
        from . import grid as grid_mod

        from .filters import plan_size

        from .filters import resolve_layer, units_of

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
        from .cli_attribution import animation_recorder, class_names

        record = animation_recorder(args, grid_mod) if args.animate else None
        if record is not None:
            options.update(progress=record.add, every=record.every)
        patterns = _interruptible(lambda token: model.filter_patterns(
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

    if args.command == "cam":
        from .cli_attribution import options_from

        options = options_from(args)
        if args.max_n is not None:
            options["max_n"] = args.max_n
        class_index = model.class_index(args.class_) if args.class_ is not None else None
        if not 0.0 <= args.alpha <= 1.0:
            raise UserError("--alpha must be between 0 and 1")
        cam = _interruptible(lambda token: model.cam(
            image, method=args.method, layer=args.layer, class_index=class_index,
            cancel=token, **options))
        overlay = cam.overlay(alpha=args.alpha, colormap=args.colormap)
        if args.npy:
            out.save_npy(claimed["npy"], cam.heatmap.astype("float32"))
        out.save_png(claimed["out"], overlay)
        if args.json:
            return 0, _json(cam.as_dict())
        from .cli_attribution import describe

        return 0, describe(cam, args.out)
    raise UserError(f"unknown command {args.command}")


MAX_STEPS, MAX_SIZE = 100_000, 4096


def _json(doc) -> str:
    """Strict JSON: NaN and infinities (a model can output them) become null."""
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(doc), indent=2, allow_nan=False)


def _check_numbers(args) -> None:
    """Ranges argparse cannot express, checked before TensorFlow loads."""
    checks = [("top", 1, None), ("per_row", 1, None), ("batch_size", 1, None),
              ("steps", 0, MAX_STEPS), ("size", 8, MAX_SIZE), ("max_n", 1, None),
              ("samples", 1, MAX_STEPS), ("masks", 1, MAX_STEPS), ("patch", 1, MAX_SIZE),
              ("stride", 1, MAX_SIZE), ("sigma", 0, None), ("every", 1, MAX_STEPS)]
    for name, low, high in checks:
        value = getattr(args, name, None)
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise UserError(f"{flag} must be {bound}, not {value}")
    if getattr(args, "filters", None):
        parse_filters(args.filters)  # its count is checked before any range is expanded


def _check_model_spec(spec: str) -> None:
    import os

    if spec != "demo" and not spec.startswith("builtin:"):
        if not os.path.exists(spec):
            raise UserError(f"model file not found: {spec}")
        if not os.path.isdir(spec):  # a SavedModel is a folder
            from .input_files import regular_file

            regular_file(spec, "model file")


def _print_info(s) -> None:  # engine.summary.ModelSummary
    print(f"model     {s.name}  ({s.source})")
    print(f"input     {' x '.join('?' if d is None else str(d) for d in s.input_shape)}  (preprocess: {s.preprocess})")
    if s.head.classes:
        print(f"head      {s.head.activation} · {s.head.classes} classes")
    else:
        shape = "x".join("?" if d is None else str(d) for d in s.head.output_shape)
        print(f"head      none: the output is {shape} (no classifier head; no predictions or CAMs)")
    if s.params is not None:
        print(f"params    {s.params:,}")
    print(f"device    {s.device}")
    if s.default_cam_layer:
        print(f"CAM layer {s.default_cam_layer} (default)")
    if s.note:
        print(f"note      {s.note}")
    if s.layers:
        print()
        width = max(len(layer.path) for layer in s.layers)
        for layer in s.layers:
            shape = "x".join("?" if d is None else str(d) for d in layer.output_shape) if layer.output_shape else "?"
            print(f"{layer.path:<{width}}  {layer.class_name:<24} {shape:<16} {layer.params:>10,}")
