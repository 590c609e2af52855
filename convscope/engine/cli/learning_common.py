"""What `timeline`, `diff` and `cka` share: the figure's look options, two --model options,
and writing a figure with its recipe (OUT and OUT.json, claimed before the work)."""
from __future__ import annotations

import json

FIGURE_SUFFIXES = (".pdf", ".svg", ".png", ".tif", ".tiff")


def add_look(c, colormap_help: str = "jet by default") -> None:
    c.add_argument("--width", default="double", help="single (89 mm), double (183 mm) or millimetres")
    c.add_argument("--dpi", type=int, default=300)
    c.add_argument("--font-size", type=float, default=7.0)
    c.add_argument("--font", default="DejaVu Sans")
    c.add_argument("--title", default="")
    c.add_argument("--colormap", default=None, help=colormap_help)
    c.add_argument("--alpha", type=float, default=0.4, help="overlay opacity")
    c.add_argument("--no-colorbar", dest="colorbar", action="store_false")
    c.add_argument("--debug", action="store_true", help="show tracebacks")


def options_from(args):
    from ..figures import FigureOptions

    options = FigureOptions(width=args.width, dpi=args.dpi, font=args.font,
                            font_size=args.font_size, colormap=args.colormap, alpha=args.alpha,
                            title=args.title, colorbar=args.colorbar)
    options.check()
    return options


def claim_figure(args, out, flag: str = "--out") -> dict:
    """The figure and its recipe sidecar, checked before any work."""
    from ..figures.spec import format_of

    if args.out is None:
        return {}
    format_of(args.out)  # .pdf/.svg/.png/.tif, else one line
    return {"out": out.claim(args.out, FIGURE_SUFFIXES, flag),
            "recipe": out.claim(args.out + ".json", (".json",), flag + " (its recipe)")}


def save_figure(out, claimed: dict, content: bytes, recipe: dict) -> None:
    text = json.dumps(recipe, sort_keys=True, indent=2, ensure_ascii=True) + "\n"
    out.save_bytes(claimed["out"], content)
    out.save_bytes(claimed["recipe"], text.encode("ascii"))


LOOK = ("width", "dpi", "font_size", "font", "title", "colormap", "alpha")


def command_of(name: str, args, flags: tuple) -> list:
    """The argv that makes this figure again (its recipe's `command`): `flags` (argparse
    dests; lists repeat the flag) and the look options, as given. Without --out: the
    recipe does not depend on where the figure was written, so `figure --recipe` remakes
    the same bytes under another name (engine.cli.remake_command adds the --out)."""
    argv = ["convscope", name]
    for dest in tuple(flags) + LOOK:
        value = getattr(args, dest, None)
        if value is None or value == "" or value == []:
            continue
        flag = "--" + dest.replace("_", "-")
        for v in (value if isinstance(value, list) else [value]):
            argv += [flag, str(v)]
    if not getattr(args, "colorbar", True):
        argv.append("--no-colorbar")
    return argv


def split(text) -> tuple:
    return tuple(p.strip() for p in text.split(",") if p.strip()) if text else ()
