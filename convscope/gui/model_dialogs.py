"""Choosing a model: a file, or a built-in keras.applications architecture."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QLabel,
                               QListWidget, QListWidgetItem, QVBoxLayout)

from convscope.engine.builtin_models import BUILTINS
from convscope.engine.loading import MODEL_SUFFIXES

MODEL_FILTER = f"Keras models ({' '.join('*' + s for s in MODEL_SUFFIXES)});;All files (*)"


def builtin_spec(name: str, random_weights: bool, include_top: bool = True) -> str:
    """builtin:NAME[?weights=none][&include_top=false] (engine.loading's grammar)."""
    query = [q for q, on in (("weights=none", random_weights), ("include_top=false", not include_top)) if on]
    return f"builtin:{name}" + ("?" + "&".join(query) if query else "")


def ask_model_file(parent, start_dir: str = "") -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Open a Keras model", start_dir, MODEL_FILTER)
    return path or None


class BuiltinDialog(QDialog):
    """A list of architectures; ImageNet weights (downloaded once) or random ones."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Built-in architecture")
        self.list = QListWidget()
        for name, arch in BUILTINS.items():
            item = QListWidgetItem(f"{arch.ctor}   ·   {arch.side}×{arch.side}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.random = QCheckBox("random weights (no download; the structure only)")
        self.include_top = QCheckBox("include the classifier (include_top)", checked=True)
        self.include_top.setToolTip("Unchecked: the convolutional base only, as DLwP §5.4 "
                                    "loads VGG16 for filter patterns (any input size; no "
                                    "predictions, no class maps)")
        note = QLabel("ImageNet weights are downloaded by Keras the first time and cached "
                      "(~/.keras/models). Offline without a cached copy, choose random "
                      "weights: activations and filters still show the architecture.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #666;")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open
                                   | QDialogButtonBox.StandardButton.Cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.random)
        layout.addWidget(self.include_top)
        layout.addWidget(note)
        layout.addWidget(buttons)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(self.accept)
        self.resize(420, 480)

    def spec(self) -> str | None:
        item = self.list.currentItem()
        if item is None:
            return None
        return builtin_spec(item.data(Qt.ItemDataRole.UserRole), self.random.isChecked(),
                            self.include_top.isChecked())
