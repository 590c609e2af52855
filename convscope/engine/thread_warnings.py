"""Warnings captured per thread.

`warnings.catch_warnings` swaps process-wide state (the filter list and `showwarning`) and
restores what it saved on exit. Two threads inside it at once restore each other's state:
a decoder thread's "ignore" then outlives its block and swallows the engine's warnings, or
the engine's record list outlives its job. CI lost a job's warning exactly so.

Here `warnings.showwarning` (the documented hook) is replaced by a dispatcher that hands a
warning to the innermost `captured()` list of the thread that raised it, and to the
previous hook when that thread captures nothing. The filters are never touched, so Python's
own rule still holds: a warning from one place is shown once until the filters change.
"""
from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager
from typing import Iterator

_local = threading.local()
_lock = threading.Lock()
_previous = None  # the hook that was installed before ours


def _dispatch(message, category, filename, lineno, file=None, line=None):
    stack = getattr(_local, "stack", None)
    if stack:
        stack[-1].append(warnings.WarningMessage(message, category, filename, lineno, file, line))
    elif _previous is getattr(warnings, "_showwarning_orig", None):
        # The hook was Python's own: hand the warning to what it would have used (stderr,
        # or the list of a catch_warnings(record=True) on this thread)
        warnings._showwarnmsg_impl(warnings.WarningMessage(message, category, filename, lineno,
                                                           file, line))
    elif _previous is not None:
        _previous(message, category, filename, lineno, file, line)


def _install() -> None:
    # Re-checked on every capture: a test harness's catch_warnings may have restored an
    # older hook since the last one.
    global _previous
    with _lock:
        if warnings.showwarning is not _dispatch:
            _previous = warnings.showwarning
            warnings.showwarning = _dispatch


@contextmanager
def captured() -> Iterator[list[warnings.WarningMessage]]:
    """Collect the warnings this thread raises inside the block (other threads' are not
    affected). Blocks nest; the innermost one collects."""
    _install()
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    caught: list[warnings.WarningMessage] = []
    stack.append(caught)
    try:
        yield caught
    finally:
        stack.pop()


def reraise(caught: list[warnings.WarningMessage]) -> None:
    """Raise collected warnings again, from where they came, for an outer capture."""
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
