"""Tools → Run over a folder… and Index a folder…, for real: offscreen Qt, the engine
thread, the demo model, a generated folder. A finished run opens as a sortable table whose
rows open that image in the CAM view with that method; an index puts a channel's top
dataset crops beside it in the Activations view."""
import os

import pytest
from PySide6.QtCore import Qt

from convscope.engine import jobs as J
from convscope.engine.dataset.demo_folder import write_folder
from convscope.engine.dataset.jobs import DatasetBatch, DatasetIndex
from gui_support import open_window, settings_file, settle, spin, wait_until  # noqa: F401

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cache")
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(d)  # indexes go here, not to the user's cache
    yield d
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="module")
def demo_window(qapp, settings_file, cache_dir):  # noqa: F811
    w = open_window(settings_file, model="demo", view="activations")
    yield w
    w.close()
    spin(50)


def test_run_over_a_folder_opens_a_sortable_table(demo_window, tmp_path):
    w = demo_window
    listing = write_folder(str(tmp_path / "shapes"), n=6, seed=9500)
    progress = []
    w.client.subscribe(J.Progress, lambda r: progress.append(r) if r.channel == "dataset" else None)
    w.dataset_tools.run(DatasetBatch(images=listing, out=str(tmp_path / "run"),
                                     methods=("gradcam", "gradcam++"), steps=4, batch_size=4))
    wait_until(lambda: w.dataset_tools.results is not None and w.dataset_tools.results.isVisible(),
               120, "the results window")
    res = w.dataset_tools.results
    assert res.model.rowCount() == 12
    assert progress and progress[-1].done == 6 and progress[-1].total == 6
    assert not res.figure.pixmap().isNull()
    # sorted by insertion AUC, descending: numbers, not text
    col = list(res.model.horizontalHeaderItem(c).text() for c in range(res.model.columnCount()))
    k = col.index("insertion_auc")
    res.table.sortByColumn(k, Qt.SortOrder.DescendingOrder)
    shown = [float(res.proxy.index(r, k).data()) for r in range(res.proxy.rowCount())]
    assert shown == sorted(shown, reverse=True) and len(set(shown)) > 1
    # a row: that image in the CAM view with that method
    index = res.proxy.index(0, 0)
    src = res.proxy.mapToSource(index)
    path = res.model.item(src.row(), 0).data(Qt.ItemDataRole.UserRole + 1)
    method = res.model.item(src.row(), 1).text()
    res.table.clicked.emit(index)
    assert w.session.image.path == path
    assert w.current_view().key == "cam"
    assert w.views[2].current_method() == method
    settle(w)
    res.export_to(str(tmp_path / "exported.pdf"))
    assert (tmp_path / "exported.pdf").read_bytes()[:5] == b"%PDF-"
    assert (tmp_path / "exported.csv").read_text().startswith("method,metric")


def test_a_bad_folder_is_a_message_not_a_crash(demo_window, tmp_path):
    w = demo_window
    w.dataset_tools.run(DatasetBatch(images=str(tmp_path / "missing"), out=str(tmp_path / "r")))
    wait_until(lambda: "no such folder" in w.notifications.text.text(), 60, "the message")


def test_index_a_folder_shows_dataset_examples_beside_a_channel(demo_window, tmp_path):
    w = demo_window
    folder = os.path.dirname(write_folder(str(tmp_path / "shapes"), n=8, seed=9600))
    w.dataset_tools.run(DatasetIndex(images=folder, layer="conv3", top=3))
    wait_until(lambda: w.dataset_tools.last_index is not None, 120, "the index")
    assert w.dataset_tools.last_index.files == 8 and "Indexed 8 images" in w.notifications.text.text()
    w.session.set_layer("conv3")
    w.view("activations")
    view = w.views[0]
    wait_until(lambda: view.act is not None and view.shown[1] == "conv3", 60, "activations")
    view.show_channel(5)
    wait_until(lambda: view.examples.isVisible(), 60, "the examples strip")
    assert view.examples.shown == ("conv3", 5, 3)
    assert "channel 5" in view.examples.title.text()
