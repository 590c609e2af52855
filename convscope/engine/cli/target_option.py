"""`--target SPEC` (engine.targets) for the commands that draw maps: cam, figure, batch,
video. Its syntax is checked before TensorFlow starts; the model checks the rest."""
from __future__ import annotations


def add_target(parser) -> None:
    from ..targets.spec import kinds_help

    parser.add_argument("--target", default=None, metavar="SPEC",
                        help="explain this instead of a class: " + kinds_help())


def check_target(args) -> None:
    """UserError (one line) for a target whose syntax is wrong (no model needed)."""
    if getattr(args, "target", None) is not None:
        from ..targets.spec import parse

        parse(args.target)
