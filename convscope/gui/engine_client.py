"""The GUI's side of the engine thread: send jobs, receive only the results still wanted.

`EngineClient.send(job)` remembers the job as the latest of its channel and hands it to
the bridge. Results arrive on the GUI thread; a result whose job is no longer the latest
of its channel (superseded, or cancelled by the user) is dropped here, so views only ever
see results of what they asked for last. Views subscribe by result type and, usually, by
channel (`subscribe(J.CamReady, cb, channel="cam")`), so they never re-filter.
"""
from __future__ import annotations

import time
from collections import defaultdict

from PySide6.QtCore import QObject, Signal

from convscope.engine import jobs as J
from convscope.engine.explore.prefetch import PrefetchHint
from convscope.engine.qt_bridge import EngineBridge


class EngineClient(QObject):
    sigJobChanged = Signal(str)  # text of the running job ("" when idle)
    sigProgress = Signal(float, float, str)  # done, total, text (total 0: unknown)
    sigFailed = Signal(object)  # engine.jobs.JobFailed of a wanted job
    sigFinished = Signal(object, object, float)  # job, its terminal result, seconds it ran
    sigCancelled = Signal(str)  # a channel whose wanted job the user cancelled

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.bridge = EngineBridge(parent=self)
        self._latest: dict[str, J.Job] = {}  # channel -> the job whose results are wanted
        self._handlers: dict[tuple, list] = defaultdict(list)  # (type, channel or None) -> callbacks
        self._started: dict[int, float] = {}  # job_id -> when the engine started it
        self.dropped = 0  # results of superseded jobs (tests look at it)
        self.bridge.sigResult.connect(self._on_result)
        self.bridge.sigStarted.connect(self._on_started)

    # -- sending --------------------------------------------------------------------------
    def start(self) -> None:
        self.bridge.start()

    def send(self, job: J.Job) -> int:
        self._latest[job.channel] = job
        self.bridge.submit(job)
        return job.job_id

    def cancel(self, channel: str | None = None, quiet: bool = False) -> None:
        """Stop wanting (and stop computing) the job of `channel`; None: all but the engine's.
        The views hear of it (sigCancelled) unless `quiet` (a new model replaces the work)."""
        channels = [channel] if channel else [c for c in self._latest if c != "engine"]
        cancelled = []
        for c in channels:
            if self._latest.pop(c, None) is not None:
                self.bridge.cancel(c)
                cancelled.append(c)
        self._after_change()
        for c in cancelled if not quiet else ():  # each view returns to a state that is true (gui/views/base.py)
            self.sigCancelled.emit(c)

    def hint(self, images, top: int = 5) -> None:
        """What the engine may prefetch while idle: the current image first, then the next
        ones (engine/explore/prefetch.py); replaces the previous hint."""
        self.bridge.hint(PrefetchHint(images=tuple(images), top=top))

    def pending(self, channel: str | None = None) -> bool:
        return channel in self._latest if channel else bool(self._latest)

    def stop(self, timeout_ms: int = 30000) -> bool:
        self._latest.clear()
        return self.bridge.stop(timeout_ms)

    # -- receiving ------------------------------------------------------------------------
    def subscribe(self, result_type: type, callback, channel: str | None = None) -> None:
        """Call `callback(result)` for wanted results of `result_type` (of one `channel`,
        or of every channel when None)."""
        self._handlers[(result_type, channel)].append(callback)

    def _on_started(self, job: J.Job) -> None:
        if self._latest.get(job.channel) is job:
            self._started[job.job_id] = time.perf_counter()
            self.sigJobChanged.emit(job.describe())
            self.sigProgress.emit(0, 0, job.describe())

    def _on_result(self, result: J.Result) -> None:
        job = self._latest.get(result.channel)
        if job is not None and job.stream and result.job_id < job.job_id:
            # an earlier frame of a stream that is still wanted: newer than any shown yet
            if not isinstance(result, J.Progress):
                if isinstance(result, J.JobFailed):
                    self.sigFailed.emit(result)
                self._deliver(result)
            return
        if job is None or job.job_id != result.job_id:
            self.dropped += 1
            return
        if result.final:
            del self._latest[result.channel]
        if isinstance(result, J.Progress):
            self.sigProgress.emit(result.done, result.total, result.text)
        elif isinstance(result, J.JobFailed):
            self.sigFailed.emit(result)
        self._deliver(result)
        if result.final:
            started = self._started.pop(job.job_id, None)
            self.sigFinished.emit(job, result, time.perf_counter() - started if started else 0.0)
            self._after_change()

    def _deliver(self, result: J.Result) -> None:
        for key in ((type(result), None), (type(result), result.channel)):
            for callback in self._handlers.get(key, ()):
                callback(result)

    def _after_change(self) -> None:
        if not self._latest:
            self.sigJobChanged.emit("")
        else:
            # the job still wanted that the engine will run next (or runs now)
            self.sigJobChanged.emit(next(iter(self._latest.values())).describe())
