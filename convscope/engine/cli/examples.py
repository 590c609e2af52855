"""`convscope examples`: the real images that excite each channel of a layer most.

    convscope examples --model SPEC --images DIR|GLOB|LIST.csv --layer L [--channels 0-63]
                       [--top 9] [--score max|mean] --out ATLAS.pdf|.png [--index RUN_DIR] [--json]

The index (model SHA-256 + layer + file list hash) is stored in --index (default: the user's
cache folder); asking again for the same images answers from it without running the model.
"""
from __future__ import annotations

import json
import os
import sys

from ..errors import UserError
from .common import check_model_spec, interruptible, model_command


def add_parser(sub) -> None:
    c = model_command(sub, "examples", "the dataset images that excite each channel of a layer most")
    c.add_argument("--images", required=True, help="a folder, a glob pattern or a LIST.csv")
    c.add_argument("--layer", required=True)
    c.add_argument("--channels", default=None, help="e.g. 0-63 or 1,5,9 (default: the first 64)")
    c.add_argument("--top", type=int, default=9, help="examples per channel (default 9)")
    c.add_argument("--score", default="max", choices=("max", "mean"),
                   help="rank images by the channel's spatial max (default) or mean")
    c.add_argument("--out", required=True, help="atlas .pdf or .png")
    c.add_argument("--index", default=None, help="folder for the stored index (default: the cache)")
    c.add_argument("--batch-size", type=int, default=32)
    c.add_argument("--workers", type=int, default=2, help="decoding threads (default 2)")
    c.add_argument("--limit", type=int, default=None, help="use only the first N files")
    c.add_argument("--json", action="store_true", help="print each channel's examples on stdout")


def run(args, _out=None, _claimed=None) -> int:
    from ..filters.spec import parse_filters
    from ..dataset.sources import list_hash, list_items

    for name, low in (("top", 1), ("batch_size", 1), ("workers", 1), ("limit", 1)):
        v = getattr(args, name)
        if v is not None and v < low:
            raise UserError(f"--{name.replace('_', '-')} must be at least {low}, not {v}")
    if os.path.splitext(args.out)[1].lower() not in (".pdf", ".png"):
        raise UserError(f"cannot write {args.out}: the atlas is a .pdf or .png file")
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        raise UserError(f"cannot write {args.out}: folder {folder} does not exist")
    items = list_items(args.images, args.limit)
    from ..outputs import check_not_input, command_inputs

    check_not_input(args.out, command_inputs(args) + [("--images", it.path) for it in items], "--out")
    check_model_spec(args.model)
    from .. import tf_runtime

    tf_runtime.init(args.device)
    from ..dataset import atlas, examples
    from ..dataset.sources import model_sha256
    from ..model import open_model

    from ..model_options import from_args

    model = open_model(args.model, preprocess=args.preprocess, device=args.device,
                       **from_args(args))
    info = model.layer(args.layer, spatial=True)
    channels = (parse_filters(args.channels).copy() if args.channels
                else list(range(min(64, info.channels or 0))))
    index_dir = examples.check_index_dir(args.index) if args.index else examples.default_index_dir()
    sha = model_sha256(model)
    index = examples.load(index_dir, sha, args.layer, list_hash(items))
    reused = index is not None and examples.covers(index, channels, args.top, args.score)
    if not reused:
        from ..dataset.progress import Progress

        bar = Progress(len(items), desc="examples", unit="files")

        def progress(done, total):
            bar.update(done - bar.n)

        try:
            index = interruptible(lambda token: examples.compute(
                model, items, args.layer, channels, args.top, args.score,
                batch_size=args.batch_size, workers=args.workers, progress=progress, cancel=token))
        finally:
            bar.close()
        saved = examples.save(index, index_dir)
    else:
        saved = os.path.join(index_dir, examples.index_name(sha, args.layer, index["files_sha256"]))
    drawn = atlas.write(index, args.out, k=args.top, channels=channels)
    if args.json:
        by = {c["channel"]: c["examples"][:args.top] for c in index["channels"]}
        print(json.dumps({"model": model.name, "layer": args.layer, "score": args.score,
                          "index": saved, "receptive_field": index["receptive_field"],
                          "channels": [{"channel": ch, "examples": [
                              {"file": e["path"], "score": e["score"], "position": [e["y"], e["x"]],
                               "box": e["box"]} for e in by.get(ch, [])]} for ch in channels],
                          "errors": index["errors"]}, indent=2))
    else:
        from ..dataset.atlas import image_count

        how = "from the stored index" if reused else image_count(index)
        print(f"{len(channels)} channel(s) of {args.layer}, {drawn} crops ({how}) -> {args.out}; "
              f"index {saved}")
    return 0
