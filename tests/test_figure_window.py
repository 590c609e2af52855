"""Export figure in the window: the dialog starts from the view, previews off the GUI
thread, reuses the maps on screen, remembers its options, writes and copies the figure."""
import json

import pytest
from PySide6.QtWidgets import QApplication

from gui_support import image_files, settings_file, settle, wait_until, window  # noqa: F401
from test_bridge import small_model_file  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(300)


def test_export_figure_from_the_cam_view(window, tmp_path):
    from pypdf import PdfReader

    window.view("cam")
    settle(window)
    shown = window.cam_view.result
    dialog = window.actions_.ask_figure()
    assert dialog.kind.currentText() == "cam" and dialog.spec.methods == (shown.method,)
    wait_until(lambda: dialog.last is not None, 120, "the preview")
    assert not dialog.preview.pixmap().isNull()
    # the map on screen travelled with the job and was drawn as it is, not recomputed
    maker = window.client.bridge.worker._figures
    assert maker._data.grid.cells[0][0].heatmap is shown.heatmap

    first = dialog.last
    dialog.width_.setCurrentText("single")  # a look-only change: redraw, same arrays
    wait_until(lambda: dialog.last is not first, 120, "the new preview")
    assert maker._data.grid.cells[0][0].heatmap is shown.heatmap
    assert window.settings.get("figure/width") == "single"

    out = tmp_path / "fig.pdf"
    dialog.export_to(str(out))
    wait_until(lambda: (tmp_path / "fig.pdf.json").exists(), 120, "the exported figure")
    text = PdfReader(out).pages[0].extract_text()
    title = {"gradcam": "Grad-CAM"}.get(shown.method, shown.method)
    assert title in text and shown.label in text
    recipe = json.loads((tmp_path / "fig.pdf.json").read_text())
    assert recipe["options"]["width"] == "single" and recipe["figure"]["kind"] == "cam"

    QApplication.clipboard().clear()
    dialog.copy_figure()
    wait_until(lambda: not QApplication.clipboard().image().isNull(), 120, "the copied figure")
    img = QApplication.clipboard().image()
    assert abs(img.width() - round(89 / 25.4 * dialog.dpi.value())) <= 2
    dialog.close()


def test_export_figure_from_compare_takes_the_strip(window, image_files):
    window.open_inputs(__import__("convscope.gui.inputs", fromlist=["from_paths"]).from_paths(image_files[1:2]))
    window.view("compare")
    settle(window, 180)
    dialog = window.actions_.ask_figure()
    assert dialog.spec.kind == "methods"
    assert len(dialog.spec.images) == len(window.session.images) >= 2
    assert set(dialog.spec.methods) == set(window.session.model.cam_methods)
    wait_until(lambda: dialog.last is not None and dialog.last.job_id == dialog._preview_id,
               180, "the methods preview")
    grid = window.client.bridge.worker._figures._data.grid
    assert len(grid.cells) == len(window.session.images)
    dialog.close()
