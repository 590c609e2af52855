"""Options the CAM and Compare tabs share (class, layer, alpha, colour map) and their controls.

Both tabs show the same image, layer and class; only the CAM tab picks a method. Class
choice: "top prediction", then the image's top predictions, then every label (type to
search). Layer choice: the model's default rule, or the layer selected in the tree.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QCompleter, QSlider, QWidget

from convscope.engine import colormaps

from convscope.engine.cam import registry

from ..flow_layout import FlowLayout
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


def model_identity(loaded) -> tuple | None:
    """What makes two opened models "the same model" for a class choice: the spec it was
    opened from, its name, its parameter count and its number of classes (a class index
    means nothing on another model: 2 is "triangle" on the demo, "great white shark" on
    an ImageNet net)."""
    if loaded is None or loaded.summary is None:
        return None
    s = loaded.summary
    return (str(s.source), str(s.name), s.params, int(s.head.classes))


class ClassChoice(QObject):
    """The class a map explains: None (the top prediction) or an index that belongs to the
    model it was chosen on — stored with that model's identity and the class's label.
    On any other model (a model change, a restored session of another model) `index` reads
    None: the top prediction."""

    sigChanged = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.session = None
        self.chosen: tuple | None = None  # (index, label, model identity)

    def bind(self, session) -> None:
        """Follow `session`'s model (idempotent): a choice made on another model is dropped."""
        if self.session is None:
            self.session = session
            session.sigModelChanged.connect(self._on_model_changed)
        target = getattr(self, "target", None)
        if target is not None:
            target.bind(session)

    @property
    def class_index(self) -> int | None:
        if self.chosen is None:
            return None
        index, label, model = self.chosen
        if self.session is not None and not self._belongs(index, label, model):
            return None
        return index

    @property
    def class_label(self) -> str | None:
        return None if self.class_index is None else self.chosen[1]

    def _belongs(self, index, label, model) -> bool:
        loaded = self.session.model
        labels = loaded.labels if loaded is not None else ()
        return (model == model_identity(loaded) and 0 <= index < len(labels)
                and str(labels[index]) == label)

    def set_class(self, index: int | None) -> None:
        """Choose `index` on the session's current model (None: the top prediction)."""
        if index is None:
            chosen = None
        else:
            loaded = self.session.model if self.session is not None else None
            labels = loaded.labels if loaded is not None else ()
            label = str(labels[index]) if 0 <= index < len(labels) else str(index)
            chosen = (int(index), label, model_identity(loaded))
        if chosen != self.chosen:
            self.chosen = chosen
            self.sigChanged.emit()

    def restore(self, index, label=None, model=None) -> None:
        """A saved choice (a session file): kept only if it belongs to the model open now;
        an old file without label / identity is taken as chosen on the model it opened."""
        if index is None:
            self.set_class(None)
            return
        loaded = self.session.model if self.session is not None else None
        label = str(label) if label is not None else None
        model = tuple(model) if model is not None else model_identity(loaded)
        if loaded is not None and label is None:
            labels = loaded.labels
            label = str(labels[int(index)]) if 0 <= int(index) < len(labels) else None
        if label is None or not self._belongs(int(index), label, model):
            self.set_class(None)
            return
        self.set_class(int(index))

    def saved(self) -> dict:
        """The choice as a session file stores it."""
        if self.class_index is None:
            return {"class_index": None}
        index, label, model = self.chosen
        return {"class_index": index, "class_label": label, "class_model": list(model)}

    def _on_model_changed(self) -> None:
        if self.chosen is not None and self.class_index is None:
            self.chosen = None  # chosen on another model: back to the top prediction
            self.sigChanged.emit()


class CamOptions(ClassChoice):
    # sigChanged (ClassChoice): class or layer changed: a new map is needed
    sigLookChanged = Signal()  # alpha or colour map changed: redraw only

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.follow_tree = settings.get("cam/follow_tree")
        self.alpha = settings.get("cam/alpha")
        self.colormap = settings.get("cam/colormap")
        from ..target_choice import TargetChoice  # what the maps explain beyond a class (issue 21)

        self.target = TargetChoice(self)
        self.target.sigChanged.connect(self.sigChanged)

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

    def __init__(self, options: ClassChoice, session, parent=None):
        super().__init__(parent)
        self.options, self.session = options, session
        options.bind(session)
        self.predictions = None  # callable -> predictions to list first (None: the session's)
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
        predictions = self.predictions() if self.predictions else self.session.predictions
        for p in predictions:
            self.addItem(self.prediction_text(p), int(p.index))
        if predictions:
            self.insertSeparator(self.count())
        for i, name in enumerate(labels):
            self.addItem(f"{i} · {name}", i)
        self.select(self.options.class_index)
        self.blockSignals(False)

    @staticmethod
    def prediction_text(p) -> str:
        return f"★ {p.label} · {p.score:.3f}"

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

    def __init__(self, options: CamOptions, session, parent=None, classes: ClassChoice | None = None):
        super().__init__(parent)
        self.options, self.session = options, session
        options.bind(session)
        self.class_choice = classes or options  # Live has its own (each frame's top by default)
        self.classes = ClassPicker(self.class_choice, session)
        self.layer = QComboBox()
        self.layer.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer.setMinimumContentsLength(12)
        self.layer.setToolTip(LAYER_TIP)
        self.alpha = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100,
                             value=round(100 * options.alpha))
        self.alpha.setFixedWidth(70)
        self.alpha.setToolTip("Heatmap opacity over the image")
        self.colormap = combo(colormaps.NAMES, options.colormap, "Heatmap colour map")
        row = FlowLayout(self)  # in a narrow window the four wrap (gui/flow_layout.py)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (caption("class"), self.classes, caption("layer"), self.layer,
                  caption("alpha"), self.alpha, self.colormap):
            row.add_widget(w, keep_with_next=bool(w.property("caption")) or w is self.alpha)
        self.layer.activated.connect(lambda i: options.set_follow_tree(i == 1))
        self.alpha.valueChanged.connect(self._on_look)
        self.colormap.currentTextChanged.connect(self._on_look)
        options.sigChanged.connect(self.sync)
        if self.class_choice is not options:
            self.class_choice.sigChanged.connect(self.sync)
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
        self.classes.select(self.class_choice.class_index)

    def show_for(self, method: str | None) -> None:
        """The layer choice only where the method has one: the pixel attributions that
        work on the input alone (registry layer rule "none") grey it out and say so."""
        uses = not method or registry.get(method).layer != "none"
        self.layer.setEnabled(uses)
        self.layer.setToolTip(LAYER_TIP if uses else
                              f"{registry.title(method)} works on the input pixels: no layer")

    def _on_look(self, *_):
        self.options.set_look(self.alpha.value() / 100.0, self.colormap.currentText())
