"""What the user is looking at: the open model, the open images, the selected layer.

Plain state with change signals; widgets observe it and views turn it into engine jobs.
No computation here.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from convscope.engine import jobs as J


class Session(QObject):
    sigModelChanged = Signal()
    sigImagesChanged = Signal()  # the list of open images
    sigImageChanged = Signal()  # the current image
    sigLayerChanged = Signal()
    sigPredictions = Signal(object)  # tuple of engine Prediction for the current image

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.model: J.ModelLoaded | None = None
        self.images: list = []  # engine.images.Image
        self.image = None
        self.layer: str | None = None
        self.predictions: tuple = ()
        self.device = ""
        self.loading = ""  # the model spec being opened ("" when none is)

    # -- model ----------------------------------------------------------------------------
    def set_model(self, loaded: J.ModelLoaded) -> None:
        self.loading = ""
        self.model = loaded
        self.layer = None
        self.predictions = ()
        self.sigModelChanged.emit()

    def layer_info(self, path: str | None = None):
        path = path or self.layer
        if self.model is None or path is None:
            return None
        for info in self.model.layers:
            if info.path == path:
                return info
        return None

    def default_layer(self) -> str | None:
        """The model's default CAM layer, else its last spatial layer."""
        if self.model is None:
            return None
        default = self.model.summary.default_cam_layer
        if default:
            return default
        spatial = [i.path for i in self.model.layers if i.spatial and not i.is_container]
        return spatial[-1] if spatial else None

    def set_layer(self, path: str | None) -> None:
        if path != self.layer:
            self.layer = path
            self.sigLayerChanged.emit()

    # -- images ---------------------------------------------------------------------------
    def add_images(self, images: list, make_current: bool = True) -> None:
        if not images:
            return
        self.images.extend(images)
        self.sigImagesChanged.emit()
        if make_current:
            self.set_image(images[-1] if len(images) == 1 else images[0])

    def remove_image(self, image) -> None:
        if image not in self.images:
            return
        i = self.images.index(image)
        self.images.remove(image)
        self.sigImagesChanged.emit()
        if image is self.image:
            self.set_image(self.images[min(i, len(self.images) - 1)] if self.images else None)

    def set_image(self, image) -> None:
        if image is not self.image:
            self.image = image
            self.predictions = ()
            self.sigImageChanged.emit()

    def set_predictions(self, predictions: tuple) -> None:
        self.predictions = tuple(predictions)
        self.sigPredictions.emit(self.predictions)

    def labels(self) -> tuple:
        return self.model.labels if self.model else ()
