"""Ending a command-line run cleanly: SIGTERM and SIGHUP as Ctrl-C, a closed pipe quietly.

- `install()` (main thread) makes SIGTERM and SIGHUP raise KeyboardInterrupt, as Ctrl-C
  does, so the same path runs: the CancelToken stops the computation, `engine.outputs`
  removes its temp files, one `error: interrupted` line is printed. `exit_status()` gives
  the shell's status for the signal that arrived (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
- `silence_stdout()` after a BrokenPipeError (`convscope info ... | head -3`): stdout is
  pointed at /dev/null so the interpreter's final flush cannot fail again; the caller exits
  with 141 (128 + SIGPIPE), what a shell reports for `cat` in the same place, and prints
  nothing.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

_received: list[int] = []


def _raise(signum, frame):
    _received.append(signum)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, _raise)


def exit_status() -> int:
    return 128 + (_received[-1] if _received else signal.SIGINT)


def signal_name() -> str:
    return signal.Signals(_received[-1]).name if _received else "Ctrl-C"


def silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
