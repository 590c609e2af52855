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

The view in front comes first (issue 17). Two ways:
- Preemption: a long job (`Job.yields`: Compare, Score-CAM, a figure, filter patterns)
  runs with a YieldingToken. At each of its cancellation checks (between chunks, methods,
  ascent steps) the engine first runs the queued short jobs (`Job.nestable`), there, on
  the same thread, then the long job goes on where it was: it resumes, it never restarts.
  A hidden tab's Score-CAM therefore delays a click by at most one chunk.
- The fast lane: a request the caches answer (a layer's activations of an image already
  analysed; a gradient map at any layer for a class whose gradients are cached) is
  answered by a second thread from numpy arrays (engine.fast_answers: no TensorFlow),
  without waiting for the engine thread at all.

When no job is queued the thread runs idle prefetch (engine/explore/prefetch.py), one compiled
pass at a time, after a short grace (IDLE_GRACE) so a burst of requests never finds it
busy; a submitted job cancels it and runs as soon as the pass under way ends.
"""
from __future__ import annotations

import contextlib
import queue
import threading
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, Signal

from .cancel import CancelToken

if TYPE_CHECKING:
    from .worker import Worker

_threads: "weakref.WeakSet[_EngineThread]" = weakref.WeakSet()
IDLE_GRACE = 0.3  # seconds without a job before idle prefetch starts (a click's follow-up jobs come sooner)


@contextlib.contextmanager
def tensorflow_first(device: str = "auto"):
    """The window's start-up, inside: TensorFlow starts loading at once on a thread of its
    own (engine.tf_runtime.preload; StartEngine waits for it) while the window builds, with
    the cyclic collector paused until TensorFlow is in (or the window closes first). First
    paint first: the window's first map waits for TensorFlow, not for the window. This
    module imports only QtCore, and the Worker only when a bridge is made."""
    from . import tf_runtime

    tf_runtime.pause_gc_until_ready()
    try:
        tf_runtime.preload(device)
        yield
    finally:
        tf_runtime.resume_gc()


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
        if worker is None:
            from .worker import Worker  # here, not at the top: see tensorflow_first

            worker = Worker()
        self.worker = worker
        self._cond = threading.Condition()
        self._pending: "OrderedDict[str, object]" = OrderedDict()
        self._stack: list = []  # (job, token) running: a long job, then the jobs nested in it
        self._fast: "queue.SimpleQueue" = queue.SimpleQueue()  # jobs for the fast lane
        self._fast_thread: threading.Thread | None = None
        self.nested = 0  # jobs run inside a yielding job (tests read it)
        self.fast_answered = 0  # jobs the fast lane answered
        self._newest: dict = {}  # channel -> job_id of the newest job submitted (bursts collapse)
        self._stopping = False
        self._idle = None  # token of the idle prefetch unit running
        self._wakes = 0  # counts notifications, so none is missed while looking for idle work
        self._thread = _EngineThread(self)
        _threads.add(self._thread)

    # -- GUI side ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._fast_thread = threading.Thread(target=self._serve_fast, name="convscope-fast-lane",
                                             daemon=True)
        self._fast_thread.start()

    def submit(self, job) -> int:
        fast = self._answerable(job)
        with self._cond:
            if self._stopping:
                return job.job_id
            self._newest[job.channel] = job.job_id
            if fast:
                self._pending.pop(job.channel, None)  # superseded: the fast lane answers
            else:
                self._pending[job.channel] = job  # replaces an older one, keeps its place
                if self._idle is not None:
                    self._idle.cancel()
                self._wakes += 1
            for running, token in self._stack:
                if running.channel == job.channel and not job.stream:
                    token.cancel()
            self._cond.notify()
        if fast:
            self._fast.put(job)
        return job.job_id

    def cancel(self, channel: str | None = None) -> None:
        """Drop the pending job and cancel the running one of `channel` (None: all)."""
        with self._cond:
            if channel is None:
                self._pending.clear()
            else:
                self._pending.pop(channel, None)
            for running, token in self._stack:
                if channel in (None, running.channel):
                    token.cancel()

    def busy(self) -> bool:
        with self._cond:
            return bool(self._pending) or bool(self._stack)

    @property
    def _running(self):
        """The innermost job running, as (job, token), or None."""
        with self._cond:
            return self._stack[-1] if self._stack else None

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
            for _, token in self._stack:
                token.cancel()
            self._cond.notify_all()
        self._fast.put(None)
        if self._fast_thread is not None:
            self._fast_thread.join(timeout_ms / 1000)
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
                    token = YieldingToken(self._run_nested) if job.yields else CancelToken()
                    self._stack.append((job, token))
                else:
                    job, wakes = None, self._wakes
            if job is not None:
                self._run_stacked(job, token)
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

    def _run_nested(self) -> None:
        """Inside a yielding job's check: run every queued short job, then return to it."""
        while True:
            with self._cond:
                if self._stopping:
                    return
                outer = {j.channel for j, _ in self._stack}
                job = next((j for c, j in self._pending.items()
                            if j.nestable and not j.yields and c not in outer), None)
            if job is None:
                # a model opened cold and painted once: warm its cache here rather than
                # after the long job (the next clicks are then answered from memory)
                warm = getattr(self.worker, "warm_task", None)
                task = warm() if warm is not None else None
                if task is None:
                    return
                try:
                    task(None)
                except Exception:  # optional work: never disturbs the long job
                    pass
                continue
            with self._cond:
                if self._pending.get(job.channel) is not job:
                    continue
                del self._pending[job.channel]
                token = CancelToken()
                self._stack.append((job, token))
                self.nested += 1
            self._run_stacked(job, token)

    def _run_stacked(self, job, token) -> None:
        """Run a job already on the stack (of running jobs: nested ones above the long one)."""
        self.sigStarted.emit(job)
        try:
            self.worker.run(job, self.sigResult.emit, token)
        finally:
            with self._cond:
                self._stack.remove((job, token))

    # -- the fast lane ------------------------------------------------------------------------
    def _answerable(self, job) -> bool:
        ask = getattr(self.worker, "answerable", None)
        try:
            return bool(ask is not None and self._fast_thread is not None and ask(job))
        except Exception:  # a look-up that fails: the engine thread does the job
            return False

    def _serve_fast(self) -> None:
        while True:
            job = self._fast.get()
            if job is None or self._stopping:
                return
            with self._cond:
                if self._newest.get(job.channel) != job.job_id:
                    continue  # a newer job of its channel came meanwhile: a burst collapses
            self.sigStarted.emit(job)
            try:
                results = self.worker.fast_answer(job)
            except Exception:
                results = None
            if results is None:  # evicted meanwhile: the engine computes it
                with self._cond:
                    if self._stopping:
                        return
                    self._pending.setdefault(job.channel, job)
                    self._wakes += 1
                    self._cond.notify()
                continue
            with self._cond:
                self.fast_answered += 1
            for result in results:
                self.sigResult.emit(result)

    def _idle_task(self):
        """The next idle prefetch unit as callable(token), or None."""
        idle = getattr(self.worker, "idle_task", None)
        try:
            return None if idle is None else idle()
        except Exception:  # prefetch is optional: it never stops the engine thread
            return None



class YieldingToken(CancelToken):
    """A long job's token: each check also lets the engine run the queued short jobs
    (EngineBridge._run_nested), then checks again — the job resumes where it was."""

    def __init__(self, run_nested):
        super().__init__()
        self._run_nested = run_nested
        self._inside = False

    def check(self) -> None:
        super().check()
        if self._inside:
            return
        self._inside = True
        try:
            self._run_nested()
        finally:
            self._inside = False
        super().check()
