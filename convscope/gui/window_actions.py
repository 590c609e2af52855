"""The window's menus, toolbar and shortcuts, and what they do (files, clipboard, export)."""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QComboBox, QFileDialog, QMessageBox, QToolButton

from convscope.engine import outputs
from convscope.engine.errors import UserError
from convscope.engine.images import SUFFIXES

from . import inputs
from .model_dialogs import BuiltinDialog, ask_model_file
from .qimage import from_qimage, to_qimage

GUIDE = """<h3>ConvScope in one minute</h3>
<ol>
<li><b>Model</b>: File ▸ Open model, a built-in architecture (Ctrl+B), or drop a .keras/.h5
file on the window.</li>
<li><b>Images</b>: drop image files anywhere, open them (Ctrl+I) or paste one (Ctrl+V).
The strip on the right switches between them; the bars are the model's top-5 guesses —
click one to see where its evidence lies.</li>
<li><b>Layers</b>: pick a layer in the tree (● marks layers that can be drawn); ↑/↓ walk
through them and the view follows.</li>
<li><b>Views</b>: Activations (click a channel to see it alone, Ctrl+click for its filter
pattern), Filters (patterns forming as the ascent runs), CAM (method, class, layer,
alpha), Compare methods (all side by side), Live (a camera or a video file through the
network, frame after frame; drop a video on the window).</li>
<li><b>Export</b>: Ctrl+E saves the view as PNG at full resolution; Ctrl+Shift+C copies it.
<b>Export figure</b> (Ctrl+Shift+E, or the button beside the tabs) makes a figure for a
paper (PDF, SVG, PNG, TIFF) of what is on screen, with a live preview and its recipe.</li>
<li><b>Sessions</b>: File ▸ Save session (Ctrl+S) keeps the model, images, view, layer and
settings in a .convscope file; File ▸ Open session (Ctrl+Shift+O) brings them back.</li>
<li><b>Tools</b>: Run over a folder (CAMs and their faithfulness metrics over a dataset, as
<code>convscope batch</code>) and Index a folder (the dataset images that excite each
channel, as <code>convscope examples</code>).</li>
</ol>
Esc (or Cancel in the status bar) stops a long computation."""


EXPORT_SIDE = 1024  # small pictures (a 12x12 map, a grid of 6x6 tiles) are enlarged to this


def enlarged(picture: np.ndarray) -> tuple[np.ndarray, int]:
    """The picture with every pixel repeated k x k (k >= 1, integer, so no smoothing
    invents values) until its longer side reaches EXPORT_SIDE; and k."""
    k = max(1, EXPORT_SIDE // max(picture.shape[:2]))
    if k == 1:
        return picture, 1
    return np.repeat(np.repeat(picture, k, axis=0), k, axis=1), k


class WindowActions:
    def __init__(self, window):
        self.w = window
        self._build()
        self.refresh_recent()

    def _action(self, menu, text, slot, shortcut=None, tip=""):
        action = QAction(text, self.w)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setToolTip(tip or text)
        action.triggered.connect(lambda *_: slot())
        menu.addAction(action)
        return action

    def _build(self) -> None:
        w, bar = self.w, self.w.menuBar()
        file_menu = bar.addMenu("File")
        a = self._action
        self.open_model = a(file_menu, "Open model…", self.ask_model, QKeySequence.StandardKey.Open,
                            "Open a .keras or .h5 model file")
        self.builtin = a(file_menu, "Built-in architecture…", self.ask_builtin, "Ctrl+B",
                         "VGG16, ResNet50, MobileNetV2, … (ImageNet or random weights)")
        self.recent_models = file_menu.addMenu("Recent models")
        file_menu.addSeparator()
        self.open_images = a(file_menu, "Open images…", self.ask_images, "Ctrl+I",
                             "Open one or many image files")
        self.paste = a(file_menu, "Paste image", self.paste_image, QKeySequence.StandardKey.Paste,
                       "Paste an image (or image files) from the clipboard")
        self.recent_images = file_menu.addMenu("Recent images")
        file_menu.addSeparator()
        self.export = a(file_menu, "Export view as PNG…", self.ask_export, "Ctrl+E",
                        "Save the current view at full resolution")
        self.copy = a(file_menu, "Copy view", self.copy_view, "Ctrl+Shift+C",
                      "Copy the current view to the clipboard")
        self.export_figure = a(file_menu, "Export figure…", self.ask_figure, "Ctrl+Shift+E",
                               "A figure for a paper (PDF, SVG, PNG, TIFF) of this view, "
                               "with a live preview")
        self.shot = a(file_menu, "Save window screenshot…", self.ask_window_shot, None,
                      "Save the whole window as PNG")
        file_menu.addSeparator()
        a(file_menu, "Quit", w.close, QKeySequence.StandardKey.Quit)

        view_menu = bar.addMenu("View")
        for i, v in enumerate(w.views):
            a(view_menu, v.title, lambda key=v.key: w.view(key), f"Ctrl+{i + 1}")
        view_menu.addSeparator()
        view_menu.addAction(w.model_dock.toggleViewAction())
        view_menu.addAction(w.image_dock.toggleViewAction())
        a(view_menu, "Cancel computation", w.cancel, "Esc")

        help_menu = self.help_menu = bar.addMenu("Help")  # kept last: see help_last()
        a(help_menu, "Quick guide", lambda: QMessageBox.information(w, "ConvScope", GUIDE), "F1")
        a(help_menu, "About ConvScope", self.about)

        tools = w.addToolBar("Main")
        tools.setObjectName("main-toolbar")
        tools.setMovable(False)
        for action in (self.open_model, self.builtin, self.open_images):
            tools.addAction(action)
        self.model_combo = QComboBox()
        self.model_combo.setMinimumContentsLength(22)
        self.model_combo.setToolTip("Recent models")
        self.model_combo.activated.connect(self._on_recent_combo)
        tools.addWidget(self.model_combo)
        tools.addSeparator()
        tools.addAction(self.export)
        tools.addAction(self.copy)
        tools.addAction(self.export_figure)
        corner = QToolButton()  # on every view, beside the tabs
        corner.setDefaultAction(self.export_figure)
        w.tabs.setCornerWidget(corner)

    def help_last(self) -> None:
        """Move Help to the end of the menu bar (menus added later, Tools, go before it)."""
        bar, action = self.w.menuBar(), self.help_menu.menuAction()
        bar.removeAction(action)
        bar.addAction(action)

    # -- recent ---------------------------------------------------------------------------
    def refresh_recent(self) -> None:
        s = self.w.settings
        self.recent_models.clear()
        for spec in s.recent("models"):
            self._action(self.recent_models, spec, lambda spec=spec: self.w.open_model(spec))
        self.recent_images.clear()
        for path in s.recent("images"):
            self._action(self.recent_images, path, lambda p=path: self.w.open_inputs(
                inputs.from_paths([p], decode=False)))
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        current = self.w.session.model.summary.source if self.w.session.model else None
        for spec in s.recent("models"):
            self.model_combo.addItem(os.path.basename(spec) if os.path.sep in spec else spec, spec)
        if current is not None:
            self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(current)))
        self.model_combo.blockSignals(False)

    def _on_recent_combo(self, row: int) -> None:
        spec = self.model_combo.itemData(row)
        if spec and (self.w.session.model is None or spec != self.w.session.model.summary.source):
            self.w.open_model(spec)

    # -- files ----------------------------------------------------------------------------
    def _start_dir(self, kind: str) -> str:
        recent = self.w.settings.recent(kind)
        return os.path.dirname(recent[0]) if recent and os.path.sep in recent[0] else ""

    def ask_model(self) -> None:
        path = ask_model_file(self.w, self._start_dir("models"))
        if path:
            self.w.open_model(path)

    def ask_builtin(self) -> None:
        dialog = BuiltinDialog(self.w)
        if dialog.exec() and dialog.spec():
            self.w.open_model(dialog.spec())

    def ask_images(self) -> None:
        pattern = " ".join(f"*{s}" for s in SUFFIXES)
        paths, _ = QFileDialog.getOpenFileNames(self.w, "Open images", self._start_dir("images"),
                                                f"Images ({pattern});;All files (*)")
        if paths:
            self.w.open_inputs(inputs.from_paths(paths, decode=False))

    def paste_image(self) -> None:
        self.w.open_inputs(inputs.from_mime(QApplication.clipboard().mimeData()))

    # -- export ---------------------------------------------------------------------------
    def figure(self):
        view = self.w.current_view()
        picture = view.figure()
        if picture is None:
            self.w.notify(f"The {view.title} view has nothing to export yet.", "info")
        return picture

    def default_name(self) -> str:
        view, s = self.w.current_view(), self.w.session
        parts = [view.key, (s.layer or "").replace("/", "_"),
                 os.path.splitext(s.image.name)[0] if s.image else ""]
        return "-".join(p for p in parts if p) + ".png"

    def ask_export(self) -> None:
        if self.figure() is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.w, "Export view", self.default_name(),
                                              "PNG image (*.png)")
        if path:
            self.export_to(path if os.path.splitext(path)[1] else path + ".png")

    def export_to(self, path: str) -> bool:
        picture = self.figure()
        if picture is None:
            return False
        big, factor = enlarged(picture)
        try:
            outputs.save_png(path, big)
        except (UserError, OSError) as exc:
            self.w.notify(f"Could not export: {exc}")
            return False
        scale = f", pixels ×{factor}" if factor > 1 else ""
        self.w.statusBar().showMessage(f"saved {path} ({big.shape[1]}×{big.shape[0]}{scale})", 6000)
        return True

    def ask_figure(self):
        from .figure_dialog import open_dialog

        return open_dialog(self.w)

    def copy_view(self) -> None:
        picture = self.figure()
        if picture is not None:
            QApplication.clipboard().setImage(to_qimage(enlarged(picture)[0]))
            self.w.statusBar().showMessage("view copied to the clipboard", 4000)

    def ask_window_shot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.w, "Save window screenshot", "convscope.png",
                                              "PNG image (*.png)")
        if path:
            try:
                outputs.save_png(path, from_qimage(self.w.grab().toImage()))
            except UserError as exc:  # a read-only folder, a full disk
                self.w.notify(f"Could not save the screenshot: {exc}")

    def about(self) -> None:
        QMessageBox.about(self.w, "About ConvScope",
                          "<b>ConvScope</b> — see what a convolutional network has learned: "
                          "activations, filter patterns and class activation maps of Keras "
                          f"models.<br><br>Device: {self.w.session.device or 'starting…'}")
