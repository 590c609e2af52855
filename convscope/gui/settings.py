"""What ConvScope remembers between runs, typed and versioned, over QSettings.

QSettings keeps window geometry, recent files and view options. Tests and `--screenshot`
pass their own file (`Settings.at(path)`), so they never read or write the user's.
"""
from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QSettings

from convscope.engine.explore import activation_view
from convscope.engine.filters import spec as filter_spec
from convscope.engine.cam import registry as cam_registry

VERSION = 1
MAX_RECENT = 10

# view option -> default (the type of the default is the type read back)
DEFAULTS = {
    "activations/per_row": 0,  # 0: automatic
    "activations/normalise": activation_view.DEFAULT_NORMALISATION,
    "activations/colormap": activation_view.DEFAULT_COLORMAP,
    "filters/range": "0-15",
    "filters/size": filter_spec.DEFAULT_SIZE,
    "filters/steps": filter_spec.DEFAULT_STEPS[filter_spec.DEFAULT_MODE],
    "filters/mode": filter_spec.DEFAULT_MODE,  # the same default as the CLI and the API
    "cam/method": cam_registry.DEFAULT_METHOD,
    "cam/alpha": cam_registry.DEFAULT_ALPHA,
    "cam/colormap": cam_registry.DEFAULT_COLORMAP,
    "cam/follow_tree": False,
    "view/tab": "activations",
    # Export figure dialog (gui/figure_dialog.py): the last choices
    "figure/width": "double",
    "figure/dpi": 300,
    "figure/font": "DejaVu Sans",
    "figure/font_size": 7.0,
    "figure/colormap": "",  # "": jet for maps, viridis for activations
    "figure/alpha": 0.4,
    "figure/panel_labels": False,
    "figure/colorbar": True,
    "figure/heatmap": True,
    "figure/format": "pdf",
    "figure/folder": "",
    "explore/memory_fraction": 0.25,  # of available RAM for every layer's activations/gradients
}


class Settings:
    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings or QSettings("ConvScope", "ConvScope")
        self._migrate()

    @classmethod
    def at(cls, path: str) -> "Settings":
        """Settings stored in an INI file at `path` (tests, screenshots)."""
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return cls(QSettings(path, QSettings.Format.IniFormat))

    def _migrate(self) -> None:
        version = self.q.value("version", 0, type=int)
        if version > VERSION:  # written by a newer ConvScope: start afresh, keep files
            for key in DEFAULTS:
                self.q.remove(key)
        self.q.setValue("version", VERSION)

    # -- view options ---------------------------------------------------------------------
    def get(self, key: str):
        default = DEFAULTS[key]
        value = self.q.value(key, default)
        try:
            if isinstance(default, bool):
                return value if isinstance(value, bool) else str(value).lower() in ("true", "1")
            return type(default)(value)
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value) -> None:
        if key not in DEFAULTS:
            raise KeyError(key)
        self.q.setValue(key, value)

    # -- recent files ---------------------------------------------------------------------
    def recent(self, kind: str) -> list[str]:
        value = self.q.value(f"recent/{kind}", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add_recent(self, kind: str, item: str) -> None:
        items = [item] + [v for v in self.recent(kind) if v != item]
        self.q.setValue(f"recent/{kind}", items[:MAX_RECENT])

    # -- window ---------------------------------------------------------------------------
    def geometry(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self.q.value("window/geometry"), self.q.value("window/state")

    def save_geometry(self, geometry: QByteArray, state: QByteArray) -> None:
        self.q.setValue("window/geometry", geometry)
        self.q.setValue("window/state", state)

    def sync(self) -> None:
        self.q.sync()
