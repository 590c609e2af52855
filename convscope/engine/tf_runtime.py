"""Importing TensorFlow once, quietly, and choosing the device.

TensorFlow places work on a GPU by itself when one is visible; a desktop app must not seize
the whole card, so memory growth is switched on. `device="cpu"` hides the GPUs.
Call `init()` before the first TensorFlow op; later calls only report.
"""
from __future__ import annotations

import contextlib
import gc
import os
import sys
import tempfile
import threading

_lock = threading.Lock()
_device: str | None = None
_resume_gc = False  # the collector was paused for start-up (pause_gc_until_ready)


def pause_gc_until_ready() -> None:
    """Pause the cyclic garbage collector until `init()` has imported TensorFlow.

    Importing TensorFlow and Keras creates ~400k long-lived objects; with the collector on,
    every generation-2 pass on the way walks all of them again (about 1 s of a 5 s import
    here), and in the window each of those passes also walks Qt's and pyqtgraph's objects
    while both load. Nothing made during start-up is garbage worth collecting: `init()`
    collects once, freezes what survives and switches the collector back on."""
    global _resume_gc
    if _device is None and gc.isenabled():  # once TensorFlow is in, nothing is left to pause
        gc.disable()
        _resume_gc = True


def preload(device: str = "auto") -> None:
    """Start `init(device)` now, on a thread of its own, so that TensorFlow loads while the
    window builds itself (first paint first). Whoever calls `init()` next
    waits for it, and says what failed if it did; no TensorFlow op runs on this thread."""
    def load() -> None:
        try:
            init(device)
        except BaseException:  # noqa: BLE001 - the next init() tries again and says why
            pass

    threading.Thread(target=load, name="convscope-tf-preload", daemon=True).start()


def init(device: str = "auto") -> str:
    """Import TensorFlow, configure the device once; return a description of it."""
    global _device
    with _lock:
        if _device is not None:
            return _device
        if device not in ("auto", "cpu", "gpu"):
            from .errors import UserError

            raise UserError(f"unknown device {device!r}; use auto, cpu or gpu")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        pause_gc_until_ready()
        try:
            with _quiet_native_stderr():
                import tensorflow as tf

                tf.get_logger().setLevel("ERROR")
                gpus = tf.config.list_physical_devices("GPU")
                import keras  # noqa: F401  (every model needs it; imported once, here)
            # The ~400k objects TensorFlow and Keras create on import live as long as the
            # process: moved out of the collector's sight, each later full collection (one
            # per model switch, engine.worker) takes milliseconds instead of most of a second.
            gc.collect()
            gc.freeze()
        finally:
            resume_gc()
        if device == "cpu" and gpus:
            tf.config.set_visible_devices([], "GPU")
            gpus = []
        elif device == "gpu" and not gpus:
            from .errors import UserError

            raise UserError("--device gpu was asked for, but TensorFlow sees no GPU here; "
                            "install the [gpu] extra and the NVIDIA driver, or use --device cpu")
        for gpu in gpus:
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:  # already initialised by someone else: leave it
                pass
        if gpus:
            names = []
            for gpu in gpus:
                detail = tf.config.experimental.get_device_details(gpu)
                names.append(detail.get("device_name", gpu.name))
            _device = "GPU: " + ", ".join(names)
        else:
            _device = f"CPU ({os.cpu_count()} threads)"
        return _device


def resume_gc() -> None:
    """Switch the collector back on if start-up paused it (init() does; so does a window
    closed before TensorFlow was ready)."""
    global _resume_gc
    if _resume_gc:
        _resume_gc = False
        gc.enable()


@contextlib.contextmanager
def _quiet_native_stderr():
    """Hide the lines TensorFlow's C++ start-up writes to fd 2 before its log level applies
    (CUDA probing, oneDNN and CPU-feature notices), so a CLI error stays one line.
    Kept when TF_CPP_MIN_LOG_LEVEL is set below 3; replayed if the import fails (not when
    it is interrupted: Ctrl-C prints its own one line).

    Only fd 2 is redirected: Python's own `sys.stderr` is pointed at a copy of the real
    stderr meanwhile, so what other threads print while TensorFlow loads (the window's
    `--screenshot` error line) still reaches the terminal."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "3":
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    python_stderr = sys.stderr
    real = None
    try:
        if python_stderr.fileno() != 2:  # already redirected (a test's capture): leave it
            raise ValueError
        real = open(os.dup(saved), "w", buffering=1, encoding=getattr(
            python_stderr, "encoding", None) or "utf-8", errors="backslashreplace")
    except (OSError, ValueError, AttributeError):
        pass
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        if real is not None:
            sys.stderr = real
        try:
            yield
        except KeyboardInterrupt:
            raise
        except BaseException:
            _restore(saved, python_stderr, real)
            real = None
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            _restore(saved, python_stderr, real)
            os.close(saved)


def _restore(saved: int, python_stderr, real) -> None:
    if real is not None and sys.stderr is real:
        sys.stderr = python_stderr
        real.close()
    try:
        os.dup2(saved, 2)
    except OSError:
        pass
