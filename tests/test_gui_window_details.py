"""Details of the real window (demo model, offscreen): nothing in the layer table or the
prediction bars is cut to "Co…" / "Afric…", Filters shows the size its patterns have,
the F1 guide names Export figure, sessions and Tools, Help is the last menu, and the
built-in dialog offers include_top."""
import json
import os

import pytest

from convscope.engine.qt_bridge import running_threads
from gui_support import SAMPLES, open_window, settings_file, spin  # noqa: F401

pytestmark = pytest.mark.timeout(300)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def demo_window(qapp, settings_file):
    w = open_window(settings_file, model="demo", images=[os.path.join(SAMPLES, "demo_star.png")],
                    view="filters")
    yield w
    w.close()
    spin(50)
    assert not running_threads()


def test_layer_table_shows_every_type_shape_and_count_whole(demo_window):
    tree = demo_window.model_panel.tree
    header, fm, model = tree.header(), tree.fontMetrics(), tree.model()
    rows = []

    def walk(parent):
        for r in range(model.rowCount(parent)):
            rows.append(model.index(r, 0, parent))
            walk(model.index(r, 0, parent))

    walk(tree.rootIndex())
    assert len(rows) >= 10
    for index in rows:
        for col in (1, 2, 3):  # type, output shape, parameters: never elided
            text = index.siblingAtColumn(col).data()
            assert header.sectionSize(col) >= fm.horizontalAdvance(text) + 6, (text, header.sectionSize(col))
        name = index.data()
        if header.sectionSize(0) < fm.horizontalAdvance(name) + 20:  # cut: the tooltip has it
            assert name in index.data(Qt.ItemDataRole.ToolTipRole)


def test_prediction_bars_show_imagenet_labels_whole(qapp):
    from convscope.engine.model import Prediction
    from convscope.gui.predictions import PredictionBars

    with open(os.path.join(ROOT, "convscope", "resources", "imagenet_classes.json"), encoding="utf-8") as f:
        labels = json.load(f)["labels"]
    picks = [386, 2, 948, 101, 385]  # African elephant, great white shark, Granny Smith, tusker, ...
    bars = PredictionBars()
    bars.resize(300, bars.sizeHint().height())
    bars.set_predictions([Prediction(i, labels[i], 0.2 - 0.03 * k) for k, i in enumerate(picks)])
    bars.show()
    spin(20)
    assert bars.shown_labels() == [labels[i] for i in picks]
    # far too narrow: elided, and the row's tooltip has the whole label
    bars.resize(120, bars.height())
    shown = bars.shown_labels()
    assert shown[0] != labels[386] and shown[0].endswith("…")
    assert labels[386] in bars.tooltip_at(2 + 0.5 * 24)
    bars.close()


def test_filters_size_box_shows_the_size_patterns_have(demo_window):
    """The demo takes 96x96 inputs only: its patterns are 96 px whatever the setting."""
    view = demo_window.filters_view
    h, w = demo_window.session.model.summary.input_shape[:2]
    assert (h, w) == (96, 96)
    assert view.size.value() == 96 and not view.size.isEnabled()
    assert "96" in view.size.toolTip()
    assert demo_window.settings.get("filters/size") == 64  # the user's choice is kept


def test_help_is_the_last_menu_and_the_guide_names_figures_sessions_tools(demo_window):
    from convscope.gui.window_actions import GUIDE

    menus = [a.text() for a in demo_window.menuBar().actions()]
    assert menus[-1] == "Help" and "Tools" in menus
    for words in ("Export figure", "Ctrl+Shift+E", "session", "Tools", "Run over a folder",
                  "Index a folder"):
        assert words in GUIDE, words


def test_builtin_dialog_offers_include_top(qapp):
    from convscope.gui.model_dialogs import BuiltinDialog

    d = BuiltinDialog()
    name = d.list.currentItem().data(256)
    assert d.include_top.isChecked() and d.spec() == f"builtin:{name}"
    d.include_top.setChecked(False)
    assert d.spec() == f"builtin:{name}?include_top=false"
    d.random.setChecked(True)
    assert d.spec() == f"builtin:{name}?weights=none&include_top=false"
    d.close()
