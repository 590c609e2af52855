"""Export figure: a figure for a paper from what is on screen, with a live preview.

The dialog starts from the current view (CAM -> cam, Compare -> methods: the image on
screen x the methods shown, "all open images" adds the strip's others; Activations ->
activations, Filters -> filters). What the layout had to adapt (bands, smaller titles) is
said under the preview. Every change of an option asks
the engine thread for a preview (a MakeFigure job; the drawing happens there, never on the
GUI thread) and shows the PNG it sends back. Maps and patterns the views already computed
travel with the job and are reused. The last choices are remembered (QSettings).
"""
from __future__ import annotations

import os

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDialog, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from convscope.engine import colormaps, jobs as J
from convscope.engine.figures.data import KnownPatterns
from convscope.engine.figures.spec import KINDS, FigureOptions, FigureSpec
from convscope.engine.filters.spec import DEFAULT_MODE, DEFAULT_SIZE, DEFAULT_STEPS

from .views.cam_options import compare_order

PREVIEW_WIDTH_PX = 900
FILTERS = {"pdf": "PDF (*.pdf)", "svg": "SVG (*.svg)", "png": "PNG image (*.png)",
           "tiff": "TIFF image (*.tif)"}
EXT = {"pdf": ".pdf", "svg": ".svg", "png": ".png", "tiff": ".tif"}
VIEW_KIND = {"cam": "cam", "compare": "methods", "activations": "activations", "filters": "filters"}


def start_spec(window, kind: str | None = None, all_images: bool = False) -> tuple[FigureSpec, tuple]:
    """The figure of what is on screen (or of `kind`), and the results already computed.

    methods (from Compare): the image on screen x the methods the view shows, its row
    explaining the class its maps on screen explain; all_images adds the strip's other
    images, each explained for its own top prediction."""
    s = window.session
    view = window.current_view()
    kind = kind or VIEW_KIND.get(view.key, "cam")
    cam_view, compare, filters_view = window.cam_view, window.compare_view, window.filters_view
    known = []
    # the maps on screen (CamReady: plain arrays), reused by the figure engine
    if cam_view.result is not None and cam_view.result.heatmap is not None:
        known.append(cam_view.result)
    known += [r for r in compare.results.values() if r.heatmap is not None]
    for key, patterns in getattr(filters_view, "_cache", {}).items():
        layer, filters, size, steps, mode = key
        known.append(KnownPatterns(layer, tuple(filters), patterns, size, steps, mode))
    opts = window.cam_options
    target = opts.target.spec  # issue 21: the figure explains what the views explain
    # a map of another target (or of a class, when a target is chosen) is never reused
    known = [k for k in known if getattr(k, "target", target) == target]
    layer = s.layer if opts.follow_tree else None
    cls = () if opts.class_index is None or target else (opts.class_index,)
    method = cam_view.current_method() or "gradcam"
    name = (lambda im: im.path or im.name)
    image = (name(s.image),) if s.image is not None else ()
    methods = tuple(s.model.cam_methods) if s.model else ()
    if kind == "methods":
        spec = methods_spec(window, all_images, layer)
    elif kind == "cam":
        spec = FigureSpec(kind=kind, images=image, methods=(method,),
                          layers=(layer,) if layer else (), classes=cls, target=target)
    elif kind == "layers":
        spec = FigureSpec(kind=kind, images=image, methods=(method,), layers=_depths(s), classes=cls,
                          target=target)
    elif kind == "classes":
        spec = FigureSpec(kind=kind, images=image, methods=(method,), layers=(layer,) if layer else (),
                          top_classes=3)
    elif kind == "curves":
        spec = FigureSpec(kind=kind, images=image, methods=tuple(m for m in methods if "score" not in m)[:4],
                          layers=(layer,) if layer else (), classes=cls, curve_steps=25,
                          target=target)
    elif kind == "activations":
        info = s.layer_info()
        top = 64 if info is not None and (info.channels or 0) > 64 else None
        spec = FigureSpec(kind=kind, images=image, layers=(s.layer,) if s.layer else (), top=top)
    else:
        try:
            layer_, filters, size, steps, mode = filters_view.key_now()
        except Exception:
            layer_, filters, size, steps, mode = (s.layer, (), DEFAULT_SIZE,
                                                  DEFAULT_STEPS[DEFAULT_MODE], DEFAULT_MODE)
        spec = FigureSpec(kind=kind, layers=(layer_,) if layer_ else (), filters=tuple(filters),
                          filter_size=size, filter_steps=steps, filter_mode=mode)
    return spec, tuple(known)


def methods_spec(window, all_images: bool, layer) -> FigureSpec:
    """Compare's figure: the image on screen first (and, with all_images, the others)."""
    s, compare = window.session, window.compare_view
    if s.image is None:
        return FigureSpec(kind="methods", images=(), methods=())
    name = (lambda im: im.path or im.name)
    shown = tuple(compare.tiles) or tuple(compare_order(s.model.cam_methods) if s.model else ())
    # the class the maps on screen explain (a fixed class, or the top prediction they used)
    done = [r for r in compare.results.values() if r.heatmap is not None and not r.error]
    cls = done[0].class_index if done else window.cam_options.class_index
    images = [s.image] + ([im for im in s.images if im is not s.image] if all_images else [])
    target = window.cam_options.target.spec
    classes = () if cls is None or target else (int(cls),) + (None,) * (len(images) - 1)
    return FigureSpec(kind="methods", images=tuple(name(im) for im in images), methods=shown,
                      layers=(layer,) if layer else (), classes=classes, target=target)


def _depths(s) -> tuple:
    """Up to four spatial layers spread over the depth, ending at the default CAM layer."""
    spatial = [i.path for i in s.model.layers if i.spatial and not i.is_container
               and i.class_name != "InputLayer"] if s.model else []
    default = s.default_layer()
    if default in spatial:
        spatial = spatial[:spatial.index(default) + 1]
    if len(spatial) <= 4:
        return tuple(spatial)
    step = (len(spatial) - 1) / 3
    return tuple(spatial[round(i * step)] for i in range(4))


class FigureDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.w, self.settings = window, window.settings
        self.setWindowTitle("Export figure")
        self.resize(1200, 760)
        self.spec: FigureSpec | None = None
        self.known: tuple = ()
        self.last: J.FigureReady | None = None
        self._copy_id = None
        self._preview_id = None
        self._build()
        self._timer = QTimer(self, singleShot=True, interval=150)
        self._timer.timeout.connect(self.request_preview)
        c = window.client
        c.subscribe(J.FigureReady, self._on_ready)
        c.sigFailed.connect(self._on_failed)

    # -- widgets --------------------------------------------------------------------------
    def _build(self) -> None:
        st = self.settings
        self.kind = QComboBox()
        self.kind.addItems(KINDS)
        self.methods = QLineEdit()
        self.methods.setToolTip("methods / curves figures: CAM methods, comma-separated")
        self.layers = QLineEdit()
        self.layers.setToolTip("layers figure: layer paths, comma-separated; others: one layer "
                               "(empty = the model's default)")
        self.width_ = QComboBox(editable=True)
        self.width_.addItems(["single", "double", "120"])
        self.width_.setCurrentText(st.get("figure/width"))
        self.width_.setToolTip("single column (89 mm), double (183 mm), or millimetres")
        self.dpi = QSpinBox(minimum=72, maximum=1200, singleStep=50, value=st.get("figure/dpi"))
        self.font_size = QDoubleSpinBox(minimum=4, maximum=20, singleStep=0.5,
                                        value=st.get("figure/font_size"))
        self.font = QLineEdit(st.get("figure/font"))
        self.colormap = QComboBox()
        self.colormap.addItems(["default"] + list(colormaps.NAMES))
        self.colormap.setCurrentText(st.get("figure/colormap") or "default")
        self.alpha = QDoubleSpinBox(minimum=0, maximum=1, singleStep=0.1, value=st.get("figure/alpha"))
        self.title = QLineEdit()
        self.panel_labels = QCheckBox("panel letters (a, b, c …)", checked=st.get("figure/panel_labels"))
        self.colorbar = QCheckBox("colour bar", checked=st.get("figure/colorbar"))
        self.heatmap = QCheckBox("heatmap alone (cam)", checked=st.get("figure/heatmap"))
        self.all_images = QCheckBox("all open images (methods)")
        self.all_images.setToolTip("methods figure: add the strip's other images, each explained "
                                   "for its own top prediction (computes their maps)")
        form = QFormLayout()
        for label, widget in (("kind", self.kind), ("methods", self.methods), ("layers", self.layers),
                              ("width", self.width_), ("dpi", self.dpi), ("font size (pt)", self.font_size),
                              ("font", self.font), ("colour map", self.colormap), ("overlay alpha", self.alpha),
                              ("title", self.title)):
            form.addRow(label, widget)
        for box in (self.panel_labels, self.colorbar, self.heatmap, self.all_images):
            form.addRow("", box)
        self.export_button = QPushButton("Export…")
        self.copy_button = QPushButton("Copy figure")
        close = QPushButton("Close")
        self.export_button.clicked.connect(self.ask_export)
        self.copy_button.clicked.connect(self.copy_figure)
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addLayout(form)
        lv.addStretch(1)
        lv.addLayout(buttons)
        left.setMaximumWidth(380)
        self.preview = QLabel("preparing the preview…")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("background: #808080; color: white;")
        scroll = QScrollArea()
        scroll.setWidget(self.preview)
        scroll.setWidgetResizable(True)
        self.info = QLabel()
        self.info.setWordWrap(True)
        right = QVBoxLayout()
        right.addWidget(scroll, 1)
        right.addWidget(self.info)
        row = QHBoxLayout(self)
        row.addWidget(left)
        row.addLayout(right, 1)
        self.kind.currentTextChanged.connect(self._on_kind_changed)
        for w in (self.methods, self.layers, self.font, self.title):
            w.editingFinished.connect(self.changed)
        self.width_.currentTextChanged.connect(self.changed)
        for w in (self.dpi, self.font_size, self.alpha):
            w.valueChanged.connect(self.changed)
        self.colormap.currentTextChanged.connect(self.changed)
        for w in (self.panel_labels, self.colorbar, self.heatmap):
            w.toggled.connect(self.changed)
        self.all_images.toggled.connect(self._on_all_images)

    # -- state ----------------------------------------------------------------------------
    def start(self) -> None:
        """Begin from what the window shows now."""
        self.spec, self.known = start_spec(self.w, all_images=self.all_images.isChecked())
        self._show_spec()
        self.request_preview()

    def _on_all_images(self, _on: bool) -> None:
        if self.spec is not None and self.spec.kind == "methods":
            self.spec, self.known = start_spec(self.w, "methods", self.all_images.isChecked())
            self._show_spec()
            self.changed()

    def _on_kind_changed(self, kind: str) -> None:
        if self.spec is not None and kind != self.spec.kind:
            self.spec, self.known = start_spec(self.w, kind, self.all_images.isChecked())
            self._show_spec()
            self.changed()

    def _show_spec(self) -> None:
        s = self.spec
        for w in (self.kind, self.methods, self.layers):
            w.blockSignals(True)
        self.kind.setCurrentText(s.kind)
        self.methods.setText(",".join(s.methods))
        self.layers.setText(",".join(s.layers))
        for w in (self.kind, self.methods, self.layers):
            w.blockSignals(False)

    def current_spec(self) -> FigureSpec:
        import dataclasses

        split = (lambda t: tuple(p.strip() for p in t.split(",") if p.strip()))
        return dataclasses.replace(self.spec, methods=split(self.methods.text()),
                                   layers=split(self.layers.text()))

    def current_options(self, dpi: int | None = None) -> FigureOptions:
        cmap = self.colormap.currentText()
        return FigureOptions(width=self.width_.currentText(), dpi=dpi or self.dpi.value(),
                             font=self.font.text().strip() or "DejaVu Sans",
                             font_size=self.font_size.value(),
                             colormap=None if cmap == "default" else cmap, alpha=self.alpha.value(),
                             title=self.title.text(), panel_labels=self.panel_labels.isChecked(),
                             colorbar=self.colorbar.isChecked(), heatmap=self.heatmap.isChecked())

    def remember(self) -> None:
        st, o = self.settings, self.current_options()
        for key, value in (("width", o.width), ("dpi", o.dpi), ("font", o.font),
                           ("font_size", o.font_size), ("colormap", o.colormap or ""),
                           ("alpha", o.alpha), ("panel_labels", o.panel_labels),
                           ("colorbar", o.colorbar), ("heatmap", o.heatmap)):
            st.set(f"figure/{key}", value)

    def changed(self, *_) -> None:
        self.remember()
        self._timer.start()

    # -- engine ---------------------------------------------------------------------------
    def _job(self, cls, fmt: str, dpi: int | None = None, out: str | None = None):
        s = self.w.session
        spec = self.current_spec()
        by_name = {(im.path or im.name): im for im in s.images}
        if s.image is not None:
            by_name.setdefault(s.image.path or s.image.name, s.image)
        images = tuple(by_name[n] for n in spec.images if n in by_name)
        return cls(spec=spec, options=self.current_options(dpi), images=images, known=self.known,
                   fmt=fmt, out=out)

    def _problem(self) -> str:
        try:
            self.current_options().check()
            self.current_spec().check()
        except Exception as exc:  # UserError: say it in the preview
            return str(exc)
        if self.w.session.model is None:
            return "Open a model first."
        return ""

    def request_preview(self) -> None:
        why = self._problem()
        if why:
            self.preview.setPixmap(QPixmap())
            self.preview.setText(why)
            return
        from convscope.engine.figures.spec import parse_width

        dpi = max(30, int(PREVIEW_WIDTH_PX / (parse_width(self.width_.currentText()) / 25.4)))
        job = self._job(J.MakeFigure, "png", dpi=dpi)
        self._preview_id = job.job_id
        self.info.setText("drawing the preview…")
        self.w.client.send(job)

    def copy_figure(self) -> None:
        if self._problem():
            return
        job = self._job(J.MakeFigure, "png")
        self._copy_id = job.job_id
        self.info.setText("drawing the figure for the clipboard…")
        self.w.client.send(job)

    def ask_export(self) -> None:
        fmt = self.settings.get("figure/format")
        folder = self.settings.get("figure/folder")
        name = f"{self.current_spec().kind}-figure{EXT.get(fmt, '.pdf')}"
        filters = ";;".join([FILTERS[fmt]] + [v for k, v in FILTERS.items() if k != fmt])
        path, chosen = QFileDialog.getSaveFileName(self, "Export figure", os.path.join(folder, name), filters)
        if path:
            self.export_to(path)

    def export_to(self, path: str) -> int | None:
        """Write the figure (and PATH.json) on the engine thread; returns the job id."""
        from convscope.engine.figures.spec import format_of

        try:
            fmt = format_of(path)
        except Exception as exc:
            self.info.setText(str(exc))
            return None
        if self._problem():
            return None
        self.settings.set("figure/format", fmt)
        self.settings.set("figure/folder", os.path.dirname(os.path.abspath(path)))
        job = self._job(J.ExportFigure, fmt, out=path)
        self.info.setText(f"writing {path}…")
        self.w.client.send(job)
        return job.job_id

    def _on_ready(self, r: J.FigureReady) -> None:
        if r.written:
            self.info.setText(f"saved {r.written[0]} and its recipe ({r.seconds:.1f} s)")
            self.w.statusBar().showMessage(f"figure saved: {r.written[0]}", 8000)
            return
        image = QImage.fromData(r.content, "PNG")
        if r.job_id == self._copy_id:
            QApplication.clipboard().setImage(image)
            self.info.setText(f"figure copied ({image.width()}×{image.height()} px)")
            return
        if r.job_id != self._preview_id:
            return
        self.last = r
        self.preview.setPixmap(QPixmap.fromImage(image))
        o = self.current_options()
        w_mm = o.width_mm()
        h_mm = w_mm * image.height() / max(1, image.width())
        full = (round(w_mm / 25.4 * o.dpi), round(h_mm / 25.4 * o.dpi))
        warnings = (r.recipe or {}).get("layout", {}).get("warnings", [])
        self.info.setText(f"{w_mm:.0f} × {h_mm:.0f} mm · {full[0]} × {full[1]} px at {o.dpi} dpi · "
                          f"preview drawn in {r.seconds:.2f} s"
                          + "".join(f"\n⚠ {w}" for w in warnings))

    def _on_failed(self, r: J.JobFailed) -> None:
        if r.channel in ("figure", "figure-export"):
            self.preview.setPixmap(QPixmap())
            self.preview.setText(r.message)
            self.info.setText("")


def open_dialog(window) -> FigureDialog:
    """The window's one Export figure dialog, started from the current view."""
    dialog = getattr(window, "figure_dialog", None)
    if dialog is None:
        dialog = window.figure_dialog = FigureDialog(window)
    dialog.start()
    dialog.show()
    dialog.raise_()
    return dialog
