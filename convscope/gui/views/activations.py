"""Activations: every channel of the selected layer as a grid; one channel at full size.

The engine sends the raw (H, W, C) activations; the grid is drawn here with the engine's
numpy helpers (engine.explore.activation_view), so changing normalisation, colour map or channels
per row redraws at once without asking the engine again.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QSpinBox, QToolButton,
                               QVBoxLayout, QWidget)

from convscope.engine.explore import activation_view
from convscope.engine import colormaps, grid
from convscope.engine.explore.fast_grid import GridPicture
from convscope.engine import jobs as J

from ..canvas import ImageCanvas
from ..colorbar import ColorBar
from ..dataset_widgets import ExamplesStrip
from ..layer_tree import shape_text
from .base import View, caption, combo

MARGIN = 1
GRIDS_KEPT = 24  # grids of recent (image, layer, normalisation): ~1 byte per activation
GAP = np.array([31, 33, 36], np.uint8)  # the canvas background (gui.canvas.BACKGROUND)


class ChannelDetail(QWidget):
    """One channel at full size, its statistics, and the way to its filter pattern."""

    sigFilter = Signal(int)
    sigExplain = Signal(int)  # where in the image this channel looks (a unit: target)
    sigStep = Signal(int)  # -1 / +1
    sigClose = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.channel = -1
        self.title = QLabel()
        close = QToolButton(text="×", toolTip="Back to the grid only")
        prev_ = QToolButton(text="◀", toolTip="Previous channel")
        next_ = QToolButton(text="▶", toolTip="Next channel")
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        for b in (prev_, next_, close):
            top.addWidget(b)
        self.canvas = ImageCanvas()
        self.stats = QLabel()
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.filter_button = QPushButton("Filter pattern of this channel →")
        self.filter_button.setToolTip("Show the input pattern this channel responds to most "
                                      "(gradient ascent, Filters tab)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.stats)
        layout.addWidget(self.filter_button)
        self.explain_button = QPushButton("Explain this channel →")
        self.explain_button.setToolTip("Where in the image this channel looks: its mean "
                                       "activation as the target of the CAM view's map")
        layout.addWidget(self.explain_button)
        self.explain_button.clicked.connect(lambda: self.sigExplain.emit(self.channel))
        close.clicked.connect(self.sigClose)
        prev_.clicked.connect(lambda: self.sigStep.emit(-1))
        next_.clicked.connect(lambda: self.sigStep.emit(1))
        self.filter_button.clicked.connect(lambda: self.sigFilter.emit(self.channel))

    def show_channel(self, layer: str, act: np.ndarray, channel: int, picture: np.ndarray) -> None:
        self.channel = channel
        st = activation_view.channel_stats(act, channel)
        h, w, c = act.shape
        self.title.setText(f"<b>{layer}</b> · channel {channel} of {c}")
        self.canvas.set_image(picture)
        dead = " · <b style='color:#b03030'>dead (all zero)</b>" if st.maximum == st.minimum == 0 else ""
        self.stats.setText(f"{h}×{w} · min {st.minimum:.4g} · max {st.maximum:.4g}<br>"
                           f"mean {st.mean:.4g} · std {st.std:.4g} · "
                           f"{100 * st.fraction_positive:.1f}% positive{dead}")


class ActivationsView(View):
    key, title, channel = "activations", "Activations", "activations"
    sigShowFilter = Signal(str, int)  # layer, channel
    sigExplainChannel = Signal(str, int)  # layer, channel: its map in the CAM view

    def __init__(self, session, client, settings, parent=None):
        super().__init__(session, client, settings, parent)
        self.info = QLabel("—")
        self.per_row = QSpinBox(minimum=0, maximum=256, value=settings.get("activations/per_row"))
        self.per_row.setSpecialValueText("auto")
        self.per_row.setToolTip("Channels per row (auto: a near-square grid)")
        self.normalise = combo(activation_view.NORMALISATIONS, settings.get("activations/normalise"),
                               "channel: each channel standardised on its own (shows structure)\n"
                               "layer: one min–max for the whole layer (compares channels)")
        self.colormap = combo(colormaps.NAMES, settings.get("activations/colormap"), "Colour map")
        self.dead = QLabel()
        self.dead.setToolTip("Channels that are zero everywhere for this image")
        self.add_controls(self.info, 1, caption("per row"), self.per_row, caption("normalise"),
                          self.normalise, caption("colour map"), self.colormap, self.dead)
        self.canvas = ImageCanvas("")
        self.canvas.setToolTip("Hover: channel and value · click: the channel alone · "
                               "Ctrl+click: its filter pattern · double-click: reset zoom")
        self.detail = ChannelDetail()
        self.examples = ExamplesStrip(client)  # the channel's top dataset crops, when indexed
        self.detail.layout().insertWidget(3, self.examples)
        self.add_picture(self.canvas, self.detail)
        self.readout = caption("hover over a channel for its value · click it to see it alone")
        self.readout.setWordWrap(True)  # a narrow window wraps it, not widens
        self.legend = ColorBar("low", "high", self.colormap.currentText())
        bottom = QHBoxLayout()
        bottom.addWidget(self.readout, 1)
        bottom.addWidget(self.legend)
        self.layout_.addLayout(bottom)

        self.act: np.ndarray | None = None  # (H, W, C) of `self.shown`
        self.shown: tuple | None = None  # (image, layer) of `act`
        self.picture: np.ndarray | None = None
        self._per_row = 1
        self._asked: tuple | None = None
        self._grid: GridPicture | None = None  # grey stage of the grid, for cheap recolouring
        self._grids: OrderedDict = OrderedDict()  # (image, layer, mode) -> GridPicture, recent

        client.subscribe(J.ActivationsReady, self._on_ready, channel=self.channel)
        session.sigModelChanged.connect(self._on_model_changed)
        session.sigImageChanged.connect(self.invalidate)
        session.sigLayerChanged.connect(self.invalidate)
        self.per_row.valueChanged.connect(self._on_option_changed)
        self.normalise.currentTextChanged.connect(self._on_option_changed)
        self.colormap.currentTextChanged.connect(self._on_option_changed)
        self._redraw_timer = QTimer(self, singleShot=True, interval=120)
        self._redraw_timer.timeout.connect(lambda: self.act is not None and self._draw())
        self.canvas.sigResized.connect(self._on_canvas_resized)
        self.canvas.sigHover.connect(self._on_hover)
        self.canvas.sigClicked.connect(self._on_clicked)
        self.detail.sigClose.connect(self.detail.hide)
        self.detail.sigStep.connect(lambda d: self.show_channel(self.detail.channel + d))
        self.detail.sigFilter.connect(self._on_filter_requested)
        self.detail.sigExplain.connect(
            lambda ch: self.shown is not None and ch >= 0 and self.sigExplainChannel.emit(self.shown[1], ch))

    # -- requests -------------------------------------------------------------------------
    def request(self) -> None:
        why = self.missing_input()
        if why:
            self.act = self.shown = self._asked = None
            self.canvas.show_message(why)
            self.info.setText("—")
            self.dead.setText("")
            self.detail.hide()
            return
        s = self.session
        wanted = (s.image, s.layer)
        if wanted == self.shown:
            self._draw()
            return
        self._asked = wanted
        info = s.layer_info()
        self.info.setText(f"<b>{info.path}</b> · {shape_text(info.output_shape)} · computing…")
        self.client.send(J.Activations(image=s.image, layer=s.layer))

    def _on_model_changed(self) -> None:
        self.act = self.shown = self._asked = None
        self._grids.clear()
        self.detail.hide()
        self.invalidate()

    def _on_ready(self, r: J.ActivationsReady) -> None:
        if self._asked is None or self._asked[1] != r.layer:
            return
        self.act, self.shown = r.activations, self._asked
        self.info.setText(f"<b>{r.layer}</b> · {shape_text(r.activations.shape)} · "
                          f"{1000 * r.seconds:.0f} ms")
        self._draw()
        if self.detail.isVisible():
            self.show_channel(min(self.detail.channel, self.act.shape[-1] - 1))

    def job_failed(self, result) -> None:
        self.canvas.show_message(result.message)
        self.info.setText("—")
        self.act = self.shown = None

    # -- drawing --------------------------------------------------------------------------
    def _on_option_changed(self, *_):
        self.settings.set("activations/per_row", self.per_row.value())
        self.settings.set("activations/normalise", self.normalise.currentText())
        self.settings.set("activations/colormap", self.colormap.currentText())
        self.legend.set_colormap(self.colormap.currentText())
        self.legend.set_text(*(("low", "high (each channel scaled on its own)")
                               if self.normalise.currentText() == "channel"
                               else ("layer min", "layer max")))
        if self.act is not None:
            self._draw()
            if self.detail.isVisible():
                self.show_channel(self.detail.channel)

    def _auto_per_row(self, act) -> int:
        """Per row for "auto": the layout whose tiles come out largest on this canvas (a
        512-channel layer on a wide canvas is a wide grid, not a 16-wide column)."""
        h, w, c = act.shape
        size = self.canvas.size()
        return fit_per_row(c, (h, w), MARGIN, (size.width(), size.height())) or \
            grid.default_per_row(c)

    def _on_canvas_resized(self) -> None:
        if self.act is not None and not self.per_row.value() and \
                self._auto_per_row(self.act) != self._per_row:
            self._redraw_timer.start()

    def _draw(self) -> None:
        act = self.act
        c = act.shape[-1]
        self._per_row = self.per_row.value() or self._auto_per_row(act)
        # as activation_view.render_grid, but gaps and empty cells in the canvas colour;
        # vectorised channels-last, and a colour-map change only recolours the grey grid
        mode = self.normalise.currentText()
        key = (self.shown, mode)  # back to a recent layer: its grid is already normalised
        g = self._grids.get(key)
        if g is None or g.shape != act.shape:
            g = self._grids[key] = GridPicture(act, mode, margin=MARGIN)
            while len(self._grids) > GRIDS_KEPT:
                self._grids.popitem(last=False)
        self._grids.move_to_end(key)
        self._grid = g
        self.picture = g.render(self._per_row, self.colormap.currentText(), GAP)
        self.canvas.set_image(self.picture)
        n_dead = len(activation_view.dead_channels(act))
        colour = "#b03030" if n_dead else "#555"
        self.dead.setText(f"<span style='color:{colour}'>dead: {n_dead} / {c}</span>")

    def channel_at(self, row: int, col: int) -> int | None:
        if self.act is None or row < 0:
            return None
        h, w, c = self.act.shape
        return grid.cell_at(row, col, (h, w), self._per_row, c, margin=MARGIN)

    def show_channel(self, channel: int) -> None:
        if self.act is None:
            return
        c = self.act.shape[-1]
        channel = channel % c
        mode = self.normalise.currentText()
        tiles = activation_view.normalise(self.act if mode == "layer" else self.act[..., [channel]],
                                          mode)
        u8 = tiles[channel if mode == "layer" else 0]
        picture = colormaps.apply_u8(u8, self.colormap.currentText())
        self.detail.show_channel(self.shown[1], self.act, channel, picture)
        self.examples.show_channel(self.shown[1], channel)
        self.reveal(self.detail)

    def _on_hover(self, row: int, col: int) -> None:
        ch = self.channel_at(row, col)
        if ch is None:
            return
        h, w, _ = self.act.shape
        y, x = row % (h + MARGIN), col % (w + MARGIN)
        self.readout.setText(f"channel {ch} · y {y}, x {x} · value {self.act[y, x, ch]:.4g}")

    def _on_clicked(self, row: int, col: int, modifiers) -> None:
        ch = self.channel_at(row, col)
        if ch is None:
            return
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            self._on_filter_requested(ch)
        else:
            self.show_channel(ch)

    def _on_filter_requested(self, channel: int) -> None:
        if self.shown is not None and channel >= 0:
            self.sigShowFilter.emit(self.shown[1], channel)

    def figure(self) -> np.ndarray | None:
        return self.picture if self.act is not None else None


def fit_per_row(n: int, tile_hw, margin: int, area_wh) -> int | None:
    """Tiles per row that make n tiles of `tile_hw` (+ margin) largest in an area of
    `area_wh` pixels (None when the area is not known yet). Every column count is tried:
    scale(cols) = min(W / (cols (w + m)), H / (rows (h + m))), rows = ceil(n / cols)."""
    W, H = area_wh
    if n < 1 or W < 16 or H < 16:
        return None
    h, w = (int(t) + margin for t in tile_hw)
    cols = np.arange(1, n + 1)
    rows = -(-n // cols)
    scale = np.minimum(W / (cols * w), H / (rows * h))
    best = np.flatnonzero(scale >= scale.max() * (1 - 1e-9))
    return int(cols[best[0]])  # the fewest columns among the best (fewer empty cells)
