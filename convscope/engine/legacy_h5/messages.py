"""Error-message pieces shared by the Keras 2 HDF5 loader: advice, layer labels, problem
lists and the informative line of a Keras exception."""
from __future__ import annotations

import re

_ADVICE = ("To open it, load it with tf.keras 2 (TensorFlow <= 2.15 or the tf-keras package), "
           "rebuild those layers with Keras 3, copy the weights over and save the model "
           "with Keras 3 as .keras.")


def _label(where: str, cls) -> str:
    return f"layer '{where}' ({cls})" if where else f"the model itself ({cls})"


def _problem_message(what: str, problems: list[str], limit: int = 12) -> str:
    lines = "\n".join(f"  - {p}" for p in problems[:limit])
    if len(problems) > limit:
        lines += f"\n  - ... and {len(problems) - limit} more"
    return (f"{what} was written by Keras 2 (tf.keras) and Keras 3 cannot rebuild "
            f"{'this layer' if len(problems) == 1 else 'these layers'}:\n{lines}\n{_ADVICE}")


def _first_line(exc: BaseException) -> str:
    """The informative line of a Keras exception message."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip() or type(exc).__name__
    marker = "Exception encountered:"  # Keras wraps the real reason after this, maybe twice
    if marker in text:
        text = text[text.rindex(marker) + len(marker):].strip() or text
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [text]
    first = lines[0]
    if first.startswith("Exception encountered when calling") and len(lines) > 1:
        first = f"{first.rstrip('.')}: {lines[1]}"
    return first[:400]
