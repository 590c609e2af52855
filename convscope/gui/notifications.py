"""One place for messages: a bar above the views that never blocks the window.

Errors from the engine (JobFailed), unexpected exceptions in slots (crash_guard) and
warnings all end up here; the bar keeps the latest, with an optional action ("open with
random weights") and, for internal errors, the traceback behind "Details".
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFrame, QSizePolicy, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton,
                               QToolButton)

STYLES = {
    "error": "background: #fdecea; border: 1px solid #e0a8a3; color: #611a15;",
    "warning": "background: #fff4e5; border: 1px solid #e8c28a; color: #663c00;",
    "info": "background: #e8f4fd; border: 1px solid #a6cde8; color: #0d3c61;",
}
ICONS = {"error": "⛔", "warning": "⚠", "info": "ℹ"}


class NotificationBar(QFrame):
    sigShown = Signal(str, str)  # level, text (tests and the status bar listen)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.icon = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        # a long message (a path has no spaces to wrap at) must not widen the window: the
        # label takes the width it is given; the whole text is in its tooltip
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.text.setMinimumWidth(40)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QPushButton()
        self.details_button = QPushButton("Details")
        close = QToolButton(text="×", toolTip="Dismiss")
        close.setAutoRaise(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 4, 4)
        row.addWidget(self.icon)
        row.addWidget(self.text, 1)
        row.addWidget(self.action)
        row.addWidget(self.details_button)
        row.addWidget(close)
        close.clicked.connect(self.hide)
        self.details_button.clicked.connect(self._show_details)
        self.action.clicked.connect(self._run_action)
        self._callback = None
        self._details = ""
        self._details_window: QPlainTextEdit | None = None
        self.level = ""
        self.hide()

    def show_message(self, text: str, level: str = "error", action: str = "", callback=None,
                     details: str = "") -> None:
        self.level = level
        self.setStyleSheet(f"NotificationBar {{{STYLES.get(level, STYLES['info'])}}}")
        self.icon.setText(ICONS.get(level, ""))
        self.text.setText(text)
        self.text.setToolTip(text)
        self._callback = callback
        self.action.setText(action)
        self.action.setVisible(bool(action and callback))
        self._details = details
        self.details_button.setVisible(bool(details))
        self.show()
        self.sigShown.emit(level, text)

    def current_text(self) -> str:
        return self.text.text() if self.isVisible() else ""

    def _run_action(self) -> None:
        callback, self._callback = self._callback, None
        self.hide()
        if callback is not None:
            callback()

    def _show_details(self) -> None:
        if self._details_window is None:
            self._details_window = QPlainTextEdit()
            self._details_window.setReadOnly(True)
            self._details_window.setWindowTitle("ConvScope — error details")
            self._details_window.resize(760, 420)
        self._details_window.setPlainText(self._details)
        self._details_window.show()
        self._details_window.raise_()
