"""`convscope predict`: the top predictions for an image."""
from __future__ import annotations

from .common import model_command, open_for, to_json


def add_parser(sub) -> None:
    c = model_command(sub, "predict", "top predictions for an image")
    c.add_argument("--image", required=True)
    c.add_argument("--top", type=int, default=5)
    c.add_argument("--json", action="store_true")


def run(args, out, claimed) -> tuple[int, str]:
    model, image = open_for(args)
    preds = model.predict(image, top=args.top)
    if args.json:
        print(to_json({"image": image.path, "model": model.name, "predictions": [
            {"index": p.index, "label": p.label, "score": p.score} for p in preds]}))
    else:
        for p in preds:
            print(f"{p.index:5d}  {p.score:8.4f}  {p.label}")
    return 0, ""
