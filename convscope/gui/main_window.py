"""The main window: model and layers on the left, views as tabs in the middle, the image,
its siblings and the predictions on the right, the engine's work in the status bar.

The window shows at once; the engine thread then imports TensorFlow and opens the model
(StartEngine, LoadModel). Everything the engine answers arrives through EngineClient as a
result object; errors become a message in the bar above the views.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtWidgets import (QApplication, QDockWidget, QLineEdit, QMainWindow, QTabWidget,
                               QVBoxLayout, QWidget)

from convscope.engine.explore import cache as explore
from convscope.engine import jobs as J

from . import inputs, window_follow as follow
from .dataset_tools import DatasetTools
from .run_timeline import RunTimeline
from .compare_model import ModelComparison
from .cka_window import RepresentationSimilarity
from .engine_client import EngineClient
from .image_panel import ImagePanel
from .model_options_ui import ModelOptions
from .model_panel import ModelPanel
from .notifications import NotificationBar
from .session import Session
from .session_file import SessionFiles
from .settings import Settings
from .status import JobStatus, brief
from .views.activations import ActivationsView
from .views.cam import CamView
from .views.cam_options import CamOptions
from .views.compare import CompareView
from .views.filters import FiltersView
from .views.live import LiveView
from .window_actions import WindowActions


@dataclass
class Startup:
    """What to show first (command line, or the defaults)."""

    model: str = "demo"
    images: list = field(default_factory=list)  # paths; empty: the bundled samples
    view: str | None = None
    layer: str | None = None
    method: str | None = None
    mode: str | None = None  # filter patterns: classic | regularized
    device: str = "auto"
    preprocess: str = "auto"
    session: dict | None = None  # a .convscope document (engine.session_io) to restore
    custom_objects: tuple = ()  # --custom-objects, --trust-model, --head (for this model)
    trust_model: bool = False
    head: str | None = None


class MainWindow(QMainWindow):
    CLOSE_WAIT_MS = 2000  # waited per close attempt for the engine thread to end
    def __init__(self, settings: Settings | None = None, startup: Startup | None = None):
        super().__init__()
        self.settings = settings or Settings()
        explore.configure(fraction=self.settings.get("explore/memory_fraction"))
        self.startup = startup or Startup()
        self.setWindowTitle("ConvScope")
        self.setAcceptDrops(True)
        self.session = Session(self)
        self.session.loading = self.startup.model  # the views say "Opening…", not "Open a model"
        self.client = EngineClient(self)
        self.cam_options = CamOptions(self.settings, self)
        self.started = False
        self.startup_done = False
        self._loading = ""  # the model spec being opened
        self._warned: set[str] = set()  # engine warnings shown already

        # -- the centre: message bar above the view tabs --------------------------------
        self.decoder = inputs.ImageDecoder(self)  # image files decode off the GUI thread
        self.decoder.sigDecoded.connect(self._on_decoded)
        self.notifications = NotificationBar()
        self.tabs = QTabWidget()
        args = (self.session, self.client, self.settings)
        self.activations_view = ActivationsView(*args)
        self.filters_view = FiltersView(*args)
        self.cam_view = CamView(*args, self.cam_options)
        self.compare_view = CompareView(*args, self.cam_options)
        self.live = LiveView(*args, self.cam_options)
        self.views = [self.activations_view, self.filters_view, self.cam_view,
                      self.compare_view, self.live]
        for view in self.views:
            self.tabs.addTab(view, view.title)
        centre = QWidget()
        box = QVBoxLayout(centre)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.notifications)
        box.addWidget(self.tabs, 1)
        self.setCentralWidget(centre)

        # -- the sides --------------------------------------------------------------------
        self.model_panel = ModelPanel()
        self.image_panel = ImagePanel()
        self.model_dock = self._dock("Model · layers", self.model_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.image_dock = self._dock("Image", self.image_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.status = JobStatus()
        self.statusBar().addPermanentWidget(self.status)
        self.actions_ = WindowActions(self)
        self.model_options = ModelOptions(self, self.startup)  # Model menu, trust / code offers
        self.sessions = SessionFiles(self)  # save / open / autosave (gui/session_file.py)
        if self.startup.session:
            self.sessions.start_with(self.startup.session)
        self.dataset_tools = DatasetTools(self)  # Tools → Run over a folder…, Index a folder…
        self.run_timeline = RunTimeline(self)  # File → Open run…: an epoch slider (gui/run_timeline.py)
        self.model_comparison = ModelComparison(self)  # File → Compare with model… (gui/compare_model.py)
        self.cka = RepresentationSimilarity(self)  # Tools → Representation similarity (CKA)… (gui/cka_window.py)

        for edit in self.findChildren(QLineEdit):  # a dropped file opens, not pastes its path
            edit.setAcceptDrops(False)
        self._connect()
        self._restore()
        if self.startup.mode:
            self.filters_view.set_mode(self.startup.mode)
        self.view(self.startup.view or self.settings.get("view/tab"))

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        c, s = self.client, self.session
        c.subscribe(J.EngineReady, self._on_engine_ready)
        c.subscribe(J.ModelLoaded, self._on_model_loaded)
        c.subscribe(J.Predicted, self._on_predicted)
        c.subscribe(J.JobWarning, self._on_warning)
        c.sigFailed.connect(self._on_failed)
        c.sigFinished.connect(self._on_finished)
        c.sigCancelled.connect(lambda channel: follow.cancelled(self, channel))
        c.sigJobChanged.connect(self.status.set_job)
        c.sigProgress.connect(self.status.set_progress)
        self.status.sigCancel.connect(self.cancel)
        s.sigImagesChanged.connect(lambda: self.image_panel.set_images(s.images, s.image))
        s.sigImagesChanged.connect(self._send_prefetch_hint)
        s.sigImageChanged.connect(self._on_image_changed)
        self.model_panel.sigLayerSelected.connect(s.set_layer)
        self.model_panel.sigLayerSelected.connect(lambda path: follow.layer_picked(self, path))
        s.sigLayerChanged.connect(lambda: self.model_panel.select(s.layer))
        self.image_panel.sigImageChosen.connect(s.set_image)
        self.image_panel.sigRemoveImage.connect(s.remove_image)
        self.image_panel.predictions.sigClassClicked.connect(self._on_prediction_clicked)
        self.activations_view.sigShowFilter.connect(lambda *lc: follow.show_filter(self, *lc))
        self.activations_view.sigExplainChannel.connect(lambda *lc: follow.explain_channel(self, *lc))
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.notifications.sigShown.connect(lambda level, text: self.statusBar().showMessage(
            brief(self.statusBar(), text, self.status.width()), 8000))  # one line, elided

    def _restore(self) -> None:
        geometry, state = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:  # 1440 x 900, or a real screen's free area if smaller (offscreen: 800 x 800)
            free = self.screen().availableGeometry().size().boundedTo(QSize(1440, 900))
            self.resize(free if QApplication.platformName() != "offscreen" else QSize(1440, 900))
        if state is None or not self.restoreState(state):
            self.resizeDocks([self.model_dock, self.image_dock], [350, 300],
                             Qt.Orientation.Horizontal)

    # -- start-up -------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self.started:
            self.started = True
            QTimer.singleShot(0, self.start_engine)  # after the first paint

    def start_engine(self) -> None:
        """Start the engine thread: TensorFlow loads there while the window is up."""
        self.status.set_device("device: starting…")
        self.model_panel.show_loading("loading TensorFlow…")
        self.client.start()
        self.client.send(J.StartEngine(device=self.startup.device))
        self.open_model(self.startup.model)
        paths = self.startup.images
        if paths:
            incoming = inputs.from_paths(paths, decode=False)
            incoming.level = "error"  # named on the command line: a failure is an error
            self.open_inputs(incoming)
        else:
            images, current = inputs.sample_images()
            self.session.add_images(images, make_current=False)
            if images:
                self.session.set_image(images[current])

    # -- commands -------------------------------------------------------------------------
    def open_model(self, spec: str, **options) -> None:
        """options: custom_objects, trust_model, head (gui.model_options_ui)."""
        self.client.cancel(quiet=True)  # nothing queued for the old model is worth finishing
        self.client.send(J.LoadModel(spec=spec, device=self.startup.device,
                                     preprocess=self.startup.preprocess,
                                     **self.model_options.options_for(spec, options)))
        self._loading = self.session.loading = spec
        self.model_panel.show_loading(f"opening {spec}…" if self.session.device else
                                      f"loading TensorFlow…<br>then opening {spec}")

    def open_inputs(self, incoming: inputs.Incoming) -> None:
        """Models and images from a drop, a paste or a dialog (image files still pending
        are decoded on the decoder's thread first, then come back here)."""
        if incoming.pending:
            self.decoder.decode(incoming)
            return
        if incoming.problems:  # one bar shows one message: all of them, not the last
            self.notify(follow.problems_text(incoming.problems), incoming.level)
        for path in incoming.image_paths:
            self.settings.add_recent("images", path)
        self.session.add_images(incoming.images)
        if incoming.videos:
            self.live.open_file(incoming.videos[-1])
            self.view("live")
        if incoming.models:
            self.open_model(incoming.models[-1])

    def _on_decoded(self, incoming: inputs.Incoming) -> None:
        self.decoder.delivered()
        self.open_inputs(incoming)

    def view(self, key: str) -> None:
        for i, v in enumerate(self.views):
            if v.key == key:
                self.tabs.setCurrentIndex(i)
        self._on_tab_changed(self.tabs.currentIndex())

    def current_view(self):
        return self.tabs.currentWidget()

    def cancel(self) -> None:
        self.client.cancel()  # each view shows its last result or "cancelled — click to compute"
        self.statusBar().showMessage("cancelled", 4000)

    def notify(self, text: str, level: str = "error", **kw) -> None:
        self.notifications.show_message(text, level, **kw)

    def settled(self) -> bool:
        """Start-up done, no job outstanding, no view waiting to ask: the screen is final."""
        return self.startup_done and not self.decoder.busy and not self.client.pending() and all(
            v.settled() for v in self.views)

    # -- engine results -------------------------------------------------------------------
    def _on_engine_ready(self, r: J.EngineReady) -> None:
        self.session.device = r.device
        self.status.set_device(r.device)
        self.model_panel.set_device(r.device)
        if self.client.pending("load"):
            self.model_panel.show_loading(f"opening {self._loading}…")

    def _on_model_loaded(self, r: J.ModelLoaded) -> None:
        self.session.set_model(r)
        self.model_panel.set_model(r)
        self.model_options.on_loaded(r.summary)
        self.image_panel.predictions.set_message("")  # the previous model's are not this one's
        self.status.set_device(r.summary.device or self.session.device)
        self.status.set_note(r.explore_note)
        self.setWindowTitle(f"ConvScope — {r.summary.name}")
        self.settings.add_recent("models", r.summary.source)
        self.actions_.refresh_recent()
        layer = self.startup.layer if not self.startup_done else None
        if layer and self.session.layer_info(layer) is None:
            self.notify(f"no layer {layer!r} in {r.summary.name}; showing the default layer")
            layer = None
        if layer and self.startup.view:
            self._check_startup_layer(self.session.layer_info(layer))
        self.session.set_layer(layer or self.session.default_layer())
        self.model_panel.tree.setFocus()
        if not self.startup_done and self.startup.method:
            if not self.cam_view.set_method(self.startup.method):
                self.notify(f"unknown CAM method {self.startup.method!r}; choose one of "
                            f"{', '.join(r.cam_methods)}")
        self._request_predictions()
        self.startup_done = True

    def _check_startup_layer(self, info) -> None:
        """--layer with --view: the CAM views use that layer; every view needs it spatial."""
        if self.startup.view in ("cam", "compare"):
            self.cam_options.set_follow_tree(True)
        if not info.spatial:
            shape = "x".join("?" if d is None else str(d) for d in info.output_shape or ())
            self.notify(f"layer {info.path!r} ({info.class_name}) has no spatial output (its "
                        f"output is {shape or 'unknown'}); the {self.startup.view} view needs "
                        "a layer with an (H, W, C) output")

    def _on_finished(self, job: J.Job, result: J.Result, seconds: float) -> None:
        if not isinstance(result, J.JobFailed) and seconds:
            self.statusBar().showMessage(f"{job.describe()} — done in {1000 * seconds:,.0f} ms", 8000)

    def _on_predicted(self, r: J.Predicted) -> None:
        self.session.set_predictions(r.predictions)
        self.image_panel.predictions.set_predictions(r.predictions)

    def _on_failed(self, r: J.JobFailed) -> None:
        if r.channel == "load":
            self.session.loading = ""
            self.model_panel.show_loading("no model open" if self.session.model is None
                                          else self.session.model.summary.name)
            self.notify(f"Could not open the model: {r.message}", details=r.details,
                        **self._remedy_action(r.remedy))
            for v in self.views:  # their queued jobs were cancelled for the load
                v.invalidate()
            self._request_predictions()
            self.startup_done = True
        elif r.channel == "predict":
            self.image_panel.predictions.set_message("prediction failed")
            self.notify(r.message, details=r.details)
        elif r.internal:  # a view shows its own bad-input failures in place
            self.notify(r.message, details=r.details)

    def _remedy_action(self, remedy) -> dict:
        """The button the engine suggests (engine.errors.Remedy), e.g. a built-in model
        whose ImageNet weights are unavailable: open it with random weights."""
        if remedy is not None and remedy.kind == "open_model":
            return {"action": remedy.label, "callback": lambda: self.open_model(remedy.argument)}
        return self.model_options.remedy_action(remedy)  # trust a Lambda, run MODEL.custom.py

    def _on_warning(self, r: J.JobWarning) -> None:
        """A Python warning raised on the engine thread: shown once per text."""
        if r.message not in self._warned:
            self._warned.add(r.message)
            self.notify(f"{r.category}: {r.message}", "warning", details=r.details)

    # -- session changes ------------------------------------------------------------------
    def _on_image_changed(self) -> None:
        self.image_panel.set_current(self.session.image)
        self._request_predictions()

    def _request_predictions(self) -> None:
        s = self.session
        if s.model is None or s.image is None:
            return
        head = s.model.summary.head
        if not head.classifier:  # e.g. include_top=False
            shape = "×".join("?" if d is None else str(d) for d in head.output_shape)
            self.image_panel.predictions.set_message(
                f"no classifier head (output {shape})")
            return
        self.client.send(J.Predict(image=s.image, top=5))
        self._send_prefetch_hint()

    def _send_prefetch_hint(self) -> None:
        """Idle prefetch: the current image, then the next two of the strip."""
        s = self.session
        if s.image is None or s.image not in s.images:
            return
        i = s.images.index(s.image)
        self.client.hint([s.image] + s.images[i + 1:i + 3])

    def _on_prediction_clicked(self, index: int) -> None:
        self.cam_options.set_class(index)
        if self.current_view().key not in ("cam", "compare"):
            self.view("cam")

    def _on_tab_changed(self, index: int) -> None:
        for i, v in enumerate(self.views):
            v.set_active(i == index)
        if 0 <= index < len(self.views):
            self.settings.set("view/tab", self.views[index].key)

    # -- Qt events ------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        event.acceptProposedAction()
        self.open_inputs(inputs.from_mime(event.mimeData()))

    def closeEvent(self, event) -> None:
        """Close only once the engine thread has ended: a window (and QApplication) gone
        while TensorFlow still runs on that thread would kill the process mid-call. The
        running job is cancelled; if it does not stop within a moment, the close is
        retried while the event loop keeps the window responsive."""
        self.sessions.closed()
        self.settings.save_geometry(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.live.close_source()  # the frame reader thread ends before the engine's
        self.decoder.shutdown()
        if not self.client.stop(self.CLOSE_WAIT_MS):
            event.ignore()
            self.statusBar().showMessage("waiting for the engine to finish its current step…")
            QTimer.singleShot(self.CLOSE_WAIT_MS, self.close)
            return
        super().closeEvent(event)
