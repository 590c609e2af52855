"""Thread-safe cancellation, checked inside long computations.

A queued "cancel" signal never reaches a thread that is busy computing, so jobs carry a
token and the computation polls it between layers, batches and ascent steps.
"""
import threading

from .errors import Cancelled


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise Cancelled if cancellation was requested."""
        if self._event.is_set():
            raise Cancelled()


def check(token: "CancelToken | None") -> None:
    if token is not None:
        token.check()
