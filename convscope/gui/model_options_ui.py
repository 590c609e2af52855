"""How the window opens a model beyond its spec (engine.model_options): the user's code,
trust in Lambda layers, and the head's kind.

- Model ▸ Read output as: *Guess from the model*, or one of engine.heads.KINDS: reopens
  the model on screen read that way (the CLI's --head).
- A file that needs custom classes fails with a one-line error; when a `MODEL.custom.py`
  lies next to it, the error banner offers *Run MODEL.custom.py…*, which asks first in a
  dialog that names the file (never run silently), then reopens with that code.
- A file with Lambda layers fails the same way; the banner's *Trust this file and open it*
  reopens it with trust_model (Keras' safe_mode=False).
- The command line's --custom-objects / --trust-model / --head apply to the model the
  window starts with.
"""
from __future__ import annotations

import os

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMessageBox

from convscope.engine.heads import KINDS
from convscope.engine.model_options import sidecar_code

GUESS = "Guess from the model"


class ModelOptions:
    def __init__(self, window, startup):
        self.w = window
        self.startup_spec = startup.model
        self.startup_options = {"custom_objects": tuple(getattr(startup, "custom_objects", ()) or ()),
                                "trust_model": bool(getattr(startup, "trust_model", False)),
                                "head": getattr(startup, "head", None)}
        self.pending: tuple[str, dict] | None = None  # the load in flight
        self.loaded: tuple[str, dict] | None = None  # the model on screen
        self.confirm_box: QMessageBox | None = None
        self._first = True
        self._build_menu()

    # -- options per load ----------------------------------------------------------------
    def options_for(self, spec: str, given: dict) -> dict:
        """The options a load of `spec` uses: the command line's for the first model, then
        only what was given (another file needs its own code and its own trust)."""
        options = {"custom_objects": (), "trust_model": False, "head": None}
        if self._first and spec == self.startup_spec:
            options.update(self.startup_options)
        self._first = False
        options.update({k: v for k, v in given.items() if k in options})
        options["custom_objects"] = tuple(options["custom_objects"] or ())
        self.pending = (spec, options)
        return options

    def on_loaded(self, summary) -> None:
        if self.pending is not None:
            self.loaded = self.pending
        kind = summary.head.kind if summary.head.forced else None
        for action in self.head_group.actions():
            action.setChecked(action.data() == kind)
        for action in self.head_group.actions():
            action.setEnabled(summary.head.classifier or action.data() is None)

    # -- the head menu -------------------------------------------------------------------
    def _build_menu(self) -> None:
        bar = self.w.menuBar()
        menu = self.menu = bar.addMenu("Model")
        help_action = next((a for a in bar.actions() if a.text() == "Help"), None)
        if help_action is not None:  # File, View, Model, Help
            bar.removeAction(menu.menuAction())
            bar.insertMenu(help_action, menu)
        read = menu.addMenu("Read output as")
        read.setToolTipsVisible(True)
        self.head_group = QActionGroup(self.w)
        self.head_group.setExclusive(True)
        for kind in (None,) + KINDS:
            action = QAction(GUESS if kind is None else kind, self.w)
            action.setCheckable(True)
            action.setData(kind)
            action.setChecked(kind is None)
            action.setStatusTip("How the model's output is read (the command line's --head)")
            action.triggered.connect(lambda _=False, k=kind: self.read_as(k))
            self.head_group.addAction(action)
            read.addAction(action)

    def read_as(self, kind: str | None) -> None:
        """Reopen the model on screen with its output read as `kind` (None: guess)."""
        if self.loaded is None:
            return
        spec, options = self.loaded
        self.w.open_model(spec, **dict(options, head=kind))

    # -- the error banner's offers ---------------------------------------------------------
    def remedy_action(self, remedy) -> dict:
        """The banner button for engine.errors.Remedy kinds trust_model / custom_objects."""
        if remedy is None or self.pending is None:
            return {}
        spec, options = self.pending
        if remedy.kind == "trust_model":
            return {"action": "Trust this file and open it",
                    "callback": lambda: self.w.open_model(spec, **dict(options, trust_model=True))}
        if remedy.kind == "custom_objects":
            code = sidecar_code(spec)
            if code is None:
                return {}
            return {"action": f"Run {os.path.basename(code)}…",
                    "callback": lambda: self.ask_to_run(spec, code, options)}
        return {}

    def ask_to_run(self, spec: str, code: str, options: dict) -> None:
        """A dialog that names the file; only Yes runs it (window-modal, not blocking)."""
        box = self.confirm_box = QMessageBox(self.w)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Run your model's code?")
        box.setText(f"{os.path.basename(spec)} needs custom layers. ConvScope found their code "
                    f"next to it:\n\n{code}\n\nRunning it executes that Python file with your "
                    "permissions. Run it only if you trust it.")
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.button(QMessageBox.StandardButton.Yes).setText(f"Run {os.path.basename(code)}")

        def done(result):
            self.confirm_box = None
            if result == QMessageBox.StandardButton.Yes:
                codes = tuple(options.get("custom_objects") or ()) + (code,)
                self.w.open_model(spec, **dict(options, custom_objects=codes))

        box.finished.connect(done)
        box.open()
