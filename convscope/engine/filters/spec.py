"""Filter-pattern constants and the filter-range parser, without TensorFlow.

engine.filters.ascent (which imports Keras), the CLI and the window all read these, so the
window can show the same defaults and parse the same ranges before TensorFlow loads.
"""
from __future__ import annotations

from ..errors import UserError

MODES = ("classic", "regularized")
# One default everywhere (CLI, window, API, figures, README): regularized, which makes
# readable patterns on the demo and on modern nets; classic (--mode classic) is the seed's
# recipe (plain gradient ascent, 40 steps), which on the demo's conv3 gives near-grey noise.
DEFAULT_MODE = "regularized"
CLASSIC_HELP = "classic = the seeds' recipe (plain gradient ascent); regularized = readable on modern nets"
DEFAULT_STEPS = {"classic": 40, "regularized": 128}  # classic: the seed's 40 steps
DEFAULT_SIZE = 64  # pattern side in pixels, for models with a free input size
DEFAULT_COUNT = 64  # filters shown when none are named (the first 64)


MAX_FILTERS = 65536  # more channels than any layer has; larger ranges are mistakes


def parse_filters(text: str) -> list[int]:
    """'0-63' or '1,5,9' (or a mix, '0-3,9') -> the indices, in the order given.

    UserError (one line, naming the --filters flag) if the text is not such a list, names
    no filter (a range runs low-high) or more than MAX_FILTERS: the count is checked
    before any range is expanded (`0-1000000000000` must not build a list first)."""
    spans: list[tuple[int, int]] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                a, b = part.split("-", 1)
                spans.append((int(a), int(b)))
            elif part:
                spans.append((int(part), int(part)))
    except ValueError:
        raise UserError(f"--filters {text!r}: give indices like 0-63 or 1,5,9") from None
    count = sum(max(0, b - a + 1) for a, b in spans)
    if count > MAX_FILTERS:
        raise UserError(f"--filters {text!r} names {count:,} filters; at most {MAX_FILTERS:,} "
                        "at once (no layer has more)")
    if any(a < 0 for a, _ in spans):
        raise UserError(f"--filters {text!r}: filter indices start at 0")
    out = [i for a, b in spans for i in range(a, b + 1)]
    if not out:
        raise UserError(f"--filters {text!r} names no filter (a range runs low-high); "
                        "give indices like 0-63 or 1,5,9")
    return out


def filters_in_layer(text: str, channels: int) -> tuple[int, ...]:
    """The indices `text` names that a layer of `channels` filters has (each once, in
    order); UserError if none."""
    wanted = parse_filters(text.replace("filters", ""))
    kept = tuple(dict.fromkeys(f for f in wanted if 0 <= f < channels))
    if not kept:
        raise UserError(f"this layer has filters 0..{channels - 1}; {text!r} names none of them")
    return kept
