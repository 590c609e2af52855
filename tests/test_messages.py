"""What crosses the thread boundary is plain, typed data: ModelSummary, JobFailed.remedy,
CamReady's arrays; jobs reach their function through the handler table; results reach
only the subscribers of their channel; engine-thread warnings reach the window; the
window does not close while the engine thread still runs. Real Qt, real engine thread."""
import dataclasses
import threading
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from convscope.engine import jobs as J
from convscope.engine.errors import Remedy, UserError
from convscope.engine.summary import HeadInfo, LayerInfo, ModelSummary
from convscope.engine.worker import HANDLERS, Throttle, Worker, handles
from gui_support import image_files, open_window, settings_file, settle, spin, wait_until  # noqa: F401
from test_bridge import ramp_image, small_model_file  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(300)


# -- jobs made for these tests, run through the handler table ----------------------------------
@dataclass(frozen=True, eq=False)
class Warn(J.Job):
    text: str = "careful"
    channel: ClassVar[str] = "test-warn"


@dataclass(frozen=True, eq=False)
class Hold(J.Job):
    """Blocks the engine thread until `release` is set, ignoring cancellation (as a long
    TensorFlow call that cannot check its token does)."""

    release: threading.Event = dataclasses.field(default_factory=threading.Event)
    started: threading.Event = dataclasses.field(default_factory=threading.Event)
    channel: ClassVar[str] = "test-hold"


@dataclass(frozen=True, eq=False)
class Unknown(J.Job):
    channel: ClassVar[str] = "test-unknown"


@handles(Warn)
def _warn(worker, job, emit, cancel, base):
    warnings.warn(job.text, UserWarning)
    warnings.warn(job.text, UserWarning)  # the same text twice: sent once
    emit(J.Progress(**base, done=1, total=1))


@handles(Hold)
def _hold(worker, job, emit, cancel, base):
    job.started.set()
    job.release.wait(60)
    emit(J.Progress(**base, done=1, total=1))


def test_the_handler_table_runs_registered_jobs_and_refuses_others():
    assert HANDLERS[Warn] is _warn and J.LoadModel in HANDLERS
    with pytest.raises(ValueError, match="already has a handler"):
        handles(Warn)(_warn)
    [r] = Worker().run_all(Unknown())
    assert isinstance(r, J.JobFailed) and "does not know the job Unknown" in r.message


def test_warnings_on_the_engine_thread_become_results_before_the_end():
    out = Worker().run_all(Warn(text="mind the gap"))
    assert [type(r) for r in out] == [J.JobWarning, J.Progress]
    assert out[0].message == "mind the gap" and out[0].category == "UserWarning"
    assert "test_messages.py" in out[0].details and not out[0].final


def test_throttle_passes_once_per_interval():
    now = [100.0]
    t = Throttle(0.5, clock=lambda: now[0])
    seen = []
    for step in range(12):  # ticks 0.0, 0.2, ..., 2.2 s
        seen.append(t.ready())
        now[0] += 0.2
    # passes at 0.0, 0.6, 1.2, 1.8 (the first always; then once >= 0.5 s has gone by)
    assert [i for i, ok in enumerate(seen) if ok] == [0, 3, 6, 9]


def test_worker_progress_interval_is_injectable(small_model_file):
    """Partial filter patterns stream as often as the worker's interval lets them: every
    `every` (5) steps with 0 s, only the first with a day."""
    job = dict(layer="conv2", filters=(0, 3), size=32, steps=12)
    partial = {}
    for interval in (0.0, 86400.0):
        w = Worker(progress_interval=interval)
        assert isinstance(w.run_all(J.LoadModel(spec=small_model_file))[-1], J.ModelLoaded)
        out = w.run_all(J.FilterPatterns(**job))
        partial[interval] = [r.step for r in out if isinstance(r, J.FiltersReady) and not r.final]
        assert isinstance(out[-1], J.FiltersReady) and out[-1].final
    assert partial[0.0] == [5, 10]
    assert partial[86400.0] == [5]


def test_model_loaded_carries_a_typed_summary_and_cam_ready_plain_data(small_model_file):
    w = Worker()
    loaded = w.run_all(J.LoadModel(spec=small_model_file))[-1]
    s = loaded.summary
    assert isinstance(s, ModelSummary) and isinstance(s.head, HeadInfo)
    assert all(isinstance(i, LayerInfo) for i in s.layers) and s.params == w.model.keras_model.count_params()
    assert s.as_dict() == w.model.summary()  # `info --json` unchanged
    img = ramp_image()
    r = w.run_all(J.Cam(image=img, method="gradcam++"))[-1]
    assert isinstance(r, J.CamReady)
    plain = (np.ndarray, str, int, float, bool, type(None))
    for f in dataclasses.fields(r):
        assert isinstance(getattr(r, f.name), plain), (f.name, type(getattr(r, f.name)))
    direct = w.model.cam(img, method="gradcam++")
    np.testing.assert_array_equal(r.heatmap, direct.heatmap)
    np.testing.assert_array_equal(r.weights, direct.weights)
    assert r.pixels is img.pixels and r.class_index == direct.class_index


def test_a_user_error_carries_its_remedy_to_the_window_result():
    @dataclass(frozen=True, eq=False)
    class Offline(J.Job):
        channel: ClassVar[str] = "test-offline"

    @handles(Offline)
    def _offline(worker, job, emit, cancel, base):
        raise UserError("no weights", remedy=Remedy("open_model", "Open with random weights",
                                                    "builtin:vgg16?weights=none"))

    [r] = Worker().run_all(Offline())
    assert isinstance(r, J.JobFailed) and not r.internal
    assert r.remedy == Remedy("open_model", "Open with random weights", "builtin:vgg16?weights=none")


# -- the window --------------------------------------------------------------------------------
@pytest.fixture
def fresh_window(qapp, small_model_file, image_files, settings_file):
    from convscope.engine.qt_bridge import running_threads

    w = open_window(settings_file, model=small_model_file, images=[image_files[0]],
                    view="activations")
    yield w
    w.close()
    wait_until(lambda: not running_threads(), 60, "the engine thread to end")


def test_results_reach_only_their_channel(fresh_window):
    client, img = fresh_window.client, fresh_window.session.image
    mine, every = [], []
    client.subscribe(J.CamReady, mine.append, channel="cam")
    client.subscribe(J.CamReady, every.append)
    client.send(J.CompareCams(image=img, methods=("gradcam", "eigencam")))
    wait_until(lambda: len(every) == 2, 60, "the compare maps")
    client.send(J.Cam(image=img, method="gradcam"))
    wait_until(lambda: len(every) == 3, 60, "the CAM")
    assert [r.channel for r in every] == ["compare", "compare", "cam"]
    assert [r.channel for r in mine] == ["cam"]
    settle(fresh_window)


def test_an_engine_warning_shows_in_the_message_bar(fresh_window):
    fresh_window.client.send(Warn(text="this layer is odd"))
    wait_until(lambda: "this layer is odd" in fresh_window.notifications.current_text(), 30,
               "the warning")
    assert fresh_window.notifications.level == "warning"
    assert "UserWarning" in fresh_window.notifications.current_text()


def test_the_window_does_not_close_while_the_engine_thread_runs(fresh_window):
    from convscope.engine.qt_bridge import running_threads

    w = fresh_window
    w.CLOSE_WAIT_MS = 50
    job = Hold()
    w.client.send(job)
    assert job.started.wait(30)
    assert w.close() is False  # refused: the engine thread is inside the job
    spin(200)  # retries happen meanwhile, and are refused too
    assert w.isVisible() and running_threads()
    job.release.set()
    wait_until(lambda: not w.isVisible(), 30, "the retried close")
    assert not running_threads()
