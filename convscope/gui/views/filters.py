"""Filters: the input pattern each filter of the selected layer responds to most, forming
live while the engine runs the gradient ascent (all filters of the request in one batch)."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSpinBox, QToolButton, QVBoxLayout, QWidget)

from convscope.engine import grid
from convscope.engine import jobs as J
from convscope.engine.errors import UserError
from convscope.engine.filters.spec import DEFAULT_STEPS, MODES, filters_in_layer
from convscope.engine.lru import Lru

from ..canvas import ImageCanvas
from ..dataset_widgets import ExamplesStrip
from .base import View, caption, combo

MARGIN = 4
CACHE = 8


class FiltersView(View):
    key, title, channel = "filters", "Filters", "filters"

    def __init__(self, session, client, settings, parent=None):
        super().__init__(session, client, settings, parent)
        self.info = QLabel("—")
        self.range = QLineEdit(settings.get("filters/range"))
        self.range.setFixedWidth(90)
        self.range.setToolTip("Which filters: a range like 0-15, or a list like 1,5,9")
        self.size = QSpinBox(minimum=16, maximum=512, singleStep=16, value=settings.get("filters/size"))
        self.size.setSuffix(" px")
        self.size.setToolTip("Side of each pattern image")
        self.steps = QSpinBox(minimum=1, maximum=5000, value=settings.get("filters/steps"))
        self.steps.setToolTip("Gradient-ascent steps")
        self.mode = combo(MODES, settings.get("filters/mode"),
                          "classic: the seeds' recipe (plain gradient ascent)\n"
                          "regularized: jitter, total variation, decorrelated — readable on "
                          "modern nets")
        self.run = QPushButton("Stop")
        self.record = QPushButton("Animate…")
        self.record.setToolTip("Run the ascent again and save it forming, a frame every 5 "
                               "steps, as an animated GIF or MP4")
        self.add_controls(self.info, 1, caption("filters"), self.range, caption("size"),
                          self.size, caption("steps"), self.steps, caption("mode"), self.mode,
                          self.run, self.record)
        self.canvas = ImageCanvas("")
        self.canvas.setToolTip("Click a pattern to enlarge it · double-click: reset zoom")
        self.detail = QWidget()
        self.detail_title = QLabel()
        self.detail_canvas = ImageCanvas()
        close = QToolButton(text="×", toolTip="Back to the grid only")
        top = QHBoxLayout()
        top.addWidget(self.detail_title, 1)
        top.addWidget(close)
        dl = QVBoxLayout(self.detail)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addLayout(top)
        dl.addWidget(self.detail_canvas, 1)
        self.examples = ExamplesStrip(client)  # its top dataset crops, when indexed
        dl.addWidget(self.examples)
        self.add_picture(self.canvas, self.detail)
        self.progress = caption("")
        self.layout_.addWidget(self.progress)

        self.patterns: np.ndarray | None = None
        self.filters: tuple = ()
        self.focus: int | None = None  # filter to enlarge as soon as it exists
        self._detail_index = 0
        self._per_row = 1
        self._asked: tuple | None = None
        self._cache = Lru(CACHE)  # (layer, filters, size, steps, mode) -> patterns
        self._animate = ""  # the next request also writes this animation file

        client.subscribe(J.FiltersReady, self._on_patterns, channel=self.channel)
        session.sigModelChanged.connect(self._on_model_changed)
        session.sigLayerChanged.connect(self.invalidate)
        self.range.editingFinished.connect(self._on_option_changed)
        self.size.valueChanged.connect(self._on_option_changed)
        self.steps.valueChanged.connect(self._on_option_changed)
        self.mode.currentTextChanged.connect(self._on_mode_changed)
        self.run.clicked.connect(self._on_run_clicked)
        self.record.clicked.connect(lambda: self.record_animation())
        self.canvas.sigClicked.connect(self._on_clicked)
        close.clicked.connect(self._close_detail)

    # -- requests -------------------------------------------------------------------------
    def key_now(self) -> tuple:
        info = self.session.layer_info()
        filters = filters_in_layer(self.range.text(), _units(info))
        return (info.path, filters, self.size.value(), self.steps.value(), self.mode.currentText())

    def request(self) -> None:
        info = self.session.layer_info()
        vector = info is not None and _units(info) and not info.spatial  # Dense / output
        why = self.missing_input(need_image=False, need_spatial_layer=not vector)
        if not why and not self.session.model.filters_available:
            why = "Filter patterns are not available in this build (engine.filters.ascent is missing)."
        if why:
            self._show_nothing(why)
            return
        try:
            key = self.key_now()
        except UserError as exc:
            self._show_nothing(str(exc))
            return
        if key in self._cache:
            self._asked = key
            self._show(key[1], self._cache[key], f"{len(key[1])} patterns (computed before)")
            self._set_running(False)
            return
        if key == self._asked and self.client.pending(self.channel):
            return
        self._asked = key
        layer, filters, size, steps, mode = key
        animate, self._animate = self._animate, ""
        self.info.setText(f"<b>{layer}</b> · {len(filters)} filters")
        self.progress.setText("starting the gradient ascent…")
        if self.patterns is None or self.patterns.shape[0] != len(filters):
            self.canvas.show_message(f"Computing {len(filters)} filter patterns of {layer}…")
        self.client.send(J.FilterPatterns(layer=layer, filters=filters, size=size, steps=steps,
                                          mode=mode, animate=animate))
        self._set_running(True)

    def record_animation(self, path: str | None = None) -> None:
        """Run the current request again, saving the ascent forming to `path` (asked for
        when not given) as .gif or .mp4."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the ascent as an animation",
                                                  "ascent.gif", "Animation (*.gif *.mp4)")
        if not path:
            return
        self._asked = None
        self._cache.pop(self._safe_key(), None)
        self._animate = path
        self.invalidate()

    def show_filter(self, layer: str, channel: int) -> None:
        """From the activation grid: the pattern of `channel`, enlarged as it forms."""
        info = self.session.layer_info(layer)
        if info is None or not info.spatial:
            return
        try:
            n = len(filters_in_layer(self.range.text(), info.channels))
        except UserError:
            n = 16
        start = channel // n * n
        self.range.setText(f"{start}-{min(start + n, info.channels) - 1}")
        self.focus = channel
        self.invalidate()

    def _show_nothing(self, why: str) -> None:
        self.patterns, self._asked = None, None
        self.canvas.show_message(why)
        self.info.setText("—")
        self.progress.setText("")
        self._close_detail()
        self._set_running(False)

    def _on_model_changed(self) -> None:
        self._cache.clear()
        self.patterns, self._asked = None, None
        self._close_detail()
        h, w = (self.session.model.summary.input_shape[:2] if self.session.model
                else (None, None))
        fixed = h is not None and w is not None
        # the box shows the size the patterns will have: the model's own when it is fixed
        # (the user's choice, kept in the settings, comes back for a free-size model)
        self.size.blockSignals(True)
        if fixed:
            self.size.setMaximum(max(self.size.maximum(), int(w)))
            self.size.setValue(int(w))
            self.size.setSuffix(" px" if h == w else f" px wide × {h} high")
        else:
            self.size.setValue(self.settings.get("filters/size"))
            self.size.setSuffix(" px")
        self.size.blockSignals(False)
        self.size.setEnabled(not fixed)
        self.size.setToolTip(f"This model only accepts {h}×{w} input: its patterns have that size"
                             if fixed else "Side of each pattern image")
        self.invalidate()

    def set_mode(self, mode: str) -> bool:
        if mode not in MODES:
            return False
        self.mode.setCurrentText(mode)
        return True

    def _on_option_changed(self, *_):
        self.settings.set("filters/range", self.range.text())
        self.settings.set("filters/size", self.size.value())
        self.settings.set("filters/steps", self.steps.value())
        self.settings.set("filters/mode", self.mode.currentText())
        self.invalidate()

    def _on_mode_changed(self, mode: str) -> None:
        self.steps.blockSignals(True)
        self.steps.setValue(DEFAULT_STEPS.get(mode, DEFAULT_STEPS["classic"]))
        self.steps.blockSignals(False)
        self._on_option_changed()

    def _on_run_clicked(self) -> None:
        if self.client.pending(self.channel):
            self.client.cancel(self.channel)  # show_cancelled says so
        else:
            self._asked = None
            self.invalidate()

    def _set_running(self, running: bool) -> None:
        self.run.setText("Stop" if running else "Run")
        self.run.setToolTip("Stop the gradient ascent (keeps the patterns so far)" if running
                            else "Compute the patterns with these settings")

    # -- results --------------------------------------------------------------------------
    def _on_patterns(self, r: J.FiltersReady) -> None:
        if self._asked is None or self._asked[0] != r.layer:
            return
        if r.final:
            self._cache.put(self._asked, r.patterns)
            self._set_running(False)
            text = f"{len(r.filters)} patterns · {r.steps} steps · {r.seconds:.1f} s"
            if r.animation:
                text += f" · animation saved to {r.animation}"
        else:
            text = f"step {r.step} / {r.steps} · {r.seconds:.1f} s — patterns form as the ascent runs"
        self._show(r.filters, r.patterns, text)
        if r.final:
            self.focus = None

    def show_cancelled(self) -> None:
        """Stop / Cancel: the patterns so far stay (said stopped); nothing yet: the message."""
        self._set_running(False)
        if self.canvas.showing_image():
            self.progress.setText(self.progress.text() + " · stopped")
        else:
            super().show_cancelled()

    def job_failed(self, result) -> None:
        self._set_running(False)
        self._asked = None
        if self.patterns is None:
            self.canvas.show_message(result.message)
        self.progress.setText(f"failed: {result.message}")

    def _show(self, filters: tuple, patterns: np.ndarray, text: str) -> None:
        self.filters, self.patterns = tuple(filters), patterns
        layer = self._asked[0]
        h, w = patterns.shape[1:3]
        names = [self._class_name(f) for f in self.filters[:6]]
        what = (f"classes {', '.join(names)}{'…' if len(self.filters) > 6 else ''} (logits)"
                if all(names) else f"filters {_span(self.filters)}")
        self.info.setText(f"<b>{layer}</b> · {what} · {w}×{h} px")
        self._per_row = math.ceil(math.sqrt(len(patterns)))
        self.canvas.set_image(grid.tile(patterns, self._per_row, margin=MARGIN, fill=31))
        self.progress.setText(text)
        if self.focus is not None and self.focus in self.filters:
            self.enlarge(self.filters.index(self.focus))
        elif self.detail.isVisible():
            self.enlarge(min(self._detail_index, len(self.filters) - 1))

    def enlarge(self, i: int) -> None:
        self._detail_index = i
        f = self.filters[i]
        name = self._class_name(f)
        self.detail_title.setText(f"<b>{self._asked[0]}</b> · " + (
            f"class {f} · <b>{name}</b> (its logit maximised)" if name else f"filter {f}"))
        self.detail_canvas.set_image(self.patterns[i])
        self.examples.show_channel(self._asked[0], self.filters[i])
        self.reveal(self.detail)

    def _close_detail(self) -> None:
        self.focus = None
        self.detail.hide()

    def _safe_key(self):
        try:
            return self.key_now()
        except UserError:
            return None

    def _class_name(self, unit: int) -> str:
        """The class name of `unit` when the layer shown makes the model's class scores."""
        info = self.session.layer_info(self._asked[0]) if self._asked else None
        labels = self.session.labels()
        if info is None or info.spatial or not labels or _units(info) != len(labels):
            return ""
        return labels[unit] if 0 <= unit < len(labels) else ""

    def _on_clicked(self, row: int, col: int, _modifiers) -> None:
        if self.patterns is None:
            return
        i = grid.cell_at(row, col, self.patterns.shape[1:3], self._per_row, len(self.patterns),
                         margin=MARGIN)
        if i is not None:
            self.focus = None
            self.enlarge(i)

    def figure(self) -> np.ndarray | None:
        return self.canvas.image if self.patterns is not None else None


def _units(info) -> int:
    """Filters of a spatial layer, units of a Dense (vector-output) layer, else 0."""
    if info is None or info.output_shape is None:
        return 0
    if info.spatial:
        return info.channels or 0
    return int(info.output_shape[-1] or 0) if len(info.output_shape) == 1 else 0


def _span(filters: tuple) -> str:
    if filters and list(filters) == list(range(filters[0], filters[0] + len(filters))):
        return f"{filters[0]}–{filters[-1]}"
    return ", ".join(map(str, filters[:8])) + ("…" if len(filters) > 8 else "")
