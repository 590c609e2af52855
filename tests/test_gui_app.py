"""The application as a user starts it: `python main.py ...` in a subprocess (offscreen).

- the window is up before TensorFlow has been imported, and TensorFlow is imported on the
  engine thread, never on the GUI thread;
- `--screenshot` waits for the view, saves the window and exits 0; bad input exits 2 with
  one `error: ...` line and leaves no file.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image as PILImage

from test_bridge import small_model_file  # noqa: F401 (fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.timeout(300)


def _env(tmp_path):
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=ROOT,
                TF_CPP_MIN_LOG_LEVEL="3", CONVSCOPE_SETTINGS=str(tmp_path / "settings.ini"))


def _run(args, tmp_path, timeout=240):
    return subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), *args], cwd=ROOT,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    yy, xx = np.mgrid[0:120, 0:160]
    rgb = np.dstack([xx * 1.5, yy * 2, 255 - xx]).astype(np.uint8)
    path = tmp_path_factory.mktemp("app-images") / "ramp.png"
    PILImage.fromarray(rgb).save(path)
    return str(path)


STARTUP = textwrap.dedent("""
    import json, os, sys, threading, time
    record = {}

    class Spy:  # notes the thread that imports TensorFlow
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" and "tf_on_main_thread" not in record:
                record["tf_on_main_thread"] = threading.current_thread() is threading.main_thread()
                record["tf_import_started"] = time.perf_counter()
            return None

    sys.meta_path.insert(0, Spy())
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from convscope.gui.main_window import MainWindow, Startup
    from convscope.gui.settings import Settings
    from convscope.engine.qt_bridge import running_threads

    app = QApplication([])
    w = MainWindow(Settings.at(sys.argv[3]), Startup(model=sys.argv[1], images=[sys.argv[2]]))
    w.show()
    record["shown"] = time.perf_counter()
    record["tf_imported_when_shown"] = "tensorflow" in sys.modules

    def first_turn():
        record["status_after_show"] = w.model_panel.fields["model"].text()

    def check():
        if w.session.model is not None and w.image_panel.predictions.predictions:
            record["model"] = w.session.model.summary.name
            record["predictions"] = len(w.image_panel.predictions.predictions)
            w.close()
            record["threads_after_close"] = len(running_threads())
            app.quit()

    QTimer.singleShot(0, first_turn)
    poll = QTimer(); poll.timeout.connect(check); poll.start(50)
    QTimer.singleShot(180000, app.quit)
    app.exec()
    print(json.dumps(record))
""")


def test_window_shows_before_tensorflow_which_loads_on_the_engine_thread(
        tmp_path, small_model_file, photo):
    from convscope.engine.loading import DEMO_PATH

    model = "demo" if os.path.isfile(DEMO_PATH) else small_model_file
    out = subprocess.run([sys.executable, "-c", STARTUP, model, photo,
                          str(tmp_path / "s.ini")], cwd=ROOT, env=_env(tmp_path),
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    record = json.loads(out.stdout.strip().splitlines()[-1])
    assert record["tf_imported_when_shown"] is False
    assert record["tf_on_main_thread"] is False, "TensorFlow was imported on the GUI thread"
    assert record["tf_import_started"] > record["shown"]
    assert "loading TensorFlow" in record["status_after_show"]
    assert record["model"] in ("demo — shapes CNN", "small.keras") and record["predictions"] == 4
    assert record["threads_after_close"] == 0


def test_screenshot_renders_the_finished_view(tmp_path, small_model_file, photo):
    out_png = tmp_path / "cam.png"
    r = _run(["--model", small_model_file, "--image", photo, "--view", "cam",
              "--layer", "conv2", "--method", "gradcam++", "--screenshot", str(out_png)], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    shot = np.asarray(PILImage.open(out_png).convert("RGB"))
    assert shot.shape[0] >= 800 and shot.shape[1] >= 1400
    # the CAM overlay (jet colours over the image) is in the picture: strong reds and blues
    r_, g_, b_ = (shot[..., i].astype(int) for i in range(3))
    assert ((r_ > 200) & (g_ < 80) & (b_ < 80)).sum() > 500 or ((b_ > 200) & (r_ < 60)).sum() > 500


@pytest.mark.parametrize("args, message", [
    (["--model", "/nonexistent/model.keras"], "model file not found"),
    (["--image", "/nonexistent/cat.jpg"], "image file not found"),
    (["--view", "sideways"], "invalid choice"),
])
def test_screenshot_errors_exit_2_with_one_line(tmp_path, args, message):
    out_png = tmp_path / "never.png"
    r = _run([*args, "--screenshot", str(out_png)], tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.stderr
    assert not out_png.exists()


def test_no_display_is_a_clear_error_and_screenshot_still_works(tmp_path):
    env = {k: v for k, v in _env(tmp_path).items()
           if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run([sys.executable, os.path.join(ROOT, "main.py")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "no display" in r.stderr
    out = tmp_path / "shot.png"
    r = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--view", "activations",
                        "--screenshot", str(out)], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    assert PILImage.open(out).size[0] > 600  # a real window, rendered offscreen
