"""Unexpected exceptions and Qt's own complaints end up in the window, not only a terminal.

PySide6 hands an exception raised in a slot to `sys.excepthook`; the default prints it and
carries on, so the user sees nothing. `install(notify)` routes it to `notify(text,
details)` on the GUI thread (an exception on another thread is carried over by a queued
signal) and logs it to stderr too. Qt's critical/fatal messages go the same way;
its warnings and debug chatter go to stderr.
"""
from __future__ import annotations

import sys
import traceback

from PySide6.QtCore import QObject, QtMsgType, Signal, qInstallMessageHandler

from convscope.engine.errors import first_line


# Messages of the offscreen / headless platform that say nothing about ConvScope.
QT_NOISE = ("propagateSizeHints", "This plugin does not support")


class _Relay(QObject):
    sigProblem = Signal(str, str)


_state: dict = {}


def install(notify) -> None:
    relay = _Relay()
    relay.sigProblem.connect(notify)
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        print(details, file=sys.stderr)
        first = first_line(exc) if exc is not None else exc_type.__name__
        relay.sigProblem.emit(f"Something went wrong ({exc_type.__name__}: {first}). "
                              "ConvScope keeps running; the details say where.", details)

    def on_qt_message(mode, context, message):
        if mode in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            relay.sigProblem.emit(f"Qt reported: {message}", message)
        if not any(noise in message for noise in QT_NOISE):
            print(f"qt: {message}", file=sys.stderr)

    sys.excepthook = hook
    _state.update(relay=relay, previous=previous,
                  qt_previous=qInstallMessageHandler(on_qt_message))


def uninstall() -> None:
    if not _state:
        return
    sys.excepthook = _state["previous"]
    qInstallMessageHandler(_state["qt_previous"])
    _state.clear()
