"""The status bar's permanent part: device, the running job, its progress, Cancel."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


class JobStatus(QWidget):
    sigCancel = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.device = QLabel("device: —")
        self.device.setToolTip("Where TensorFlow computes")
        self.note = QLabel("")
        self.note.setStyleSheet("color: #a05a00;")
        self.note.setWordWrap(False)
        self.job = QLabel("")
        self.job.setMinimumWidth(220)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(True)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop the running computation (Esc)")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 4, 0)
        row.addWidget(self.device)
        row.addSpacing(12)
        row.addWidget(self.note)
        row.addWidget(self.job)
        row.addWidget(self.bar)
        row.addWidget(self.cancel)
        self.cancel.clicked.connect(self.sigCancel)
        self.set_job("")

    def set_device(self, text: str) -> None:
        self.device.setText(text)

    def set_note(self, text: str) -> None:
        """A lasting remark about the model (e.g. explored layer by layer: too big)."""
        self.note.setText("⚠ layer by layer" if text else "")
        self.note.setToolTip(text)

    def set_job(self, text: str) -> None:
        self.job.setText(text)
        busy = bool(text)
        self.bar.setVisible(busy)
        self.cancel.setEnabled(busy)
        if busy:
            self.bar.setRange(0, 0)  # busy until a progress report says how far
        else:
            self.bar.setRange(0, 1)
            self.bar.setValue(1)

    def set_progress(self, done: float, total: float, text: str) -> None:
        if text:
            self.job.setText(text)
        if total > 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * min(1.0, done / total)))
        else:
            self.bar.setRange(0, 0)


def brief(bar, text: str, reserved: int = 0) -> str:
    """`text` as one line that fits the status bar beside its permanent widgets (`reserved`
    px): elided at the end. A long message clipped at the device label read "... TIFF or
    VCPU (2 threads)"; the whole of it stays in the message bar above the views."""
    line = " ".join(text.split())
    room = max(80, bar.width() - reserved - 40)
    return bar.fontMetrics().elidedText(line, Qt.TextElideMode.ElideRight, room)
