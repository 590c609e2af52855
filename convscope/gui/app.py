"""`python main.py [gui] [FILE ...] [--model SPEC] [--image PATH] [--view activations|filters|
cam|compare] [--layer PATH] [--method M] [--mode classic|regularized] [--screenshot OUT.png]
[--device auto|cpu|gpu]`

FILEs are images, or a model file (.keras/.h5), as a file manager passes them.

Opens the window. With --screenshot it starts on the given model, image, view, layer and
method, waits until the view has finished computing, saves the window as PNG and exits 0;
any error prints one `error: ...` line on stderr and exits 2.
Settings live in QSettings (ConvScope/ConvScope), or in the INI file named by the
environment variable CONVSCOPE_SETTINGS; --screenshot uses a fresh temporary one.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

VIEWS = ("activations", "filters", "cam", "compare")
SCREENSHOT_SIZE = (1440, 900)
SCREENSHOT_TIMEOUT = 600.0  # seconds


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _ArgumentError(f"{message} (see `convscope --help`)")


def parse_args(argv):
    p = _Parser(prog="convscope", description="ConvScope's window.")
    p.add_argument("files", nargs="*", help="image files, or a model file, to open "
                   "(as a file manager passes them)")
    p.add_argument("--model", default="demo", help="a .keras/.h5 file, SavedModel folder, "
                   "builtin:NAME[?weights=none] or demo (default)")
    p.add_argument("--image", action="append", default=[], help="an image to open (repeatable)")
    p.add_argument("--view", choices=VIEWS, default=None)
    p.add_argument("--layer", default=None, help="layer path to select")
    p.add_argument("--method", default=None, help="CAM method (gradcam, gradcam++, scorecam, …)")
    p.add_argument("--mode", default=None, choices=("classic", "regularized"),
                   help="filter-pattern mode (Filters view); default: the last one used, "
                   "regularized at first (classic = the seeds' recipe)")
    p.add_argument("--screenshot", default=None, metavar="OUT.png")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    p.add_argument("--preprocess", default="auto")
    p.add_argument("--session", default=None, metavar="S.convscope", help="open a saved session")
    from convscope.engine.model_options import add_model_options

    add_model_options(p)  # --custom-objects, --trust-model, --head: for the --model opened
    from convscope.engine.help_defaults import state_defaults

    state_defaults(p)  # --help states each default
    return p.parse_args(argv)


def _check(args) -> None:
    """Bad paths fail here, before Qt and TensorFlow start."""
    from convscope.engine.errors import UserError
    from convscope.engine.input_files import regular_file
    from convscope.engine.outputs import check_destination

    from convscope.engine.loading import is_model_path  # no Qt yet: TensorFlow starts first

    try:
        for path in args.files:
            if not os.path.exists(path):
                raise _ArgumentError(f"file not found: {path}")
            if is_model_path(path):
                args.model = path
            else:
                args.image.append(path)
        for path in args.image:
            regular_file(path, "image file")  # a FIFO would hang the decoder
        args.session_doc = None
        if args.session:
            from convscope.engine import session_io

            doc = args.session_doc = session_io.load(args.session)
            if doc.get("model"):
                args.model = doc["model"]["spec"]
            args.image = session_io.present_images(doc) + args.image
        if args.screenshot:
            check_destination(args.screenshot, (".png",), "--screenshot")
    except UserError as exc:
        raise _ArgumentError(str(exc)) from None


def _has_display() -> bool:
    """Qt aborts the process when it finds no platform to draw on; say so ourselves."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True  # the user (or a test) chose a platform: offscreen, vnc, ...
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        args = parse_args(argv)
        _check(args)
    except _ArgumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    if not _has_display():
        if not args.screenshot:
            print("error: no display to open the window on (DISPLAY/WAYLAND_DISPLAY unset); "
                  "use the command-line sub-commands (see --help), or --screenshot", file=sys.stderr)
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    from .qt_libraries import problem  # missing X11 libraries: one line, not Qt's abort

    if (missing := problem()) is not None:
        print(f"error: {missing}", file=sys.stderr)
        return 2

    from convscope.engine.qt_bridge import tensorflow_first

    from .import_hook import drop_feature_import

    # First paint first. PySide6's import hook goes before any other import (and before
    # TensorFlow's thread, so none races it); then the window's modules (Qt's widgets,
    # pyqtgraph: ~0.45 s); then TensorFlow starts on its thread, with the collector paused
    # until it is in, while the window builds. Two imports taking turns at the GIL cost
    # more than one after the other (bench_first_paint, README "First paint").
    drop_feature_import()
    from . import main_window  # noqa: F401

    with tensorflow_first(args.device):
        return _run_window(args)


def _run_window(args) -> int:
    from PySide6.QtWidgets import QApplication

    from . import crash_guard
    from .main_window import MainWindow, Startup
    from .settings import Settings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ConvScope")
    app.setOrganizationName("ConvScope")
    app.setDesktopFileName("convscope")
    tmp = tempfile.mkdtemp(prefix="convscope-") if args.screenshot else None
    if tmp:
        settings = Settings.at(os.path.join(tmp, "settings.ini"))
    elif os.environ.get("CONVSCOPE_SETTINGS"):
        settings = Settings.at(os.environ["CONVSCOPE_SETTINGS"])
    else:
        settings = Settings()
    startup = Startup(model=args.model, images=list(args.image), view=args.view,
                      layer=args.layer, method=args.method, mode=args.mode, device=args.device,
                      preprocess=args.preprocess, session=args.session_doc,
                      custom_objects=tuple(args.custom_objects or ()),
                      trust_model=args.trust_model, head=args.head)
    window = MainWindow(settings, startup)
    crash_guard.install(lambda text, details: window.notify(text, details=details))
    try:
        if args.screenshot:
            return _screenshot(app, window, args.screenshot)
        window.show()
        return app.exec()
    finally:
        crash_guard.uninstall()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _screenshot(app, window, out: str) -> int:
    from PySide6.QtCore import QTimer

    from convscope.engine import outputs

    from .qimage import from_qimage

    state = {"rc": None, "settled": 0, "t0": time.monotonic()}

    def finish(rc: int, error: str = "") -> None:
        if state["rc"] is not None:
            return
        state["rc"] = rc
        if error:
            print(f"error: {error}", file=sys.stderr)
        poll.stop()
        window.close()
        app.quit()

    def check() -> None:
        if time.monotonic() - state["t0"] > SCREENSHOT_TIMEOUT:
            finish(2, f"the view did not finish within {SCREENSHOT_TIMEOUT:.0f} s")
            return
        state["settled"] = state["settled"] + 1 if window.settled() else 0
        if state["settled"] >= 3:  # settled across a few turns: the last result is drawn
            try:
                outputs.save_png(out, from_qimage(window.grab().toImage()))
            except Exception as exc:  # a bad path, a full disk
                finish(2, str(exc))
                return
            print(f"saved {out}")
            finish(0)

    window.client.sigFailed.connect(lambda r: finish(2, r.message))
    window.notifications.sigShown.connect(
        lambda level, text: level == "error" and finish(2, text))
    poll = QTimer()
    poll.setInterval(25)  # three settled turns cost 75 ms, not 300, after the first map
    poll.timeout.connect(check)
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    poll.start()
    app.exec()
    return 2 if state["rc"] is None else state["rc"]
