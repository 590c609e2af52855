"""`convscope predict`: the top predictions for an image; for a segmentation model (a per-pixel
output, issue 21) the classes its predicted mask holds, each with its share and the
`region:` target of its bounding box, and with --out the mask over the image with a legend."""
from __future__ import annotations

from ..errors import UserError
from .common import model_command, open_for, to_json

MASK_SUFFIXES = (".png", ".pdf", ".svg")


def add_parser(sub) -> None:
    c = model_command(sub, "predict", "top predictions for an image (a segmentation model: "
                                      "the classes of its predicted mask)")
    c.add_argument("--image", required=True)
    c.add_argument("--top", type=int, default=5)
    c.add_argument("--out", default=None, help="a segmentation model: its predicted mask over "
                   "the image with a class legend (" + ", ".join(MASK_SUFFIXES) + ")")
    c.add_argument("--json", action="store_true")


def claim(args, out) -> dict:
    return {"out": out.claim(args.out, MASK_SUFFIXES, "--out")} if args.out else {}


def run(args, out, claimed) -> tuple[int, str]:
    model, image = open_for(args)
    if not model.head.classifier and not model.predict_only:
        from ..targets import heads

        if any(h.segmentation for h in heads(model)):
            return _mask(args, out, claimed, model, image)
    if args.out:
        raise UserError("--out draws a segmentation model's predicted mask; this model has "
                        "no per-pixel output (its top predictions are printed without --out)")
    preds = model.predict(image, top=args.top)
    if args.json:
        print(to_json({"image": image.path, "model": model.name, "predictions": [
            {"index": p.index, "label": p.label, "score": p.score} for p in preds]}))
    else:
        for p in preds:
            print(f"{p.index:5d}  {p.score:8.4f}  {p.label}")
    return 0, ""


def _mask(args, out, claimed, model, image) -> tuple[int, str]:
    from ..targets import predicted_mask
    from ..targets.masks import class_regions, save_mask_figure

    pm = predicted_mask(model, image)
    regions = class_regions(pm)[:args.top]  # --top: the classes with most pixels
    if args.out:
        save_mask_figure(out, claimed["out"], image.pixels, pm, regions)
    if args.json:
        print(to_json({"image": image.path, "model": model.name, "output": pm.output,
                       "input_hw": list(pm.input_hw), "classes": [r.as_dict() for r in regions]}))
    else:
        print(f"predicted mask of {pm.output!r} ({pm.grid[0]}x{pm.grid[1]}); boxes in input "
              f"pixels ({pm.input_hw[1]}x{pm.input_hw[0]}):")
        for r in regions:
            print(f"{r.index:5d}  {100 * r.fraction:6.2f}%  {r.name:<16s}  --target {r.spec}")
    return 0, (f"wrote {args.out}" if args.out else "")
