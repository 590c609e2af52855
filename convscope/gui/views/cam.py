"""CAM: where in the image the evidence for a class lies, by the chosen method."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QSpinBox

from convscope.engine import jobs as J
from convscope.engine.cam import registry
from convscope.engine.targets import parse as parse_target
from convscope.engine.targets import masks as MK

from ..canvas import ImageCanvas
from ..colorbar import ColorBar
from .base import View, caption
from .cam_options import GROUPS, CamControls, draw
from .method_options import MethodOptions
from .target_bar import RegionBox, TargetBar


class CamView(View):
    key, title, channel = "cam", "CAM", "cam"

    def __init__(self, session, client, settings, options, parent=None):
        super().__init__(session, client, settings, parent)
        self.options = options
        self.method = QComboBox()
        self.method.setToolTip("How the map is computed")
        self.method.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.max_n = QSpinBox(minimum=1, maximum=4096,
                              value=registry.get("faster-scorecam").options["max_n"])
        self.max_n.setToolTip("Faster Score-CAM: channels kept (those with the largest spread)")
        self.max_n_label = caption("N")
        self.cam_controls = CamControls(options, session)
        self.method_options = MethodOptions()
        self.add_controls(caption("method"), self.method, self.max_n_label, self.max_n,
                          self.method_options, self.cam_controls, 1)
        self.canvas = ImageCanvas("")
        self.canvas.setToolTip("Hover for the heat under the mouse · double-click: reset zoom")
        self.info = caption("")
        self.readout = caption("hover over the map for the heat under the mouse")
        for label in (self.info, self.readout):  # a narrow window wraps them, not widens
            label.setWordWrap(True)
        self.legend = ColorBar("no evidence", "strong evidence", options.colormap)
        bottom = QHBoxLayout()
        bottom.addWidget(self.readout, 1)
        bottom.addWidget(self.legend)
        # issue 21: what the map explains (class, output, region, value, channel, spec)
        self.target_bar = TargetBar(options.target, session)
        self.layout_.addWidget(self.target_bar)
        self.region = RegionBox(self.canvas)
        self.mask: J.MaskReady | None = None
        self.add_picture(self.canvas)
        self.layout_.addWidget(self.info)
        self.layout_.addLayout(bottom)
        self.result: J.CamReady | None = None
        self.overlay: np.ndarray | None = None
        self._wanted_method = settings.get("cam/method")

        client.subscribe(J.CamReady, self._on_ready, channel=self.channel)
        client.subscribe(J.MaskReady, self._on_mask, channel=J.PredictMask.channel)
        self.target_bar.sigMask.connect(self._on_mask_toggled)
        self.region.sigMoved.connect(self._on_box_moved)
        session.sigModelChanged.connect(self._on_model_changed)
        session.sigImageChanged.connect(self._on_image_changed)
        session.sigLayerChanged.connect(self._on_layer_changed)
        options.sigChanged.connect(self.invalidate)
        options.sigLookChanged.connect(self._draw)
        self.method.currentIndexChanged.connect(self._on_method_changed)
        self.max_n.valueChanged.connect(self.invalidate)
        self.method_options.sigChanged.connect(self.invalidate)
        self.canvas.sigHover.connect(self._on_hover)
        self._fill_methods()

    # -- methods --------------------------------------------------------------------------
    def _fill_methods(self) -> None:
        methods = self.session.model.cam_methods if self.session.model else ()
        self.method.blockSignals(True)
        self.method.clear()
        for group, kind in GROUPS:  # a disabled header row per group
            names = [m for m in methods if registry.get(m).kind == kind]
            if not names:
                continue
            self.method.addItem(f"— {group} —", None)
            if isinstance(self.method.model(), QStandardItemModel):
                self.method.model().item(self.method.count() - 1).setEnabled(False)
            for m in names:
                self.method.addItem(registry.title(m), m)
                self.method.setItemData(self.method.count() - 1, registry.tip(m),
                                        Qt.ItemDataRole.ToolTipRole)
        if self.method.currentData() is None and self.method.count() > 1:
            self.method.setCurrentIndex(1)
        wanted = registry.find(self._wanted_method, among=methods) if methods else None
        if wanted:
            self.method.setCurrentIndex(self.method.findData(wanted))
        self.method.blockSignals(False)
        self._show_max_n()

    def set_method(self, method: str) -> bool:
        """Choose a method by name (any spelling); False if this model has no such method."""
        self._wanted_method = method
        found = registry.find(method, among=self.session.model.cam_methods if self.session.model else ())
        if found:
            self.method.setCurrentIndex(self.method.findData(found))
        return found is not None

    def current_method(self) -> str | None:
        return self.method.currentData()

    def _show_max_n(self) -> None:
        visible = self.current_method() == "faster-scorecam"
        self.max_n.setVisible(visible)
        self.max_n_label.setVisible(visible)
        self.method_options.show_for(self.current_method() or "")
        self.cam_controls.show_for(self.current_method())

    def _on_method_changed(self, *_):
        if self.current_method():
            self._wanted_method = self.current_method()
            self.settings.set("cam/method", self._wanted_method)
        self._show_max_n()
        self.invalidate()

    def _on_model_changed(self) -> None:
        self.result = self.overlay = self.mask = None
        self._fill_methods()
        self.invalidate()

    def _on_layer_changed(self) -> None:
        if self.options.follow_tree:
            self.invalidate()

    # -- requests -------------------------------------------------------------------------
    def request(self) -> None:
        why = self.missing_input(need_spatial_layer=self.options.follow_tree)
        if not why and not self.session.model.cam_methods:
            why = self.session.model.cam_note or "No class activation map methods available."
        if why:
            self.result = self.overlay = None
            self.canvas.show_message(why)
            self.info.setText("")
            return
        s = self.session
        method = self.current_method()
        if self.target_bar.mask.isChecked() and self.mask is None:
            self.client.send(J.PredictMask(image=s.image))
        self.info.setText(f"computing {registry.title(method)}…")
        self.client.send(J.Cam(image=s.image, method=method,
                               layer=s.layer if self.options.follow_tree else None,
                               class_index=self.options.class_index,
                               max_n=self.max_n.value() if method == "faster-scorecam" else None,
                               options=self.method_options.options(method),
                               target=self.options.target.spec))

    def _on_ready(self, r: J.CamReady) -> None:
        self.result = r
        shape = "×".join(map(str, r.heatmap.shape))
        spec = registry.get(r.method)
        where = (f"layer {r.layer} ({shape})" if spec.kind == "cam"
                 else f"{shape} patch positions" if r.method == "occlusion"
                 else f"input pixels ({shape})")
        extra = ""
        err = r.completeness_error
        if err is not None:
            extra = f" · completeness error {100 * err:.2f}%" + (" (add steps)" if err >= 0.01 else "")
        what = (f"explains <b>{r.label}</b> (target {r.target})" if r.target
                else f"class <b>{r.label}</b> ({r.class_index})")
        self.info.setText(f"<b>{spec.title}</b> · {where} · {what} · score {r.score:.4g} · "
                          f"{1000 * r.seconds:.0f} ms{extra}")
        self._draw()

    def job_failed(self, result) -> None:
        self.result = self.overlay = None
        self.canvas.show_message(result.message)
        self.info.setText("")

    def _draw(self) -> None:
        if self.target_bar.mask.isChecked() and self.mask is not None:
            self._draw_mask()
            return
        if self.result is None or self.result.heatmap is None:
            return
        self.overlay = draw(self.result, self.options.alpha, self.options.colormap)
        self.canvas.set_image(self.overlay)
        self._show_region()
        r = self.result  # a map zero everywhere is said to be empty, not shown as a tint
        self.canvas.set_note(J.no_evidence_text(r.label, r.layer if registry.get(r.method).kind == "cam"
                                              else None) if r.no_evidence else "")
        if registry.get(self.result.method).signed:
            self.legend.set_colormap("coolwarm")
            self.legend.set_text("against", f"for {self.result.label}")
        else:
            self.legend.set_colormap(self.options.colormap)
            self.legend.set_text("no evidence", f"strong evidence for {self.result.label}")

    def _on_hover(self, row: int, col: int) -> None:
        if self.result is None or row < 0 or self.overlay is None:
            return
        hm = self.result.heatmap
        H, W = self.overlay.shape[:2]
        y, x = min(hm.shape[0] - 1, row * hm.shape[0] // H), min(hm.shape[1] - 1, col * hm.shape[1] // W)
        self.readout.setText(f"heat {hm[y, x]:.3f} at map cell (y {y}, x {x}) · image pixel "
                             f"(y {row}, x {col})")

    def figure(self) -> np.ndarray | None:
        return self.overlay

    # -- targets (issue 21): the predicted mask and the region box ---------------------------
    def _on_image_changed(self) -> None:
        self.mask = None
        self.invalidate()

    def _on_mask_toggled(self, on: bool) -> None:
        if on and self.mask is None and self.session.image is not None:
            self.client.send(J.PredictMask(image=self.session.image))
        elif not on:
            self.readout.setText("hover over the map for the heat under the mouse")
        self._draw()

    def _on_mask(self, r: J.MaskReady) -> None:
        self.mask = r
        if self.target_bar.mask.isChecked():
            self._draw_mask()

    def _draw_mask(self) -> None:
        """The predicted mask over the image, its classes named below, the box on top."""
        r, image = self.mask, self.session.image
        if r is None or image is None:
            return
        picture = MK.mask_picture(image.pixels, r.classes)
        self.canvas.set_image(picture)
        self.canvas.set_note("")
        total = max(1, sum(n for _, n in r.counts))
        self.readout.setText("mask of <b>" + r.output + "</b>: " + " ".join(
            f'<span style="color: rgb{tuple(int(v) for v in MK.PALETTE[c % len(MK.PALETTE)])}">'
            f"■</span> {r.names[c]} {100 * n / total:.0f}%" for c, n in r.counts)
            + " · drag the box over the region to explain")
        self._show_region()

    def _input_hw(self) -> tuple | None:
        if self.mask is not None:
            return self.mask.input_hw
        shape = getattr(getattr(self.session.model, "summary", None), "input_shape", None) or ()
        return (shape[0], shape[1]) if len(shape) >= 2 and shape[0] and shape[1] else None

    def _show_region(self) -> None:
        spec, image = self.options.target.spec, self.session.image
        hw = self._input_hw()
        if not spec.startswith("region:") or image is None or hw is None:
            self.region.hide()
            return
        try:
            box = parse_target(spec).box
        except Exception:  # noqa: BLE001 - a bad spec: the engine's message is shown
            self.region.hide()
            return
        H, W = image.pixels.shape[:2]
        self.region.show_box(MK.box_to_image(box, (H, W), hw), (H, W))

    def _on_box_moved(self, box: tuple) -> None:
        """The user left the box: explain that region (its class kept if one was given)."""
        image, hw = self.session.image, self._input_hw()
        if image is None or hw is None:
            return
        H, W = image.pixels.shape[:2]
        x0, y0, x1, y1 = MK.box_to_input(box, (H, W), hw)
        if x1 <= x0 or y1 <= y0:
            return
        old = self.options.target.spec
        cls = parse_target(old).cls if old.startswith("region:") else None
        self.options.target.set_spec(f"region:{x0},{y0},{x1},{y1}" + ("" if cls is None else f":{cls}"))
        if self.target_bar.mask.isChecked():
            self.target_bar.mask.setChecked(False)  # the map of the region the user chose
