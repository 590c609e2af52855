"""Top predictions as labelled bars; clicking a row picks that class for the CAM views."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

ROW = 24
BAR = QColor("#3d8bd9")
TRACK = QColor("#e4e7eb")


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
        label_w = int(w * 0.38)
        value_w = p.fontMetrics().horizontalAdvance("0.0000") + 8
        scale = self._scale()
        metrics = p.fontMetrics()
        for i, pred in enumerate(self.predictions):
            y = 2 + i * ROW
            text = metrics.elidedText(pred.label, Qt.TextElideMode.ElideRight, label_w - 8)
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

    def mousePressEvent(self, event) -> None:
        i = int(event.position().y() - 2) // ROW
        if 0 <= i < len(self.predictions):
            self.sigClassClicked.emit(int(self.predictions[i].index))
