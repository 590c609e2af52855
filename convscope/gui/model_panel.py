"""The left panel: what model is open (summary) and its layers (filterable tree)."""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtWidgets import (QDockWidget, QMainWindow, QFormLayout, QFrame, QHeaderView, QLabel, QLineEdit,
                               QTreeView, QVBoxLayout, QWidget)

from .layer_tree import LayerFilter, LayerTreeModel, shape_text


MAX_TREE_WIDTH = 460  # px the layer table may ask for; past it, names elide in the middle


class ModelPanel(QWidget):
    sigLayerSelected = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.summary = QFrame()
        self.summary.setFrameShape(QFrame.Shape.StyledPanel)
        self.form = QFormLayout(self.summary)
        self.form.setContentsMargins(8, 6, 8, 6)
        self.form.setVerticalSpacing(3)
        self.fields: dict[str, QLabel] = {}
        for key in ("model", "input", "head", "params", "device"):
            label = QLabel("—")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.fields[key] = label
            self.form.addRow(f"<span style='color:#777'>{key}</span>", label)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #a05a00;")
        self.note.hide()
        self.form.addRow(self.note)

        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter layers (name, type, shape)…")
        self.filter.setClearButtonEnabled(True)
        self.tree_model = LayerTreeModel(self)
        self.proxy = LayerFilter(self)
        self.proxy.setSourceModel(self.tree_model)
        self.tree = QTreeView()
        self.tree.setModel(self.proxy)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setAllColumnsShowFocus(True)
        self.tree.setIndentation(14)
        header = self.tree.header()
        # type, output and parameters as wide as their longest text, so nothing is cut to
        # "Co…": the panel asks for the width of every column (fit_columns); in a narrower
        # dock the layer name gives way first (elided in its middle, its full path in the
        # tooltip) — a right-aligned count cut at the edge read "147,58" for 147,584 — and
        # only below the name's minimum does the table scroll sideways
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header.setMinimumSectionSize(40)
        legend = QLabel("<span style='color:#3cb371'>●</span> can be visualised &nbsp; "
                        "<span style='color:#3cb371'>◎</span> default CAM layer &nbsp; "
                        "↑/↓ walk the layers")
        legend.setStyleSheet("color: #777; font-size: 11px;")
        legend.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree, 1)
        layout.addWidget(legend)

        self.filter.textChanged.connect(self._on_filter_changed)
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)

    # -- filling --------------------------------------------------------------------------
    def show_loading(self, text: str) -> None:
        self.fields["model"].setText(text)

    def set_device(self, device: str) -> None:
        self.fields["device"].setText(device or "—")

    def set_model(self, loaded) -> None:
        s = loaded.summary
        self.fields["model"].setText(f"<b>{s.name}</b><br><span style='color:#777'>"
                                     f"{s.source}</span>")
        self.fields["input"].setText(f"{shape_text(s.input_shape)}  "
                                     f"(preprocess: {s.preprocess})")
        self.fields["head"].setText(s.head.describe() if s.head.classes else
                                    f"none: outputs {shape_text(s.head.output_shape)}")
        self.fields["head"].setToolTip(s.head.reason)
        self.fields["params"].setText(f"{s.params:,}" if s.params is not None else "—")
        self.fields["device"].setText(s.device or "—")
        notes = [n for n in (s.note, s.outputs_note(), loaded.cam_note) if n]
        self.note.setText("\n".join(dict.fromkeys(notes)))
        self.note.setVisible(bool(notes))
        self.tree_model.set_layers(s.layers, s.default_cam_layer)
        self.tree.expandAll()
        self.fit_columns()

    def fit_columns(self) -> None:
        """Ask for the width every column's longest text needs (up to MAX_TREE_WIDTH)."""
        header = self.tree.header()
        need = sum(max(self.tree.sizeHintForColumn(c), header.sectionSizeHint(c))
                   for c in range(self.tree_model.columnCount()))
        need += self.tree.verticalScrollBar().sizeHint().width() + 2 * self.tree.frameWidth() + 6
        self._wanted = min(need, MAX_TREE_WIDTH)
        self.updateGeometry()
        dock = self.parentWidget()
        window = dock.parentWidget() if isinstance(dock, QDockWidget) else None
        short = self._wanted + 8 - (dock.width() if dock is not None else 0)
        if isinstance(window, QMainWindow) and short > 0 and not window.isMaximized():
            # widen the dock once (the user may narrow it again); if the window is at its
            # minimum width, grow it as far as its screen allows
            screen = window.screen().availableGeometry() if window.screen() else None
            if screen is not None and window.width() + short <= screen.width():
                window.resize(window.width() + short, window.height())
            window.resizeDocks([dock], [self._wanted + 8], Qt.Orientation.Horizontal)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(max(hint.width(), getattr(self, "_wanted", 0)), hint.height())

    def select(self, path: str | None) -> None:
        if not path:
            return
        index = self.proxy.mapFromSource(self.tree_model.index_of(path))
        if index.isValid():
            self.tree.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)
            self.tree.scrollTo(index)

    def current_path(self) -> str | None:
        index = self.tree.currentIndex()
        return index.data(LayerTreeModel.PathRole) if index.isValid() else None

    # -- slots ----------------------------------------------------------------------------
    def _on_filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self.tree.expandAll()

    def _on_current_changed(self, current, _previous) -> None:
        path = current.data(LayerTreeModel.PathRole) if current.isValid() else None
        if path:
            self.sigLayerSelected.emit(path)
