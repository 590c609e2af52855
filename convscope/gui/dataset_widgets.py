"""Widgets for dataset work: the run and index dialogs, the results window (a sortable
table and the summary figure), and the strip of a channel's top dataset crops."""
from __future__ import annotations

import os
import shutil

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPushButton, QScrollArea, QSpinBox, QSplitter,
                               QTableView, QVBoxLayout, QWidget)

from convscope.engine.dataset import defaults as DATASET_DEFAULTS
from convscope.engine.dataset.jobs import DatasetBatch, DatasetIndex

from .qimage import to_pixmap

METRICS = DATASET_DEFAULTS.METRICS
COLUMNS = ("path", "method", "predicted_label", "explained_label", "score", "deletion_auc",
           "insertion_auc", "average_drop", "increase_in_confidence", "pointing_game",
           "energy_pointing_game")


def _path_row(edit: QLineEdit, parent, folder_caption: str, csv: bool = True) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    b = QPushButton("Folder…")
    b.clicked.connect(lambda: edit.setText(
        QFileDialog.getExistingDirectory(parent, folder_caption) or edit.text()))
    row.addWidget(b)
    if csv:
        c = QPushButton("List (CSV)…")
        c.clicked.connect(lambda: edit.setText(QFileDialog.getOpenFileName(
            parent, "A list of images", "", "CSV (*.csv)")[0] or edit.text()))
        row.addWidget(c)
    return row


class RunFolderDialog(QDialog):
    """Tools → Run over a folder…: what `convscope batch` asks, as a form."""

    def __init__(self, methods, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Run over a folder")
        self.images = QLineEdit()
        self.images.setPlaceholderText("a folder of images, a glob pattern, or a LIST.csv")
        self.out = QLineEdit()
        self.out.setPlaceholderText("a new (or, to resume, the same) run folder")
        self.methods = QListWidget()
        for m in methods:
            item = QListWidgetItem(m)
            item.setCheckState(Qt.CheckState.Checked if m == "gradcam" else Qt.CheckState.Unchecked)
            self.methods.addItem(item)
        self.methods.setMaximumHeight(140)
        self.metrics = {m: QCheckBox(m) for m in METRICS}
        mrow = QHBoxLayout()
        for box in self.metrics.values():
            box.setChecked(True)
            mrow.addWidget(box)
        self.metrics["pointing"].setToolTip("needs boxes or masks (LIST.csv)")
        self.metrics["energy"].setToolTip("needs boxes or masks (LIST.csv)")
        self.class_mode = QComboBox()
        self.class_mode.addItems(["top", "label"])
        self.class_mode.setToolTip("explain the top prediction, or the list's label")
        self.steps = QSpinBox(minimum=1, maximum=200, value=DATASET_DEFAULTS.CURVE_STEPS)
        self.steps.setToolTip("deletion / insertion curve steps")
        self.resume = QCheckBox("resume an interrupted run in this folder")
        form = QFormLayout(self)
        form.addRow("Images", _path_row(self.images, self, "Folder of images"))
        form.addRow("Run folder", _path_row(self.out, self, "Run folder", csv=False))
        form.addRow("Methods", self.methods)
        form.addRow("Metrics", mrow)
        form.addRow("Explain", self.class_mode)
        form.addRow("Curve steps", self.steps)
        form.addRow("", self.resume)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def job(self) -> DatasetBatch:
        methods = tuple(self.methods.item(i).text() for i in range(self.methods.count())
                        if self.methods.item(i).checkState() == Qt.CheckState.Checked)
        return DatasetBatch(images=self.images.text().strip(), out=self.out.text().strip(),
                            methods=methods or ("gradcam",),
                            metrics=tuple(m for m, b in self.metrics.items() if b.isChecked()),
                            class_mode=self.class_mode.currentText(), steps=self.steps.value(),
                            resume=self.resume.isChecked())


class IndexFolderDialog(QDialog):
    """Tools → Index a folder…: the top dataset examples of every channel of a layer."""

    def __init__(self, layers, current: str | None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Index a folder")
        self.images = QLineEdit()
        self.layer = QComboBox()
        self.layer.addItems(list(layers))
        if current in layers:
            self.layer.setCurrentText(current)
        self.top = QSpinBox(minimum=1, maximum=64, value=9)
        form = QFormLayout(self)
        form.addRow("Images", _path_row(self.images, self, "Folder of images"))
        form.addRow("Layer", self.layer)
        form.addRow("Examples per channel", self.top)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def job(self) -> DatasetIndex:
        return DatasetIndex(images=self.images.text().strip(), layer=self.layer.currentText(),
                            top=self.top.value())


class ResultsWindow(QWidget):
    """A run's rows in a sortable table beside its summary figure."""

    sigRowChosen = Signal(str, str)  # image path, method

    def __init__(self, parent=None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Dataset run")
        self.run_dir = ""
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.setToolTip("Click a row: that image in the CAM view with that method")
        self.figure = QLabel()
        self.figure.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidget(self.figure)
        scroll.setWidgetResizable(True)
        self.info = QLabel()
        export = QPushButton("Export summary…")
        export.setToolTip("Save the summary figure (PDF) and table")
        export.clicked.connect(self.ask_export)
        top = QHBoxLayout()
        top.addWidget(self.info, 1)
        top.addWidget(export)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(scroll)
        box = QVBoxLayout(self)
        box.addLayout(top)
        box.addWidget(split, 1)
        self.table.clicked.connect(self._on_clicked)
        self.resize(1100, 800)

    def set_result(self, r) -> None:
        self.run_dir = r.run_dir
        self.model.setRowCount(0)
        for row in r.rows:
            items = []
            for col in COLUMNS:
                v = row.get(col)
                shown = os.path.basename(v) if col == "path" and v else v
                if isinstance(v, float):
                    shown = "" if v != v else f"{v:.4f}"
                item = QStandardItem("" if shown is None else str(shown))
                item.setData(v if not (isinstance(v, float) and v != v) else float("-inf"),
                             Qt.ItemDataRole.UserRole)
                if col == "path":
                    item.setData(v, Qt.ItemDataRole.UserRole + 1)
                    item.setToolTip(v)
                items.append(item)
            self.model.appendRow(items)
        self.table.resizeColumnsToContents()
        if r.figure is not None:
            self.figure.setPixmap(to_pixmap(r.figure))
        self.info.setText(f"<b>{len(r.rows)}</b> rows · {r.errors} file(s) in errors.csv · "
                          f"{r.seconds:.1f} s · {r.run_dir}")

    def _on_clicked(self, index) -> None:
        src = self.proxy.mapToSource(index)
        path = self.model.item(src.row(), 0).data(Qt.ItemDataRole.UserRole + 1)
        method = self.model.item(src.row(), 1).text()
        if path:
            self.sigRowChosen.emit(path, method)

    def ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export summary", "summary.pdf", "PDF (*.pdf)")
        if path:
            self.export_to(path)

    def export_to(self, path: str) -> None:
        shutil.copyfile(os.path.join(self.run_dir, "summary.pdf"), path)
        stem = os.path.splitext(path)[0]
        shutil.copyfile(os.path.join(self.run_dir, "summary.csv"), stem + ".csv")


class ExamplesStrip(QWidget):
    """A channel's top dataset crops (from a stored index), or nothing when there is none."""

    def __init__(self, client, parent=None):
        super().__init__(parent)
        from convscope.engine.dataset.jobs import ExamplesReady

        self.client = client
        self.title = QLabel()
        self.row = QHBoxLayout()
        self.row.setContentsMargins(0, 0, 0, 0)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 4, 0, 0)
        box.addWidget(self.title)
        box.addLayout(self.row)
        self.labels: list[QLabel] = []
        self.shown: tuple = ()
        self._asked: tuple | None = None
        self._job_id = None
        client.subscribe(ExamplesReady, self._on_ready)
        self.hide()

    def show_channel(self, layer: str, channel: int) -> None:
        from convscope.engine.dataset.jobs import FindExamples

        self._asked = (layer, int(channel))
        self._job_id = self.client.send(FindExamples(layer=layer, unit=int(channel)))

    def refresh(self) -> None:
        """Ask again (an index was just built)."""
        if self._asked is not None:
            self.show_channel(*self._asked)

    def _on_ready(self, r) -> None:
        if r.job_id != self._job_id:  # another strip's request
            return
        self.shown = (r.layer, r.unit, len(r.crops))
        for label in self.labels:
            label.deleteLater()
        self.labels = []
        if not r.found or not r.crops:
            self.hide()
            return
        self.title.setText(f"Dataset examples of channel {r.unit} (top {len(r.crops)}, "
                           "receptive-field crops)")
        for crop, text in zip(r.crops, r.captions):
            label = QLabel()
            label.setPixmap(to_pixmap(crop))
            label.setToolTip(text)
            self.row.addWidget(label)
            self.labels.append(label)
        self.show()
