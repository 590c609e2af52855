"""The window on models that need the user's say: Lambda layers (the banner's trust
button), custom layers with a MODEL.custom.py beside them (a dialog naming the file, never
run silently), the Model ▸ Read output as menu (--head), several outputs (the panel says)."""
import shutil

import pytest

from gui_support import open_window, settle, spin, wait_until
from gui_support import image_files, settings_file  # noqa: F401 (fixtures)
from test_any_model import LAYERS_PY, custom, lambda_model, two_heads_file  # noqa: F401 (fixtures)
from test_bridge import small_model_file  # noqa: F401 (fixture)
from test_heads import tutorial  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def window(qapp, small_model_file, image_files, settings_file):
    w = open_window(settings_file, model=small_model_file, images=[image_files[0]], view="cam")
    yield w
    w.close()
    spin(50)


def _failed_load(w):
    wait_until(lambda: w.notifications.isVisible() and not w.client.pending("load"), 120,
               "the load error")
    return w.notifications.current_text()


def _loaded(w, source):
    wait_until(lambda: w.session.model is not None and w.session.model.summary.source == source
               and not w.client.pending("load"), 120, f"{source} to open")
    settle(w, 120)


def test_lambda_model_opens_after_the_banner_trust_button(window, lambda_model):
    path = lambda_model[0]
    window.open_model(path)
    text = _failed_load(window)
    assert "Lambda" in text and "--trust-model" in text
    assert window.notifications.action.isVisible()
    assert window.notifications.action.text() == "Trust this file and open it"
    window.notifications.action.click()
    _loaded(window, path)


def test_sidecar_code_runs_only_after_the_dialog_says_yes(window, custom, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    model = tmp_path / "lab.keras"  # a copy: the sidecar stays out of the other tests' folder
    shutil.copy(custom["path"], model)
    (tmp_path / "lab.custom.py").write_text(LAYERS_PY)
    import keras

    keras.saving.get_custom_objects().pop("lab>ScaledConv", None)  # as in a fresh process
    before = window.session.model.summary.source
    window.open_model(str(model))
    text = _failed_load(window)
    assert "ScaledConv" in text
    assert window.notifications.action.text() == "Run lab.custom.py…"
    window.notifications.action.click()
    box = window.model_options.confirm_box
    assert box is not None and box.isVisible() and str(tmp_path / "lab.custom.py") in box.text()
    box.button(QMessageBox.StandardButton.No).click()  # No: nothing runs, nothing opens
    spin(300)
    assert not window.client.pending("load") and window.session.model.summary.source == before
    assert "lab>ScaledConv" not in keras.saving.get_custom_objects()
    window.open_model(str(model))
    _failed_load(window)
    window.notifications.action.click()
    window.model_options.confirm_box.button(QMessageBox.StandardButton.Yes).click()
    _loaded(window, str(model))


def test_read_output_as_menu_reopens_with_the_head(window, tutorial):
    path = tutorial[1]  # Dense(1), no labels: regression
    window.open_model(path)
    _loaded(window, path)
    head = window.model_panel.fields["head"].text()
    assert head.startswith("regression") and "output value" in head
    action = next(a for a in window.model_options.head_group.actions() if a.data() == "binary-logit")
    action.trigger()
    wait_until(lambda: window.session.model.summary.head.kind == "binary-logit"
               and not window.client.pending("load"), 120, "the reopened model")
    settle(window, 120)
    assert "--head binary-logit" in window.model_panel.fields["head"].text()
    assert action.isChecked()
    assert len(window.session.labels()) == 2


def test_multi_output_model_panel_says_views_explain_the_first(window, tmp_path):
    path = two_heads_file(tmp_path)
    window.open_model(path)
    _loaded(window, path)
    note = window.model_panel.note
    assert note.isVisible() and "2 outputs" in note.text() and "'species'" in note.text()
