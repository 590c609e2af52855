"""What the CAM and Compare views explain: a target (engine.targets spec) chosen on a
model, as the class is (views.cam_options.ClassChoice). A target chosen on one model
means nothing on another (a region of a U-Net's output, a channel of a layer it lacks),
so on any other model the choice falls back to that model's default target
(ModelLoaded.default_target: "" is the class path; a region over the whole input for a
segmentation output; value:0 for a regression)."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from convscope.engine.targets import parse

from .views.cam_options import model_identity


class TargetChoice(QObject):
    sigChanged = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.session = None
        self.chosen: tuple | None = None  # (spec, model identity)

    def bind(self, session) -> None:
        if self.session is None:
            self.session = session
            session.sigModelChanged.connect(self._on_model_changed)

    @property
    def default(self) -> str:
        loaded = self.session.model if self.session is not None else None
        return getattr(loaded, "default_target", "") if loaded is not None else ""

    @property
    def spec(self) -> str:
        """The spec the maps explain now ("": the chosen class)."""
        if self.chosen is not None and self.chosen[1] == model_identity(self.session.model):
            return self.chosen[0]
        return self.default

    @property
    def kind(self) -> str:
        return parse(self.spec).kind if self.spec else "class"

    def set_spec(self, spec: str) -> None:
        """Choose a target on the open model ("": its class, even where the default is a
        region or a value; the default itself: back to the default).
        A spec that does not parse is still kept: the engine says what is wrong with it."""
        spec = (spec or "").strip()
        before = self.spec
        self.chosen = None if spec == self.default else (spec, model_identity(self.session.model))
        if self.spec != before:
            self.sigChanged.emit()

    def saved(self) -> dict:
        """The choice as a session file stores it (nothing: the model's default)."""
        if self.chosen is None or self.chosen[1] != model_identity(self.session.model):
            return {}
        return {"target": self.chosen[0], "target_model": list(self.chosen[1] or ())}

    def restore(self, spec, model=None) -> None:
        """A saved choice: kept only on the model it was chosen on (an old file without
        one: the default)."""
        here = model_identity(self.session.model)
        if spec and model is not None and tuple(model) == here:
            self.set_spec(str(spec))
        else:
            self.reset()

    def reset(self) -> None:
        """Back to the open model's default target."""
        before = self.spec
        self.chosen = None
        if self.spec != before:
            self.sigChanged.emit()

    def _on_model_changed(self) -> None:
        if self.chosen is not None and self.chosen[1] != model_identity(self.session.model):
            self.chosen = None  # chosen on another model: its default now
            self.sigChanged.emit()
