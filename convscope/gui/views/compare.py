"""Compare methods: every CAM method and pixel attribution side by side, same image,
layer and class.

The engine computes the methods one after another (one job), the fast ones first and the
long ones (one pass per channel, mask or position) last, and streams each map as it is
done (Cancel in the status bar stops the rest); a method that does not apply to this
model says why in its tile.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap, QTextOption
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from convscope.engine import jobs as J
from convscope.engine.cam import registry

from ..canvas import BACKGROUND
from ..qimage import from_qimage, to_pixmap
from .base import CANCELLED, View
from .cam_options import CamControls, compare_order, draw


class PictureTile(QWidget):
    """A method's name, its overlay scaled to fit (aspect kept), and a note."""

    sigClicked = Signal()

    def mousePressEvent(self, event) -> None:
        self.sigClicked.emit()
        super().mousePressEvent(event)

    def __init__(self, method: str, parent=None):
        super().__init__(parent)
        self.method = method
        self.pixmap: QPixmap | None = None
        self.overlay: np.ndarray | None = None
        self.text = "waiting…"
        self.note = ""
        self.warning = ""
        self.setMinimumSize(100, 100)  # 5 columns fit beside both docks at 1280 px
        self.setToolTip(registry.tip(method))

    def sizeHint(self) -> QSize:
        return QSize(220, 220)

    def set_overlay(self, overlay: np.ndarray, note: str) -> None:
        self.overlay, self.pixmap, self.note, self.text = overlay, to_pixmap(overlay), note, ""
        self.setToolTip(registry.tip(self.method) + (f"\n{note}" if note else ""))
        self.warning = ""
        self.update()

    def set_text(self, text: str) -> None:
        self.overlay, self.pixmap, self.text, self.note = None, None, text, ""
        self.warning = ""
        self.update()

    def set_warning(self, text: str) -> None:
        """A sentence over the picture (an empty map says so)."""
        self.warning = text
        self.update()

    HEADER_GAP = 8  # px between the method's name and its time

    def header(self, width: int) -> tuple[str, str]:
        """The name and the time as drawn in `width` px: both when they fit side by side,
        else the name alone (elided if it must be; the time is in the tooltip)."""
        fm = self.fontMetrics()
        name = registry.title(self.method)
        if fm.horizontalAdvance(name) + self.HEADER_GAP + fm.horizontalAdvance(self.note) <= width:
            return name, self.note
        return fm.elidedText(name, Qt.TextElideMode.ElideRight, width), ""

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(BACKGROUND))
        p.setPen(QColor("#eeeeee"))
        title = QRect(6, 2, self.width() - 12, 20)
        name, note = self.header(title.width())
        p.drawText(title, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        p.setPen(QColor("#a0a0a0"))
        p.drawText(title, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, note)
        area = self.rect().adjusted(4, 24, -4, -4)
        if self.pixmap is None:  # long words ("GlobalAveragePooling2D") break, not run off
            option = QTextOption(Qt.AlignmentFlag.AlignCenter)
            option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
            p.drawText(QRectF(area), self.text, option)
            return
        scaled = self.pixmap.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, scaled.width(), scaled.height())
        target.moveCenter(area.center())
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawPixmap(target, self.pixmap)
        if self.warning:
            band = QRect(target.left(), target.top(), target.width(), 22)
            p.fillRect(band, QColor(20, 20, 20, 200))
            p.setPen(QColor("#ffd479"))
            p.drawText(band, Qt.AlignmentFlag.AlignCenter, self.warning)


class CompareView(View):
    key, title, channel = "compare", "Compare methods", "compare"

    def __init__(self, session, client, settings, options, parent=None):
        super().__init__(session, client, settings, parent)
        self.options = options
        self.cam_controls = CamControls(options, session)
        self.add_controls(self.cam_controls, 1)
        self.board = QWidget()
        self.grid = QGridLayout(self.board)
        self.grid.setSpacing(4)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.message = QLabel()
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"background: {BACKGROUND}; color: #c8c8c8; padding: 24px;")
        self.info = QLabel()
        self.info.setStyleSheet("color: #555;")
        self.info.setWordWrap(True)  # a narrow window wraps it, not widens
        box = QVBoxLayout()
        box.addWidget(self.board, 1)
        box.addWidget(self.message, 1)
        self.layout_.addLayout(box, 1)
        self.layout_.addWidget(self.info)
        self.tiles: dict[str, PictureTile] = {}
        self.results: dict[str, J.CamReady] = {}
        self._asked = None  # what the tiles show: (model, image, layer, class, methods)

        client.subscribe(J.CamReady, self._on_ready, channel=self.channel)
        session.sigModelChanged.connect(self.invalidate)
        session.sigImageChanged.connect(self.invalidate)
        session.sigLayerChanged.connect(lambda: options.follow_tree and self.invalidate())
        options.sigChanged.connect(self.invalidate)
        options.sigLookChanged.connect(self._redraw)
        self._say("")

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.board.setVisible(not text)

    def _layout_tiles(self, methods) -> None:
        for tile in self.tiles.values():
            self.grid.removeWidget(tile)
            tile.deleteLater()
        self.tiles = {m: PictureTile(m) for m in methods}
        for tile in self.tiles.values():
            tile.sigClicked.connect(lambda: self.was_cancelled and self.compute_again())
        cols = max(1, math.ceil(math.sqrt(len(methods))))
        for i, m in enumerate(methods):
            self.grid.addWidget(self.tiles[m], i // cols, i % cols)

    def request(self) -> None:
        why = self.missing_input(need_spatial_layer=self.options.follow_tree)
        methods = compare_order(self.session.model.cam_methods) if self.session.model else ()
        if not why and not methods:
            why = self.session.model.cam_note or "No class activation map methods available."
        if why:
            self.results, self._asked = {}, None
            self._say(why)
            self.info.setText("")
            return
        self._say("")
        s = self.session
        layer = s.layer if self.options.follow_tree else None
        asked = (s.model, s.image, layer, self.options.class_index, tuple(methods),
                 self.options.target.spec)
        if self._same(asked) and self.results:
            # the same question (a cancelled or left run asked again): resume, keep the
            # finished maps and compute only the others
            todo = [m for m in methods if m not in self.results]
            for m in todo:
                self.tiles[m].set_text("waiting…")
        else:
            self.results, self._asked, todo = {}, asked, list(methods)
            self._layout_tiles(methods)
        if not todo:
            return
        self.info.setText(f"computing {len(todo)} of {len(methods)} methods…")
        self.client.send(J.CompareCams(image=s.image, methods=tuple(todo), layer=layer,
                                       class_index=self.options.class_index,
                                       target=self.options.target.spec))

    def _same(self, asked) -> bool:
        old = self._asked
        return old is not None and old[0] is asked[0] and old[1] is asked[1] and old[2:] == asked[2:]

    def show_cancelled(self) -> None:
        """Finished maps stay; the others say so and a click computes only them."""
        for m, tile in self.tiles.items():
            if m not in self.results:
                tile.set_text(CANCELLED)
        self.info.setText(f"cancelled — {len(self.results)}/{len(self.tiles)} methods done; "
                          "click a tile to compute the rest")

    def _on_ready(self, r: J.CamReady) -> None:
        if r.method not in self.tiles:
            return
        self.results[r.method] = r
        self._draw_tile(r)
        done = [x for x in self.results.values() if not x.error]
        if done:
            first = done[0]
            what = (f"explains <b>{first.label}</b> (target {first.target})" if first.target
                    else f"class <b>{first.label}</b> ({first.class_index})")
            self.info.setText(f"image {self.session.image.name} · layer {first.layer} · {what} · "
                              f"{len(self.results)}/{len(self.tiles)} methods done")

    def _draw_tile(self, r: J.CamReady) -> None:
        tile = self.tiles[r.method]
        if r.error or r.heatmap is None:
            tile.set_text(f"does not apply here:\n{r.error}")
        else:
            tile.set_overlay(draw(r, self.options.alpha, self.options.colormap),
                             f"{1000 * r.seconds:.0f} ms")
            if r.no_evidence:
                tile.set_warning(f"no evidence for {r.label}")

    def _redraw(self) -> None:
        for r in self.results.values():
            if r.method in self.tiles:
                self._draw_tile(r)

    def job_failed(self, result) -> None:
        self._say(result.message)

    def figure(self) -> np.ndarray | None:
        if not self.results:
            return None
        return from_qimage(self.board.grab().toImage())
