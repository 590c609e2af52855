"""The Tools menu: run CAMs and metrics over a folder, index a folder's dataset examples.

Both are engine jobs (engine.dataset.jobs) with progress and Cancel in the status bar;
a finished run opens in a ResultsWindow whose rows open that image in the CAM view with
that method.
"""
from __future__ import annotations

from convscope.engine import jobs as J
from convscope.engine.dataset.jobs import DatasetBatchReady, DatasetIndexReady

from . import inputs
from .dataset_widgets import IndexFolderDialog, ResultsWindow, RunFolderDialog


class DatasetTools:
    def __init__(self, window):
        self.w = window
        self.results = None
        self.last_index = None  # the latest DatasetIndexReady
        menu = window.menuBar().addMenu("Tools")
        window.actions_.help_last()  # Help stays the last menu
        self.run_action = menu.addAction("Run over a folder…")
        self.run_action.setStatusTip("CAMs and their faithfulness metrics over a folder of images")
        self.run_action.triggered.connect(lambda *_: self.ask_run())
        self.index_action = menu.addAction("Index a folder…")
        self.index_action.setStatusTip("The dataset images that excite each channel of a layer")
        self.index_action.triggered.connect(lambda *_: self.ask_index())
        window.client.subscribe(DatasetBatchReady, self._on_batch)
        window.client.subscribe(DatasetIndexReady, self._on_index)
        window.client.subscribe(J.JobFailed, self._on_failed)

    def _ready(self) -> bool:
        if self.w.session.model is None:
            self.w.notify("Open a model first.", "info")
            return False
        return True

    def ask_run(self) -> None:
        if not self._ready():
            return
        dialog = RunFolderDialog(self.w.session.model.cam_methods, self.w)
        if dialog.exec():
            self.run(dialog.job())

    def run(self, job) -> None:
        self.w.client.send(job)

    def ask_index(self) -> None:
        if not self._ready():
            return
        layers = [i.path for i in self.w.session.model.layers
                  if i.spatial and not i.is_container and i.class_name != "InputLayer"]
        dialog = IndexFolderDialog(layers, self.w.session.layer, self.w)
        if dialog.exec():
            self.run(dialog.job())

    def _on_batch(self, r: DatasetBatchReady) -> None:
        if self.results is None:
            self.results = ResultsWindow(self.w)
            self.results.sigRowChosen.connect(self.open_row)
        self.results.set_result(r)
        self.results.show()
        self.results.raise_()

    def _on_index(self, r: DatasetIndexReady) -> None:
        self.last_index = r
        self.w.notify(f"Indexed {r.files} images for {r.layer} ({r.channels} channels): a "
                      "channel's top examples now show beside it.", "info")
        for view in self.w.views:
            strip = getattr(view, "examples", None)
            if strip is not None:
                strip.refresh()

    def _on_failed(self, r: J.JobFailed) -> None:
        if r.channel == "dataset" and not r.internal:  # internal ones the window shows itself
            self.w.notify(r.message, details=r.details)

    def open_row(self, path: str, method: str) -> None:
        """A results row: that image, in the CAM view, with that method."""
        incoming = inputs.from_paths([path])
        for problem in incoming.problems:
            self.w.notify(problem)
        if incoming.images:
            self.w.session.add_images(incoming.images)
            self.w.session.set_image(incoming.images[-1])
        self.w.cam_view.set_method(method)
        self.w.view("cam")
