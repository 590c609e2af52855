"""The engine thread: the one engine module that imports Qt (QtCore only).

One long-lived QThread owns the model and makes every TensorFlow call (TensorFlow itself
is imported there, by the first job, so the window is up before it has loaded). The GUI
talks to it with three calls and one signal:

    bridge.submit(job)      queue a job; returns its job_id
    bridge.cancel(channel)  cancel the running and pending job of a channel (None: all)
    bridge.stop()           cancel everything, end the thread, wait for it
    bridge.hint(h)          what to prefetch while idle (engine.explore.prefetch.PrefetchHint)
    bridge.sigResult        Signal(object): every engine.jobs.Result, on the GUI thread

Bursts collapse: the queue holds at most one pending job per channel (a newer job replaces
the older in its place in the line), and a newer job of a channel cancels the running one
of that channel through its CancelToken — a thread-safe flag the computation checks between
layers, batches and ascent steps (a queued "cancel" signal would never reach a busy slot).
Results of superseded jobs may still arrive; the client drops them by job_id. Stream
jobs (`Job.stream`, video frames) differ: a newer one replaces only the pending one, the
running one finishes and its result is delivered.

When no job is queued the thread runs idle prefetch (engine/explore/prefetch.py), one compiled
pass at a time, after a short grace (IDLE_GRACE) so a burst of requests never finds it
busy; a submitted job cancels it and runs as soon as the pass under way ends.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

from PySide6.QtCore import QObject, QThread, Signal

from .cancel import CancelToken
from .worker import Worker

_threads: "weakref.WeakSet[_EngineThread]" = weakref.WeakSet()
IDLE_GRACE = 0.3  # seconds without a job before idle prefetch starts (a click's follow-up jobs come sooner)


def running_threads() -> list[QThread]:
    """Engine threads of this process that are still running (tests assert none leak)."""
    return [t for t in list(_threads) if t.isRunning()]


class _EngineThread(QThread):
    def __init__(self, bridge: "EngineBridge"):
        super().__init__()
        self.setObjectName("convscope-engine")
        self._bridge = bridge

    def run(self) -> None:  # the engine thread's whole life
        self._bridge._serve()


class EngineBridge(QObject):
    sigResult = Signal(object)  # engine.jobs.Result
    sigStarted = Signal(object)  # engine.jobs.Job, as the engine thread starts it

    def __init__(self, worker: Worker | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.worker = worker or Worker()
        self._cond = threading.Condition()
        self._pending: "OrderedDict[str, object]" = OrderedDict()
        self._running = None  # (job, token)
        self._stopping = False
        self._idle = None  # token of the idle prefetch unit running
        self._wakes = 0  # counts notifications, so none is missed while looking for idle work
        self._thread = _EngineThread(self)
        _threads.add(self._thread)

    # -- GUI side ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def submit(self, job) -> int:
        with self._cond:
            if self._stopping:
                return job.job_id
            self._pending[job.channel] = job  # replaces an older one, keeps its place
            if self._idle is not None:
                self._idle.cancel()
            self._wakes += 1
            running = self._running
            if running is not None and running[0].channel == job.channel and not job.stream:
                running[1].cancel()
            self._cond.notify()
        return job.job_id

    def cancel(self, channel: str | None = None) -> None:
        """Drop the pending job and cancel the running one of `channel` (None: all)."""
        with self._cond:
            if channel is None:
                self._pending.clear()
            else:
                self._pending.pop(channel, None)
            running = self._running
            if running is not None and channel in (None, running[0].channel):
                running[1].cancel()

    def busy(self) -> bool:
        with self._cond:
            return bool(self._pending) or self._running is not None

    def hint(self, hint) -> None:
        """What to prefetch while idle (engine.explore.prefetch.PrefetchHint); replaces the last."""
        prefetcher = getattr(self.worker, "prefetcher", None)
        if prefetcher is not None:
            prefetcher.hint(hint)
            with self._cond:
                self._wakes += 1
                self._cond.notify()

    def prefetching(self) -> bool:
        """An idle prefetch unit is running now."""
        with self._cond:
            return self._idle is not None

    def stop(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything, end the thread; True when it has ended."""
        with self._cond:
            self._stopping = True
            self._wakes += 1
            self._pending.clear()
            if self._running is not None:
                self._running[1].cancel()
            self._cond.notify_all()
        if not self._thread.isRunning():
            return True
        return self._thread.wait(timeout_ms)

    # -- engine thread -------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                if self._pending:
                    _, job = self._pending.popitem(last=False)
                    token = CancelToken()
                    self._running = (job, token)
                else:
                    job, wakes = None, self._wakes
            if job is not None:
                self.sigStarted.emit(job)
                try:
                    self.worker.run(job, self.sigResult.emit, token)
                finally:
                    with self._cond:
                        self._running = None
                continue
            task = self._idle_task()  # outside the lock: submit() never waits for it
            with self._cond:
                if self._pending or self._stopping or self._wakes != wakes:
                    continue  # something changed meanwhile: look again
                if task is None:
                    self._cond.wait()
                    continue
                self._cond.wait(IDLE_GRACE)  # a burst of requests finds the engine free
                if self._pending or self._stopping:
                    continue
                token = self._idle = CancelToken()
            try:
                task(token)
            except Exception:  # prefetch is optional: it never stops the engine thread
                pass
            finally:
                with self._cond:
                    self._idle = None

    def _idle_task(self):
        """The next idle prefetch unit as callable(token), or None."""
        idle = getattr(self.worker, "idle_task", None)
        try:
            return None if idle is None else idle()
        except Exception:  # prefetch is optional: it never stops the engine thread
            return None

