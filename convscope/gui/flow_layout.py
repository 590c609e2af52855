"""A row of controls that wraps onto more rows when the window is narrow.

The views' option rows (method, class, layer, alpha, colour map, ...) were one QHBoxLayout
each: the widest (Live's) made the whole window at least ~1540 px wide, which squeezed the
side docks on a 1366- or 1440-px screen and made a 1280-px one impossible. A FlowLayout
lays its items left to right and starts a new row when the next one does not fit, so its
minimum width is its widest single unit, not the sum.

- `add_widget(w, keep_with_next=True)` glues `w` to the item after it: a caption and its
  control never end up on different rows.
- `add_stretch(factor)` is a stretch as in QBoxLayout: a row's spare width goes to the
  stretches on that row (none: the row is left-aligned).
- It has height-for-width, so the view's vertical layout gives it as many rows as its
  width needs.
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QSizePolicy, QSpacerItem, QWidgetItem


class FlowLayout(QLayout):
    def __init__(self, parent=None, spacing: int = 6, row_spacing: int = 4):
        super().__init__(parent)
        self._items: list = []  # QLayoutItem
        self._glued: list[bool] = []  # item i stays on the row of item i + 1
        self._grow: list[bool] = []  # item i takes its row's spare width (add_widget)
        self._stretch: list[int] = []  # stretch factor (spacers only)
        self._h = spacing
        self._v = row_spacing
        self._cache: dict = {}  # units, heights for widths, sizes: until invalidate()

    # -- building -----------------------------------------------------------------------
    def add_widget(self, widget, keep_with_next: bool = False, grow: bool = False) -> None:
        """grow: the widget takes its row's spare width when the row has no stretch (a
        slider)."""
        self.addChildWidget(widget)
        self._append(QWidgetItem(widget), keep_with_next, 0)
        self._grow[-1] = grow

    def add_stretch(self, factor: int = 1) -> None:
        spacer = QSpacerItem(0, 0, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self._append(spacer, False, max(1, int(factor)))

    def invalidate(self) -> None:
        """Qt calls this whenever an item's size or visibility may have changed (and on
        every activation): the cached measures go. (Without them, Live's per-frame updates
        spent most of the GUI thread re-measuring the rows.)"""
        if hasattr(self, "_cache"):  # (QLayout's constructor may call it first)
            self._cache.clear()
        super().invalidate()

    def _cached(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _append(self, item, glued: bool, stretch: int) -> None:
        self._items.append(item)
        self._glued.append(glued)
        self._grow.append(False)
        self._stretch.append(stretch)
        self.invalidate()

    # -- QLayout --------------------------------------------------------------------------
    def addItem(self, item) -> None:  # (Qt calls this for addWidget)
        self._append(item, False, 0)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int):
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int):
        if 0 <= index < len(self._items):
            self._cache.clear()
            self._glued.pop(index)
            self._grow.pop(index)
            self._stretch.pop(index)
            return self._items.pop(index)
        return None

    def expandingDirections(self):
        return Qt.Orientation.Horizontal

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._cached(("hfw", width), lambda: self._lay_out(QRect(0, 0, width, 0), apply=False))

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        if self._cache.get("placed") != rect:  # the same rectangle, nothing changed: done
            self._lay_out(rect, apply=True)
            self._cache["placed"] = QRect(rect)

    def sizeHint(self) -> QSize:
        """All on one row."""
        return QSize(self._cached("hint", self._size_hint))

    def _size_hint(self) -> QSize:
        units = self._units()
        width = sum(w for w, _, _ in units) + self._h * max(0, len(units) - 1)
        height = max((self._hint(i).height() for i in range(len(self._items))), default=0)
        m = self.contentsMargins()
        return QSize(width + m.left() + m.right(), height + m.top() + m.bottom())

    def minimumSize(self) -> QSize:
        """The widest unit (a caption with its control) on a row of its own."""
        return QSize(self._cached("minimum", self._minimum_size))

    def _minimum_size(self) -> QSize:
        width = max((least for _, least, _ in self._units()), default=0)
        height = max((self._hint(i).height() for i in range(len(self._items))), default=0)
        m = self.contentsMargins()
        return QSize(width + m.left() + m.right(), height + m.top() + m.bottom())

    # -- layout ---------------------------------------------------------------------------
    def _visible(self, i: int) -> bool:
        w = self._items[i].widget()
        return w is None or not w.isHidden()

    def _hint(self, i: int) -> QSize:
        item = self._items[i]
        if self._stretch[i] or not self._visible(i):
            return QSize(0, 0)
        return item.sizeHint().expandedTo(item.minimumSize())

    def _wraps(self, i: int) -> bool:
        """An item that can itself wrap (a widget holding a FlowLayout): narrower than its
        hint, it takes a row of its own and grows down (height for width)."""
        return self._stretch[i] == 0 and self._items[i].hasHeightForWidth()

    def _min_width(self, i: int) -> int:
        if self._wraps(i) and self._visible(i):
            return self._items[i].minimumSize().width()
        return self._hint(i).width()

    def _units(self) -> list[tuple[int, int, list[int]]]:
        """(width, minimum width, item indices) of each run of glued visible items;
        stretches are units of width 0."""
        return self._cached("units", self._measure_units)

    def _measure_units(self) -> list[tuple[int, int, list[int]]]:
        units, current, width, least = [], [], 0, 0
        for i in range(len(self._items)):
            if not self._visible(i):
                continue
            if current and self._stretch[i] == 0 and self._stretch[current[-1]] == 0:
                width += self._h
                least += self._h
            current.append(i)
            width += self._hint(i).width()
            least += self._min_width(i)
            if not (self._glued[i] and self._stretch[i] == 0):
                units.append((width, least, current))
                current, width, least = [], 0, 0
        if current:
            units.append((width, least, current))
        return units

    def _lay_out(self, rect: QRect, apply: bool) -> int:
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        rows: list[list[int]] = [[]]
        squeezed: dict[int, QSize] = {}  # wrapping items given less than their hint
        used = 0
        for width, _, indices in self._units():
            real = [i for i in indices if self._stretch[i] == 0]
            gap = self._h if used and real else 0
            if len(real) == 1 and self._wraps(real[0]) and width > area.width() > 0:
                squeezed[real[0]] = QSize(area.width(),
                                          self._items[real[0]].heightForWidth(area.width()))
                rows.extend([indices, []])  # a row of its own
                used = 0
                continue
            if rows[-1] and real and used + gap + width > area.width():
                rows.append([])
                used, gap = 0, 0
            rows[-1].extend(indices)
            used += gap + width
        y = area.y()
        for row in rows:
            real = [i for i in row if self._stretch[i] == 0]
            if not real:
                continue
            sizes = {i: squeezed.get(i, self._hint(i)) for i in real}
            height = max(size.height() for size in sizes.values())
            if apply:
                self._place_row(row, sizes, area, y, height)
            y += height + self._v
        return max(0, y - self._v - area.y()) + m.top() + m.bottom()

    def _place_row(self, row: list[int], sizes: dict, area: QRect, y: int, height: int) -> None:
        real = [i for i in row if self._stretch[i] == 0]
        natural = sum(sizes[i].width() for i in real) + self._h * max(0, len(real) - 1)
        spare = max(0, area.width() - natural)
        total = sum(self._stretch[i] for i in row)
        growing = [] if total else [i for i in real if self._grow[i]]
        if growing:  # no stretch on this row: the spare width widens the growing widgets
            sizes = dict(sizes)
            for k, i in enumerate(growing):
                share = spare // len(growing) + (1 if k < spare % len(growing) else 0)
                sizes[i] = QSize(sizes[i].width() + share, sizes[i].height())
        x = area.x()
        previous_real = False
        for i in row:
            if self._stretch[i]:
                x += spare * self._stretch[i] // total if total else 0
                continue
            if previous_real:
                x += self._h
            size = sizes[i]
            width = min(size.width(), area.right() - x + 1) if area.width() > 0 else size.width()
            h = min(height, size.height())
            self._items[i].setGeometry(QRect(QPoint(x, y + (height - h) // 2),
                                             QSize(max(width, 0), h)))
            x += size.width()
            previous_real = True
