"""Tools ▸ Representation similarity (CKA)… in a real offscreen window: the engine thread
computes linear CKA between the layers of two checkpoints of a real recorded run (or one
against itself) over a folder of real PNG files; the heatmap shows the matrix, the layer
names on hover."""
import numpy as np
import pytest

from gui_support import open_window, settings_file, settle, wait_until  # noqa: F401
from test_cka import cka_direct
from test_gui_run import run_folder  # noqa: F401 (the recorded run: a module fixture)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory):
    from PIL import Image

    from convscope.engine.demo_shapes import make_batch
    from test_learning import SIZE

    folder = tmp_path_factory.mktemp("cka-images")
    pics, _, _ = make_batch(10, 11, size=SIZE)
    for i, p in enumerate(pics):
        Image.fromarray(p).save(folder / f"shape_{i:02d}.png")
    few = tmp_path_factory.mktemp("cka-few")
    for i in range(2):
        Image.fromarray(pics[i]).save(few / f"shape_{i}.png")
    return folder, few


def _move(widget, point):
    """A real mouse-move event at `point` (QTest's mouseMove moves no mouse offscreen)."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    local = QPointF(point)
    event = QMouseEvent(QMouseEvent.Type.MouseMove, local, widget.mapToGlobal(local),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def _wait_result(w):
    wait_until(lambda: w.cka.result is not None, 120, "the CKA heatmap")
    return w.cka.result


def test_cka_heatmap_of_a_model_against_itself_and_another_checkpoint(qapp, settings_file,
                                                                      run_folder, png_folder):
    from PySide6.QtCore import QPoint

    from convscope.engine import open_model
    from convscope.engine.learning import open_run
    from convscope.engine.learning.compare import spatial_paths
    from convscope.gui.cka_window import heatmap_rgb

    folder, few = png_folder
    run = open_run(run_folder)
    ck = {e: run.checkpoint(e) for e in run.epochs}
    w = open_window(settings_file, model=ck[2], view="cam")
    try:
        # A against itself: the diagonal is 1 (CKA(X, X) = 1), the matrix symmetric
        assert w.cka.compute(str(folder), None, batch_size=4)
        r = _wait_result(w)
        a = open_model(ck[2])
        layers = spatial_paths(a)
        assert r.layers_a == r.layers_b == tuple(layers) and len(layers) >= 3
        np.testing.assert_allclose(np.diag(r.matrix), 1.0, atol=1e-6)
        np.testing.assert_allclose(r.matrix, r.matrix.T, atol=1e-9)
        assert r.images == 10 and w.cka.view.isVisible()
        np.testing.assert_array_equal(w.cka.view.image.image, heatmap_rgb(r.matrix))
        # A (epoch 2) against B (epoch 0), one minibatch holding all 10 images: equal to
        # the paper's formula on the layers' outputs, computed here in plain numpy
        assert w.cka.compute(str(folder), ck[0], batch_size=16)
        r = _wait_result(w)
        b = open_model(ck[0])
        from convscope.engine.images import load_image

        imgs = [load_image(str(p)) for p in sorted(folder.iterdir())]
        acts_a = a.activations(imgs, layers=layers)
        acts_b = b.activations(imgs, layers=layers)
        want = np.array([[cka_direct(np.asarray(acts_a[p], np.float64).reshape(10, -1),
                                     np.asarray(acts_b[q], np.float64).reshape(10, -1))
                          for q in layers] for p in layers])
        np.testing.assert_allclose(r.matrix, want, rtol=1e-6, atol=1e-9)
        assert not np.allclose(np.diag(r.matrix), 1.0, atol=1e-3)  # training changed them
        assert r.name_b == "epoch_000.keras"
        np.testing.assert_array_equal(w.cka.view.image.image, heatmap_rgb(r.matrix))  # rows: A
        # hover: the two layer names and the value of the cell under the mouse
        view = w.cka.view
        settle(w)
        pos = view.plot.mapFromScene(view.scene_pos(2, 0))
        _move(view.plot.viewport(), QPoint(int(pos.x()), int(pos.y())))
        wait_until(lambda: layers[2] in view.hover.text(), 10, "the hover text")
        assert view.hover.text() == f"A {layers[2]} × B {layers[0]}: CKA {r.matrix[2, 0]:.4f}"
        # too few images: one message, no heatmap
        assert w.cka.compute(str(few), None)
        wait_until(lambda: "at least 4 images" in (w.notifications.current_text() or ""), 60,
                   "the too-few-images message")
        assert w.cka.result is None
    finally:
        w.close()
