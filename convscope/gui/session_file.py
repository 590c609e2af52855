"""Sessions in the window: File ▸ Save session / Open session (.convscope), `--session`,
and the autosave that survives a crash.

Autosave: every change (model, images, image, layer, view, method, class, options) marks
the session dirty; it is written at most every AUTOSAVE_MS to the data folder
(QStandardPaths' AppDataLocation, or beside an INI settings file, or $CONVSCOPE_DATA_DIR).
A `running.pid` file marks a window that is open; it is removed on a normal close. If the
next start finds it and that process is gone (a crash, a kill), the autosave is set aside
and the message bar offers to restore it. The file format is engine/session_io.py.
"""
from __future__ import annotations

import os

from PySide6.QtCore import QObject, QStandardPaths, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from convscope.engine import jobs as J
from convscope.engine import session_io
from convscope.engine.errors import UserError

from . import inputs

AUTOSAVE_MS = 2000
AUTOSAVE, RECOVERED, MARKER = "autosave.convscope", "recovered.convscope", "running.pid"


def data_dir(settings) -> str:
    folder = os.environ.get("CONVSCOPE_DATA_DIR")
    if not folder:
        name = settings.q.fileName()
        if name.lower().endswith(".ini"):  # tests, screenshots: keep beside their settings
            folder = os.path.join(os.path.dirname(name), "convscope-data")
        else:
            folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    os.makedirs(folder, exist_ok=True)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SessionFiles(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.pending: dict | None = None  # applied when the session's model has loaded
        self.folder = data_dir(window.settings)
        self.autosave_path = os.path.join(self.folder, AUTOSAVE)
        self.recovered = self._check_previous_run()
        self._timer = QTimer(self, singleShot=True, interval=AUTOSAVE_MS)
        self._timer.timeout.connect(self.autosave)
        self.saves = 0  # autosaves written (tests look at it)
        self._actions()
        self._watch()

    # -- menus ----------------------------------------------------------------------------
    def _actions(self) -> None:
        before = self.w.actions_.export
        file_menu = self.w.menuBar().actions()[0].menu()
        self.open_action = QAction("Open session…", self.w)
        self.open_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.open_action.triggered.connect(lambda *_: self.ask_open())
        self.save_action = QAction("Save session…", self.w)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.triggered.connect(lambda *_: self.ask_save())
        file_menu.insertAction(before, self.open_action)
        file_menu.insertAction(before, self.save_action)
        file_menu.insertSeparator(before)

    def ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.w, "Save session", "session.convscope",
                                              "ConvScope session (*.convscope)")
        if path:
            self.save_to(path if path.endswith(session_io.SUFFIX) else path + session_io.SUFFIX)

    def ask_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Open session", "",
                                              "ConvScope session (*.convscope);;All files (*)")
        if path:
            self.open_path(path)

    # -- capture / apply ------------------------------------------------------------------
    def capture(self) -> dict:
        w, s = self.w, self.w.session
        paths = [im.path for im in s.images if im.path]
        current = s.image.path if s.image is not None and s.image.path else None
        act, filt, cam = w.activations_view, w.filters_view, w.cam_view
        state = {
            "current_image": paths.index(current) if current in paths else None,
            "view": w.current_view().key, "layer": s.layer,
            "cam": {"method": cam.current_method(), **w.cam_options.saved(),
                    **w.cam_options.target.saved(),
                    "alpha": w.cam_options.alpha, "colormap": w.cam_options.colormap,
                    "follow_tree": w.cam_options.follow_tree, "max_n": cam.max_n.value()},
            "activations": {"per_row": act.per_row.value(), "normalise": act.normalise.currentText(),
                            "colormap": act.colormap.currentText()},
            "filters": {"range": filt.range.text(), "size": filt.size.value(),
                        "steps": filt.steps.value(), "mode": filt.mode.currentText()},
        }
        spec = s.model.summary.source if s.model else None
        return session_io.make(spec, paths, state)

    def save_to(self, path: str) -> bool:
        try:
            session_io.save(path, self.capture())
        except (UserError, OSError) as exc:
            self.w.notify(f"Could not save the session: {exc}")
            return False
        self.w.statusBar().showMessage(f"session saved to {path}", 6000)
        return True

    def start_with(self, doc: dict) -> None:
        """`--session`: the window starts on the session's model and images (Startup);
        the rest is applied when the model has loaded."""
        found = session_io.problems(doc)
        if found:
            QTimer.singleShot(0, lambda: self.w.notify(
                "Session opened with problems: " + "; ".join(found), "warning"))
        self.pending = doc

    def open_path(self, path: str) -> bool:
        try:
            doc = session_io.load(path)
        except UserError as exc:
            self.w.notify(f"Could not open the session: {exc}")
            return False
        self.apply(doc)
        return True

    def apply(self, doc: dict) -> None:
        """Show the session: its model (opened if another is open), its images, then its
        view, layer, method, class and options. Missing or changed files are named."""
        w, s = self.w, self.w.session
        found = session_io.problems(doc)
        if found:
            w.notify("Session opened with problems: " + "; ".join(found), "warning")
        paths = session_io.present_images(doc)
        incoming = inputs.from_paths(paths) if paths else None
        for image in list(s.images):
            s.remove_image(image)
        if incoming is not None:
            s.add_images(incoming.images, make_current=False)
            cur = doc.get("current_image")
            wanted = doc["images"][cur]["path"] if isinstance(cur, int) and 0 <= cur < len(doc["images"]) else None
            chosen = [im for im in s.images if im.path and os.path.abspath(im.path) == wanted]
            s.set_image(chosen[0] if chosen else (s.images[0] if s.images else None))
        model = doc.get("model")
        current = s.model.summary.source if s.model else None
        self.pending = doc
        if model and model["spec"] != current and not (current and os.path.abspath(current) == model["spec"]):
            w.open_model(model["spec"])
        else:
            self._apply_pending()

    def _on_model_loaded(self, _r) -> None:
        if self.pending is not None:  # after the window's own handler has set its defaults
            QTimer.singleShot(0, self._apply_pending)
        self.touch()

    def _apply_pending(self) -> None:
        doc, self.pending = self.pending, None
        if doc is None:
            return
        w, s = self.w, self.w.session
        act, filt, cam = w.activations_view, w.filters_view, w.cam_view
        cur = doc.get("current_image")
        images = doc.get("images") or []
        if isinstance(cur, int) and 0 <= cur < len(images):
            chosen = [im for im in s.images if im.path and os.path.abspath(im.path) == images[cur]["path"]]
            if chosen:
                s.set_image(chosen[0])
        o = doc.get("activations") or {}
        act.per_row.setValue(int(o.get("per_row", act.per_row.value())))
        act.normalise.setCurrentText(o.get("normalise", act.normalise.currentText()))
        act.colormap.setCurrentText(o.get("colormap", act.colormap.currentText()))
        o = doc.get("filters") or {}
        filt.size.setValue(int(o.get("size", filt.size.value())))
        filt.steps.setValue(int(o.get("steps", filt.steps.value())))
        filt.mode.setCurrentText(o.get("mode", filt.mode.currentText()))
        if "range" in o:
            filt.range.setText(str(o["range"]))
        c = doc.get("cam") or {}
        opts = w.cam_options
        opts.set_follow_tree(bool(c.get("follow_tree", opts.follow_tree)))
        opts.set_look(float(c.get("alpha", opts.alpha)), c.get("colormap", opts.colormap))
        cam.max_n.setValue(int(c.get("max_n", cam.max_n.value())))
        startup = w.startup if doc is w.startup.session else None  # command line wins
        if c.get("method") and not (startup and startup.method):
            cam.set_method(c["method"])
        opts.restore(c.get("class_index"), c.get("class_label"), c.get("class_model"))
        opts.target.restore(c.get("target"), c.get("target_model"))
        layer = doc.get("layer") if not (startup and startup.layer) else None
        if layer and s.layer_info(layer) is not None:
            s.set_layer(layer)
        elif layer:
            w.notify(f"the session's layer {layer!r} is not in this model; showing the default layer",
                     "warning")
        view = doc.get("view")
        if doc is w.startup.session and w.startup.view:
            view = w.startup.view  # `--view` given with `--session` wins over the session's
        if view:
            w.view(view)

    # -- autosave -------------------------------------------------------------------------
    def _watch(self) -> None:
        w, s = self.w, self.w.session
        w.client.subscribe(J.ModelLoaded, self._on_model_loaded)
        for signal in (s.sigImagesChanged, s.sigImageChanged, s.sigLayerChanged,
                       w.cam_options.sigChanged, w.cam_options.sigLookChanged):
            signal.connect(self.touch)
        w.tabs.currentChanged.connect(self.touch)
        w.cam_view.method.currentIndexChanged.connect(self.touch)

    def touch(self, *_) -> None:
        """Something changed: autosave soon (at most once per AUTOSAVE_MS)."""
        if self.w.session.model is not None and not self._timer.isActive():
            self._timer.start()

    def autosave(self) -> None:
        try:
            session_io.save(self.autosave_path, self.capture())
            self.saves += 1
        except (UserError, OSError):
            pass  # a full disk must not disturb the work; the next change tries again

    def _check_previous_run(self) -> str | None:
        """A marker left by a window that did not close: offer its autosave."""
        marker = os.path.join(self.folder, MARKER)
        recovered = None
        try:
            with open(marker, encoding="ascii") as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            pid = 0
        if pid and pid != os.getpid() and not _alive(pid) and os.path.isfile(self.autosave_path):
            recovered = os.path.join(self.folder, RECOVERED)
            os.replace(self.autosave_path, recovered)
            QTimer.singleShot(0, lambda: self.w.notify(
                "ConvScope did not close normally last time. Restore the session it was showing?",
                "warning", action="Restore session", callback=lambda: self.open_path(recovered)))
        with open(marker, "w", encoding="ascii") as f:
            f.write(str(os.getpid()))
        return recovered

    def closed(self) -> None:
        """A normal close: no crash to report next time."""
        self._timer.stop()
        try:
            os.remove(os.path.join(self.folder, MARKER))
        except OSError:
            pass
