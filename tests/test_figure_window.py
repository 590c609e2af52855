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


def test_export_figure_from_compare_is_the_image_on_screen_and_its_class(window, image_files,
                                                                        small_model_file):
    """Compare's figure: the image on screen x the methods shown (not the whole strip), its
    row labelled with the class its maps explain; "all open images" adds the others, each
    explained for its own top prediction."""
    from convscope.gui.inputs import from_paths

    window.open_inputs(from_paths(image_files[1:2]))
    assert len(window.session.images) >= 2
    window.cam_options.set_class(1)  # a fixed class, chosen on screen
    window.view("compare")
    settle(window, 180)
    shown = window.compare_view
    assert {r.class_index for r in shown.results.values() if r.heatmap is not None} == {1}
    dialog = window.actions_.ask_figure()
    s = dialog.spec
    on_screen = window.session.image
    assert s.kind == "methods" and s.images == (on_screen.path or on_screen.name,)
    assert s.methods == tuple(shown.tiles) and s.classes == (1,)
    wait_until(lambda: dialog.last is not None and dialog.last.job_id == dialog._preview_id,
               180, "the methods preview")
    data = window.client.bridge.worker._figures._data
    assert len(data.grid.cells) == 1 and data.grid.row_class == [1]
    # the maps on screen travelled with the job: drawn as they are, not recomputed
    assert any(c.heatmap is r.heatmap for c in data.grid.cells[0] for r in shown.results.values()
               if not isinstance(c, str))

    dialog.all_images.setChecked(True)
    assert len(dialog.spec.images) == len(window.session.images)
    assert dialog.spec.classes == (1,) + (None,) * (len(window.session.images) - 1)
    wait_until(lambda: dialog.last is not None and dialog.last.job_id == dialog._preview_id
               and len(window.client.bridge.worker._figures._data.grid.cells) > 1,
               240, "the all-images preview")
    data = window.client.bridge.worker._figures._data
    from convscope.engine import open_model

    model = open_model(small_model_file)  # an independent copy, on this thread
    for r, image in enumerate(data.images[1:], start=1):
        top = model.predict(image, top=1)[0].index
        assert data.grid.row_class[r] == top  # each other image: its own top prediction
    dialog.all_images.setChecked(False)
    dialog.close()
