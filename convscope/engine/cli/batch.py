"""`convscope batch`: CAMs and their faithfulness / localisation metrics over a dataset.

    convscope batch --model SPEC --images DIR|GLOB|LIST.csv --out RUN_DIR
                    [--methods gradcam,gradcam++,scorecam] [--layer L] [--class top|label]
                    [--metrics deletion,insertion,drop,increase,pointing,energy]
                    [--substrate blur|black|mean] [--save-maps none|npy|png] [--batch-size N]
                    [--resume] [--runner local|ray] [--ray-address ADDR] [--limit N]

A tqdm bar on stderr shows images/s and the ETA. Ctrl-C stops between batches (or inside a
Score-CAM) and leaves a run that `--resume` finishes. See engine/dataset for the parts.
"""
from __future__ import annotations

import os
import sys

from ..dataset import defaults as D
from ..errors import Cancelled, UserError
from .common import check_model_spec, interruptible, model_command


def add_parser(sub) -> None:
    c = model_command(sub, "batch", "class activation maps and their faithfulness metrics over a dataset")
    c.add_argument("--images", required=True, help="a folder, a glob pattern or a LIST.csv "
                   "(path, optional label, x0,y0,x1,y1 or mask)")
    c.add_argument("--out", required=True, help="run folder (results, summary, errors, recipe)")
    c.add_argument("--methods", default=",".join(D.METHODS), help="comma-separated CAM methods")
    c.add_argument("--layer", default=None, help="default: last spatial layer before pooling")
    c.add_argument("--class", dest="class_", default="top", choices=("top", "label"),
                   help="explain the top prediction (default) or the list's label")
    from .target_option import add_target

    add_target(c)
    c.add_argument("--metrics", default=",".join(D.METRICS),
                   help="comma-separated; pointing and energy need boxes or masks")
    c.add_argument("--substrate", default=None, choices=("blur", "black", "mean"),
                   help="what deleted pixels become / insertion starts from "
                        "(default: black for deletion, blur for insertion, as RISE)")
    c.add_argument("--steps", type=int, default=D.CURVE_STEPS,
                   help=f"deletion / insertion curve steps (default {D.CURVE_STEPS}, as the window's)")
    c.add_argument("--save-maps", default="none", choices=("none", "npy", "png"))
    c.add_argument("--batch-size", type=int, default=32)
    c.add_argument("--workers", type=int, default=2, help="decoding threads (default 2)")
    c.add_argument("--resume", action="store_true", help="finish a run that was interrupted")
    c.add_argument("--runner", default="local", choices=("local", "ray"))
    c.add_argument("--ray-address", default=None, help="an existing Ray cluster (default: start one locally)")
    c.add_argument("--limit", type=int, default=None, help="use only the first N files")


def _split(text: str, what: str) -> tuple:
    parts = tuple(p.strip() for p in (text or "").split(",") if p.strip())
    if not parts:
        raise UserError(f"--{what} names nothing; give a comma-separated list")
    return parts


def run(args, _out=None, _claimed=None) -> int:
    from ..dataset.sources import list_items

    # Everything checkable before TensorFlow loads is checked first.
    for name, low in (("batch_size", 1), ("workers", 1), ("steps", 1), ("limit", 1)):
        v = getattr(args, name)
        if v is not None and v < low:
            raise UserError(f"--{name.replace('_', '-')} must be at least {low}, not {v}")
    from ..dataset.metrics import MAX_STEPS

    if args.steps > MAX_STEPS:  # each step is a forward pass of the batch: bounded
        raise UserError(f"--steps must be between 1 and {MAX_STEPS}, not {args.steps}")
    if args.ray_address and args.runner != "ray":
        raise UserError("--ray-address is for --runner ray")
    from .target_option import check_target

    check_target(args)
    if args.target is not None and args.class_ != "top":
        raise UserError("give --class label or --target, not both")
    items = list_items(args.images, args.limit)
    check_model_spec(args.model)
    from .. import tf_runtime

    tf_runtime.init(args.device)  # before anything imports TensorFlow (quiet start-up)
    from ..dataset import runner
    from ..dataset.explain import Settings
    from ..dataset.store import RunStore

    settings = Settings(methods=_split(args.methods, "methods"), metrics=_split(args.metrics, "metrics"),
                        layer=args.layer, class_mode=args.class_, substrate=args.substrate,
                        save_maps=args.save_maps, steps=args.steps, target=args.target or "")
    if args.runner == "ray":
        from ..dataset.ray_runner import _ray

        _ray()  # installed? say so before loading anything
    if args.class_ == "label" and not any(it.label for it in items):
        raise UserError("--class label needs a LIST.csv with a label column")
    from ..model import open_model

    from ..model_options import from_args

    model = open_model(args.model, preprocess=args.preprocess, device=args.device,
                       **from_args(args))
    model.require_layers("batch")
    if settings.target:
        from .. import targets

        targets.bind(model, settings.target)  # a bad target: one line, before the run folder
    elif not model.head.classifier:
        raise UserError(f"batch explains classes, but this model has no classifier head (its "
                        f"output is {model.head.describe_output()}); give --target, e.g. "
                        "region:x0,y0,x1,y1[:C]")
    if settings.layer is not None:
        model.layer(settings.layer, spatial=True)
    store = RunStore(args.out)
    recipe = runner.make_recipe(model, args.model, args.images, items, settings, args.runner)
    done = store.open(recipe, args.resume)
    todo = runner.pending(items, done)

    from ..dataset.progress import Progress

    # a bar on a terminal, plain lines otherwise (logs, pipes, CI)
    bar = Progress(len(items), initial=len(items) - len(todo), desc="batch", unit="files")

    def work(token):
        if args.runner == "ray":
            from ..dataset.ray_runner import run_ray

            run_ray(args.model, args.preprocess, args.device, settings, store, todo,
                    batch_size=args.batch_size, address=args.ray_address, progress=bar.update,
                    cancel=token)
        else:
            runner.run_local(model, settings, store, todo, batch_size=args.batch_size,
                             workers=args.workers, progress=bar.update, cancel=token)

    try:
        try:
            interruptible(work)
        except Cancelled:
            bar.close()
            left = len(runner.pending(items, store.done_paths()))
            print(f"error: interrupted; {len(items) - left} of {len(items)} images are saved in "
                  f"{args.out}; finish with the same command and --resume", file=sys.stderr)
            return 130
        finally:
            bar.close()
        out = runner.finalize(store, settings, model.name)
    except UserError:
        store.discard_if_unused()  # a refused new run leaves no folder to block the retry
        raise
    finally:
        store.close()
    print(f"{out['images']} image(s) x {len(settings.methods)} method(s) = {out['rows']} rows, "
          f"{out['errors']} error(s) -> {os.path.join(args.out, 'results.parquet')}")
    return 0

