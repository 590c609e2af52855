"""Options the CAM and Compare tabs share (class, layer, alpha, colour map) and their controls.

Both tabs show the same image, layer and class; only the CAM tab picks a method. Class
choice: "top prediction", then the image's top predictions, then every label (type to
search). Layer choice: the model's default rule, or the layer selected in the tree.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QComboBox, QCompleter, QHBoxLayout, QSlider, QWidget)

from convscope.engine import colormaps

from convscope.engine.cam import registry

from .base import caption, combo

# The CAM view's method list, in groups (a disabled header row each).
GROUPS = (("Class activation maps", "cam"), ("Pixel attributions", "pixel"))


def draw(r, alpha: float, colormap: str):
    """The picture of a CamReady: a CAM blended over the image (engine.cam.overlay); a pixel
    attribution over a grey copy, signed ones in a diverging map (engine.attribution.display)."""
    spec = registry.get(r.method)
    if spec.kind == "pixel":
        from convscope.engine.attribution.display import pixel_overlay

        return pixel_overlay(r.pixels, r.display if r.display is not None else r.heatmap,
                             signed=spec.signed, alpha=alpha, colormap=colormap)
    from convscope.engine.cam import overlay

    return overlay.blend(r.pixels, r.heatmap, alpha=alpha, colormap=colormap)


def compare_order(methods) -> list:
    """Fast methods first, the long ones (registry `slow`: one pass per channel, mask,
    position or sample) last, each group in registry order."""
    return sorted(methods, key=lambda m: registry.get(m).slow)


class CamOptions(QObject):
    sigChanged = Signal()  # class or layer changed: a new map is needed
    sigLookChanged = Signal()  # alpha or colour map changed: redraw only

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.class_index: int | None = None  # None: the top prediction
        self.follow_tree = settings.get("cam/follow_tree")
        self.alpha = settings.get("cam/alpha")
        self.colormap = settings.get("cam/colormap")

    def set_class(self, index: int | None) -> None:
        if index != self.class_index:
            self.class_index = index
            self.sigChanged.emit()

    def set_follow_tree(self, follow: bool) -> None:
        if follow != self.follow_tree:
            self.follow_tree = follow
            self.settings.set("cam/follow_tree", follow)
            self.sigChanged.emit()

    def set_look(self, alpha: float, colormap: str) -> None:
        if (alpha, colormap) != (self.alpha, self.colormap):
            self.alpha, self.colormap = alpha, colormap
            self.settings.set("cam/alpha", alpha)
            self.settings.set("cam/colormap", colormap)
            self.sigLookChanged.emit()


class ClassPicker(QComboBox):
    """Top predictions first, then every label; editable, so typing searches all labels."""

    def __init__(self, options: CamOptions, session, parent=None):
        super().__init__(parent)
        self.options, self.session = options, session
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMinimumContentsLength(10)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setToolTip("Class whose evidence the map shows — type to search all labels")
        completer = QCompleter(self.model(), self)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setCompleter(completer)
        self.activated.connect(self._on_activated)
        session.sigModelChanged.connect(self.rebuild)
        session.sigPredictions.connect(self.rebuild)

    def rebuild(self, *_):
        self.blockSignals(True)
        self.clear()
        self.addItem("top prediction", None)
        labels = self.session.labels()
        for p in self.session.predictions:
            self.addItem(f"★ {p.label} · {p.score:.3f}", int(p.index))
        if self.session.predictions:
            self.insertSeparator(self.count())
        for i, name in enumerate(labels):
            self.addItem(f"{i} · {name}", i)
        self.select(self.options.class_index)
        self.blockSignals(False)

    def select(self, index: int | None) -> None:
        row = self.findData(index)
        self.setCurrentIndex(max(row, 0))

    def _on_activated(self, row: int) -> None:
        data = self.itemData(row)
        self.options.set_class(None if data is None else int(data))


LAYER_TIP = ("Target layer: the model's default (last spatial layer before pooling) or the "
             "layer selected in the tree")


class CamControls(QWidget):
    """class · layer · alpha · colour map, bound to one CamOptions."""

    def __init__(self, options: CamOptions, session, parent=None):
        super().__init__(parent)
        self.options, self.session = options, session
        self.classes = ClassPicker(options, session)
        self.layer = QComboBox()
        self.layer.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer.setMinimumContentsLength(12)
        self.layer.setToolTip(LAYER_TIP)
        self.alpha = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100,
                             value=round(100 * options.alpha))
        self.alpha.setFixedWidth(70)
        self.alpha.setToolTip("Heatmap opacity over the image")
        self.colormap = combo(colormaps.NAMES, options.colormap, "Heatmap colour map")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (caption("class"), self.classes, caption("layer"), self.layer,
                  caption("alpha"), self.alpha, self.colormap):
            row.addWidget(w)
        self.layer.activated.connect(lambda i: options.set_follow_tree(i == 1))
        self.alpha.valueChanged.connect(self._on_look)
        self.colormap.currentTextChanged.connect(self._on_look)
        options.sigChanged.connect(self.sync)
        options.sigLookChanged.connect(self.sync)
        session.sigModelChanged.connect(self.sync)
        session.sigLayerChanged.connect(self.sync)
        self.sync()

    def sync(self) -> None:
        """Show the options (the other tab may have changed them)."""
        for w in (self.layer, self.alpha, self.colormap):
            w.blockSignals(True)
        default = self.session.default_layer() or "none"
        self.layer.clear()
        self.layer.addItem(f"default · {default}")
        self.layer.addItem(f"tree · {self.session.layer or 'nothing selected'}")
        self.layer.setCurrentIndex(1 if self.options.follow_tree else 0)
        self.alpha.setValue(round(100 * self.options.alpha))
        self.colormap.setCurrentText(self.options.colormap)
        for w in (self.layer, self.alpha, self.colormap):
            w.blockSignals(False)
        self.classes.select(self.options.class_index)

    def show_for(self, method: str | None) -> None:
        """The layer choice only where the method has one: the pixel attributions that
        work on the input alone (registry layer rule "none") grey it out and say so."""
        uses = not method or registry.get(method).layer != "none"
        self.layer.setEnabled(uses)
        self.layer.setToolTip(LAYER_TIP if uses else
                              f"{registry.title(method)} works on the input pixels: no layer")

    def _on_look(self, *_):
        self.options.set_look(self.alpha.value() / 100.0, self.colormap.currentText())
