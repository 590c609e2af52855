"""`convscope timeline`: a run recorded by engine.Recorder as a figure — rows = epochs,
columns = probe images, each cell the map over the image with the prediction.

    convscope timeline --run RUN --out timeline.pdf [--images 1,3,5] [--method gradcam]
                       [--layer L] [--epochs 0,1,5 | all] [--width ...] [--dpi ...]

Reads only what the run holds (no TensorFlow): a method or layer the run did not record
is one `error:` line naming those it did.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import UserError
from .learning_common import add_look, claim_figure, command_of, options_from, save_figure, split

MAX_ROWS = 12  # epochs shown when --epochs is not given (first, last, evenly between)


def add_parser(sub) -> None:
    c = sub.add_parser("timeline", help="a recorded run as a figure: epochs x probe images",
                       description="A run recorded by engine.Recorder as a figure: rows = "
                       "epochs, columns = probe images, each with its map and prediction.")
    c.add_argument("--run", required=True, help="the Recorder's run folder")
    c.add_argument("--out", required=True, help="FIG.pdf, .svg, .png or .tif")
    c.add_argument("--images", default=None, help="probe images to show: 1-based numbers or "
                   "names, comma-separated (default: all)")
    c.add_argument("--method", default=None, help="a recorded method (default: the first)")
    c.add_argument("--layer", default=None, help="a recorded layer (default: the first)")
    c.add_argument("--epochs", default=None, help=f"epochs to show, e.g. 0,1,5, or all "
                   f"(default: all, or {MAX_ROWS} spread over the run)")
    add_look(c)


def claim(args, out) -> dict:
    return claim_figure(args, out)


def run(args, out, claimed) -> tuple[int, str]:
    from ..figures import learning as figs
    from ..learning import open_run

    options = options_from(args)
    run_ = open_run(args.run)
    recipe_in = run_.meta["recipe"]
    methods, layers = recipe_in["methods"], recipe_in["layers"]
    method = args.method or methods[0]
    if method not in methods:
        from ..cam import registry

        canonical = registry.get(method).name  # an unknown name: UserError listing them
        if canonical not in methods:
            raise UserError(f"{args.run} recorded {', '.join(methods)}, not {method}; "
                            "record it with Recorder(methods=...)")
        method = canonical
    layer = args.layer or layers[0]
    if layer not in layers:
        raise UserError(f"{args.run} recorded maps at {', '.join(layers)}, not {layer!r}")
    if not run_.epochs:
        raise UserError(f"{args.run} holds no recorded epoch yet")
    epochs = pick_epochs(run_.epochs, args.epochs)
    probes = recipe_in["images"]
    cols = pick_images(probes, args.images)
    pixels = run_.probes()[cols]
    model = run_.meta.get("model", {})
    names = model.get("labels")
    truth = recipe_in.get("labels")
    key = f"map|{method}|{layer}"
    maps, preds, notes = {}, {}, {}
    for e in epochs:
        arr = run_.arrays(e)
        if key not in arr:
            raise UserError(f"epoch {e} of {args.run} has no {method} map at {layer}")
        maps[e] = arr[key][cols]
        row = []
        for i in cols:
            c = int(round(run_.scalars("pred/class", image=i).get(e, -1)))
            score = run_.scalars("pred/score", image=i).get(e, float("nan"))
            label = names[c] if names and 0 <= c < len(names) else str(c)
            row.append((f"{label} {score:.2f}", None if truth is None else c == int(truth[i])))
        preds[e] = row
        loss = run_.scalars("log/loss").get(e)
        notes[e] = f"loss {loss:.3f}" if loss is not None else ("untrained" if e == 0 else "")
    titles = [_title(probes[i], i, None if truth is None else (
        names[int(truth[i])] if names else str(truth[i]))) for i in cols]
    from ..figures.naming import title as method_title

    explains = {"top": "each image's top prediction", "label": "each image's true class"}.get(
        recipe_in.get("classes"), "the recorded classes")
    caption = (f"{method_title(method)} at layer {layer}, explaining {explains}; "
               f"maps ReLU then min-max per map; under each map the top prediction and its "
               f"probability" + (" (green: the true class)" if truth is not None else "")
               + f" · run {os.path.basename(os.path.abspath(args.run))}")
    from ..figures.spec import format_of

    recipe = figs.make_recipe(
        "timeline", command_of("timeline", args, ("run", "images", "method", "layer", "epochs")),
        model={"spec": None, "file": None, "sha256": None, "name": model.get("name")},
        images=[{"name": probes[i]["name"], "path": probes[i]["path"],
                 "sha256": probes[i]["sha256"]} for i in cols],
        figure={"run": os.path.abspath(args.run), "method": method, "layer": layer,
                "epochs": [int(e) for e in epochs], "images": [int(i) + 1 for i in cols]},
        options=options)
    content, recipe = figs.timeline(pixels, maps, epochs, preds, notes, titles, caption, options,
                                    format_of(args.out), recipe)
    save_figure(out, claimed, content, recipe)
    return 0, (f"{args.out}: {len(epochs)} epochs x {len(cols)} images, {method} at {layer}")


def _title(entry: dict, i: int, true_label: str | None) -> str:
    """An image file's name; for an array, its number (and true class, if recorded)."""
    name = entry.get("name") or f"probe {i + 1}"
    if entry.get("path"):
        return name
    return f"{i + 1}: {true_label}" if true_label is not None else f"{i + 1}"


def pick_epochs(recorded: list, text) -> list:
    if text is None:
        if len(recorded) <= MAX_ROWS:
            return list(recorded)
        idx = np.unique(np.round(np.linspace(0, len(recorded) - 1, MAX_ROWS)).astype(int))
        return [recorded[i] for i in idx]
    if text.strip().lower() == "all":
        return list(recorded)
    wanted = []
    for part in split(text):
        try:
            wanted.append(int(part))
        except ValueError:
            raise UserError(f"--epochs: {part!r} is not an epoch number") from None
    missing = [e for e in wanted if e not in recorded]
    if missing:
        raise UserError(f"--epochs: epoch {missing[0]} is not recorded; recorded: "
                        f"{', '.join(map(str, recorded))}")
    return wanted


def pick_images(probes: list, text) -> list:
    if not text:
        return list(range(len(probes)))
    out = []
    names = [p.get("name") for p in probes]
    for part in split(text):
        if part.isdigit() and 1 <= int(part) <= len(probes):
            out.append(int(part) - 1)
        elif part in names:
            out.append(names.index(part))
        else:
            raise UserError(f"--images: {part!r} is neither a probe number (1-{len(probes)}) "
                            f"nor a probe name ({', '.join(n for n in names if n)})")
    return out
