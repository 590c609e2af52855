"""Top predictions as labelled bars; clicking a row picks that class for the CAM views."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

ROW = 24
BAR = QColor("#3d8bd9")
TRACK = QColor("#e4e7eb")
LABEL_SHARE = 0.62  # the labels may take up to this share of the width ...
MIN_BAR = 40  # ... as long as the bars keep this many px


class PredictionBars(QWidget):
    sigClassClicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.predictions: tuple = ()
        self.message = "no predictions yet"
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(ROW * 5 + 4)
        self.setToolTip("Top predictions for the current image — click one to see its class "
                        "activation map")

    def set_predictions(self, predictions) -> None:
        self.predictions = tuple(predictions)
        self.message = "" if self.predictions else "no predictions"
        self.update()

    def set_message(self, text: str) -> None:
        self.predictions = ()
        self.message = text
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(260, ROW * 5 + 4)

    def _scale(self) -> float:
        top = max((abs(p.score) for p in self.predictions), default=1.0)
        return 1.0 if 0 <= min(p.score for p in self.predictions) and top <= 1.0 else top or 1.0

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w = self.width()
        if not self.predictions:
            p.setPen(QColor("#888"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
            return
        label_w, value_w = self._columns()
        scale = self._scale()
        texts = self.shown_labels()
        for i, pred in enumerate(self.predictions):
            y = 2 + i * ROW
            text = texts[i]
            p.setPen(self.palette().text().color())
            p.drawText(QRect(4, y, label_w - 8, ROW - 4),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
            p.drawText(QRect(w - value_w, y, value_w - 4, ROW - 4),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                       f"{pred.score:.3f}")
            track = QRect(label_w, y + 5, w - label_w - value_w - 4, ROW - 12)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(TRACK)
            p.drawRoundedRect(track, 3, 3)
            frac = max(0.0, min(1.0, pred.score / scale))
            p.setBrush(BAR)
            p.drawRoundedRect(QRect(track.x(), track.y(), max(2, int(track.width() * frac)),
                                    track.height()), 3, 3)

    def _columns(self) -> tuple[int, int]:
        """(label width, value width) in px: the labels get what their longest needs, up to
        LABEL_SHARE of the widget, so the bars keep MIN_BAR px."""
        metrics = self.fontMetrics()
        value_w = metrics.horizontalAdvance("0.0000") + 8
        longest = max((metrics.horizontalAdvance(p.label) for p in self.predictions), default=0)
        room = self.width() - value_w - MIN_BAR
        label_w = max(int(self.width() * 0.3), min(longest + 12, int(self.width() * LABEL_SHARE), room))
        return label_w, value_w

    def shown_labels(self) -> list[str]:
        """The labels as drawn (elided with … only when even the widest label column is
        too narrow; the row's tooltip then has the whole label)."""
        label_w, _ = self._columns()
        metrics = self.fontMetrics()
        return [metrics.elidedText(p.label, Qt.TextElideMode.ElideRight, label_w - 8)
                for p in self.predictions]

    def row_at(self, y: float) -> int | None:
        i = int(y - 2) // ROW
        return i if 0 <= i < len(self.predictions) else None

    def tooltip_at(self, y: float) -> str:
        i = self.row_at(y)
        if i is None:
            return self.toolTip()
        pred = self.predictions[i]
        return f"<b>{pred.label}</b> (class {pred.index}) · {pred.score:.4f} — click for its map"

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            QToolTip.showText(event.globalPos(), self.tooltip_at(event.pos().y()), self)
            return True
        return super().event(event)

    def mousePressEvent(self, event) -> None:
        i = int(event.position().y() - 2) // ROW
        if 0 <= i < len(self.predictions):
            self.sigClassClicked.emit(int(self.predictions[i].index))
