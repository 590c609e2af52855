"""The one error type a user sees.

Anything raised as `UserError` is a problem with the user's input (a missing file, a
layer without spatial output, ...). The CLI prints it as one `error: ...` line and exits
with status 2; the GUI shows it in the window. Anything else is a bug in ConvScope.
"""


class UserError(Exception):
    """A bad input, with a message that says what was wrong and what to do."""


class Cancelled(Exception):
    """A job was cancelled through its CancelToken; not an error to report."""
