"""What every sub-command shares: the one-line parser, the model options, the numeric
checks that run before TensorFlow loads, opening the model, Ctrl-C during the work, JSON.

Sub-command modules import from here; nothing here imports a sub-command module.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import threading

from ..errors import Cancelled, UserError

MAX_STEPS, MAX_SIZE = 100_000, 4096


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, as every other bad input
        raise UserError(f"{message} (see `{self.prog} --help`)")


def model_command(sub, name: str, help_text: str) -> argparse.ArgumentParser:
    """A sub-command that opens a model: --model and the shared options."""
    c = sub.add_parser(name, help=help_text, description=help_text)
    c.add_argument("--model", required=True, help="a .keras/.h5 file, SavedModel folder, builtin:NAME[?weights=none] or demo")
    c.add_argument("--preprocess", default="auto", help="auto, none, rescale, caffe, tf or torch")
    c.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    c.add_argument("--debug", action="store_true", help="show tracebacks")
    from ..model_options import add_model_options

    add_model_options(c)  # --custom-objects, --trust-model, --head (issue 18)
    return c


def interruptible(work):
    """Run work(token) on a helper thread so Ctrl-C reaches us: the main thread waits in
    short joins (where Python runs its signal handlers; it would not while blocked inside a
    TensorFlow call) and on Ctrl-C sets the CancelToken that the computation polls between
    ascent steps and Score-CAM chunks, then waits for it to stop."""
    from ..cancel import CancelToken

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


def claim_picture(args, out) -> dict:
    """Claim (check before any work) the --out picture and the optional --npy array."""
    from ..outputs import IMAGE_SUFFIXES

    claimed = {"out": out.claim(args.out, IMAGE_SUFFIXES, "--out")}
    if getattr(args, "npy", None) is not None:
        claimed["npy"] = out.claim(args.npy, (".npy",), "--npy")
    return claimed


def check_numbers(args) -> None:
    """Ranges argparse cannot express, checked before TensorFlow loads."""
    from ..filters.spec import parse_filters

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


def check_model_spec(spec: str) -> None:
    if spec != "demo" and not spec.startswith("builtin:"):
        if not os.path.exists(spec):
            raise UserError(f"model file not found: {spec}")
        if not os.path.isdir(spec):  # a SavedModel is a folder
            from ..input_files import regular_file

            regular_file(spec, "model file")


def open_for(args):
    """(model, image or None) for a one-question command: the inputs are checked before
    paying for TensorFlow, so a bad path fails fast; the all-layer exploration cache is
    off (one question per run: it would not pay)."""
    from ..images import load_image

    if getattr(args, "image", None) == "":
        raise UserError("--image is empty; give an image file path")
    image = load_image(args.image) if getattr(args, "image", None) else None
    check_numbers(args)
    check_model_spec(args.model)
    from .. import tf_runtime

    tf_runtime.init(args.device)  # configure the device before TensorFlow is imported
    from ..explore import cache as explore
    from ..model import open_model
    from ..model_options import from_args as model_options

    model = open_model(args.model, preprocess=args.preprocess, device=args.device,
                       **model_options(args))
    explore.enable(model, False)
    return model, image


def to_json(doc) -> str:
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
