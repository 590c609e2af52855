"""The model's layers as a Qt tree: a QAbstractItemModel over the engine's LayerInfo list.

Nested models are parents of their layers (paths `outer/inner`). Columns: name, type,
output shape, parameters. Layers with an (H, W, C) output — the ones the views can draw —
carry a green dot; the others are greyed. The default CAM layer carries a ring.
`LayerFilter` keeps a row when it or any child matches the filter text.
"""
from __future__ import annotations

from PySide6.QtCore import (QAbstractItemModel, QModelIndex, QSortFilterProxyModel, Qt)
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap

COLUMNS = ("layer", "type", "output", "params")
SPATIAL_COLOUR = QColor("#3cb371")
MUTED = QColor("#8a8a8a")


class _Node:
    __slots__ = ("info", "parent", "children", "row")

    def __init__(self, info, parent):
        self.info, self.parent, self.children, self.row = info, parent, [], 0


def shape_text(shape) -> str:
    if not shape:
        return "?"
    return "×".join("?" if d is None else str(d) for d in shape)


def visualisable(info) -> bool:
    """A layer the views can draw: an (H, W, C) output that a layer computes (an input
    layer only passes the image on, and the engine records only computed outputs)."""
    return info.spatial and info.class_name != "InputLayer"


def _dot(colour: QColor, ring: bool = False) -> QIcon:
    pm = QPixmap(14, 14)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    if ring:
        p.setPen(colour.darker(140))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawEllipse(1, 1, 11, 11)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colour)
    p.drawEllipse(4, 4, 6, 6) if ring else p.drawEllipse(3, 3, 8, 8)
    p.end()
    return QIcon(pm)


class LayerTreeModel(QAbstractItemModel):
    PathRole = Qt.ItemDataRole.UserRole + 1
    SpatialRole = Qt.ItemDataRole.UserRole + 2

    def __init__(self, parent=None):
        super().__init__(parent)
        self._root = _Node(None, None)
        self._by_path: dict[str, _Node] = {}
        self._default: str | None = None
        self._icons = None

    def set_layers(self, layers, default_layer: str | None = None) -> None:
        self.beginResetModel()
        self._root = _Node(None, None)
        self._by_path = {}
        self._default = default_layer
        for info in layers:
            parent = self._by_path.get(info.parent, self._root) if info.parent else self._root
            node = _Node(info, parent)
            node.row = len(parent.children)
            parent.children.append(node)
            self._by_path[info.path] = node
        self.endResetModel()

    def index_of(self, path: str) -> QModelIndex:
        node = self._by_path.get(path)
        if node is None:
            return QModelIndex()
        return self.createIndex(node.row, 0, node)

    def paths(self) -> list[str]:
        return list(self._by_path)

    # -- QAbstractItemModel ---------------------------------------------------------------
    def index(self, row, column, parent=QModelIndex()):
        node = parent.internalPointer() if parent.isValid() else self._root
        if 0 <= row < len(node.children) and 0 <= column < len(COLUMNS):
            return self.createIndex(row, column, node.children[row])
        return QModelIndex()

    def parent(self, index=QModelIndex()):
        if not index.isValid():
            return QModelIndex()
        parent = index.internalPointer().parent
        if parent is None or parent is self._root:
            return QModelIndex()
        return self.createIndex(parent.row, 0, parent)

    def rowCount(self, parent=QModelIndex()):
        if parent.isValid() and parent.column() != 0:
            return 0
        node = parent.internalPointer() if parent.isValid() else self._root
        return len(node.children)

    def columnCount(self, parent=QModelIndex()):
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        info = index.internalPointer().info
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (info.name, info.class_name, shape_text(info.output_shape),
                    f"{info.params:,}")[col]
        if role == self.PathRole:
            return info.path
        if role == self.SpatialRole:
            return visualisable(info)
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return self._icon(info)
        if role == Qt.ItemDataRole.ForegroundRole and not visualisable(info):
            return QBrush(MUTED)
        if role == Qt.ItemDataRole.FontRole and info.is_container:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(info)
        return None

    def _icon(self, info):
        if self._icons is None:
            self._icons = {"spatial": _dot(SPATIAL_COLOUR), "default": _dot(SPATIAL_COLOUR, True),
                           "flat": QIcon()}
        if info.path == self._default:
            return self._icons["default"]
        return self._icons["spatial" if visualisable(info) else "flat"]

    def _tooltip(self, info) -> str:
        lines = [f"<b>{info.path}</b> — {info.class_name}",
                 f"output {shape_text(info.output_shape)}, {info.params:,} parameters"]
        if info.is_container:
            lines.append("a nested model: expand it to reach its layers")
        if visualisable(info):
            lines.append("● activations, filter patterns and CAMs can be shown for this layer")
        elif info.class_name == "InputLayer":
            lines.append("the input: it passes the image on; pick a later layer")
        else:
            lines.append("no (H, W, C) output: the views need a layer marked ●")
        if info.path == self._default:
            lines.append("◎ default layer for class activation maps")
        return "<br>".join(lines)


class LayerFilter(QSortFilterProxyModel):
    """Case-insensitive match on any column; parents of matches stay visible."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)
