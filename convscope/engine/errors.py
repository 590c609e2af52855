"""The one error type a user sees.

Anything raised as `UserError` is a problem with the user's input (a missing file, a
layer without spatial output, ...). The CLI prints it as one `error: ...` line and exits
with status 2; the GUI shows it in the window. Anything else is a bug in ConvScope.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Remedy:
    """Something the window can offer to do about an error, as a button (machine-readable,
    so the GUI never searches the message text). kind "open_model": open `argument`."""

    kind: str
    label: str  # the button's text
    argument: str = ""


class UserError(Exception):
    """A bad input, with a message that says what was wrong and what to do; `remedy`
    (optional) is what the window can offer to do about it."""

    def __init__(self, *args, remedy: Remedy | None = None):
        super().__init__(*args)
        self.remedy = remedy


class Cancelled(Exception):
    """A job was cancelled through its CancelToken; not an error to report."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (its type's name if it has none), at most
    `limit` characters: what a one-line error report quotes of a library's exception."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]
