"""How the window follows what the user did (issue 17): a layer picked in the tree moves
the CAM views, Cancel leaves each panel saying what it stopped, and several files that
could not be opened are all named. Functions of the MainWindow, kept out of it."""
from __future__ import annotations


def layer_picked(w, path: str) -> None:
    """A layer picked in the tree (click, ↑/↓) while a CAM view shows: the view follows it
    (README, F1), rather than staying on the default layer."""
    info = w.session.layer_info(path)
    if w.current_view().key in ("cam", "compare", "live") and info is not None \
            and info.spatial and info.class_name != "InputLayer":
        w.cam_options.set_follow_tree(True)


def show_filter(w, layer: str, channel: int) -> None:
    """Linked from the activation grid: the filter pattern of one channel."""
    w.session.set_layer(layer)
    w.filters_view.show_filter(layer, channel)
    w.view("filters")


def explain_channel(w, layer: str, channel: int) -> None:
    """Linked from the channel panel: where in the image one channel looks (issue 21)."""
    w.cam_options.target.set_spec(f"unit:{layer}:{channel}")
    w.view("cam")


def cancelled(w, channel: str) -> None:
    """Cancel (status bar): the panels outside the views say what was stopped (the views
    handle their own: gui/views/base.py)."""
    if channel == "predict":
        w.image_panel.predictions.set_message("predictions cancelled")
    elif channel == "load":
        w.session.loading = ""
        w.model_panel.show_loading(w.session.model.summary.name if w.session.model
                                   else "no model open")
        for v in w.views:
            v.invalidate()


def problems_text(problems: list) -> str:
    """One problem, or a sentence naming them all (one bar shows one message: the last
    alone would hide the others)."""
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} files could not be opened: " + "; ".join(problems)
