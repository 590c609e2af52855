"""`convscope doctor`: what this installation found, for bug reports.

Python, ConvScope (version, where it is installed), TensorFlow / Keras and the devices
TensorFlow sees, Qt (PySide6 version, the platform plugin Qt will pick and whether its
system libraries are there), OpenCV's video back-ends, Ray, the folders ConvScope and Keras
cache into, and free memory. Each probe is independent: one that fails prints what failed
and the others still run. Nothing here opens a window or a model.

    convscope doctor [--json]
"""
from __future__ import annotations

import json
import os
import platform
import sys


def _probe(fn):
    try:
        return fn()
    except Exception as exc:  # a broken dependency is exactly what doctor must report
        return {"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"}


def _convscope() -> dict:
    import convscope

    return {"version": convscope.__version__,
            "location": os.path.dirname(os.path.abspath(convscope.__file__)),
            "resources": len(__import__("convscope.resources", fromlist=["listing"]).listing())}


def _python() -> dict:
    return {"version": platform.python_version(), "executable": sys.executable,
            "platform": platform.platform()}


def _tensorflow() -> dict:
    from .engine import tf_runtime

    chosen = tf_runtime.init("auto")  # imports TensorFlow quietly, as every command does
    import tensorflow as tf

    build = tf.sysconfig.get_build_info()
    devices = [f"{d.device_type}:{d.name.split(':')[-1]}" for d in tf.config.list_physical_devices()]
    out = {"version": tf.__version__, "devices": devices, "convscope_uses": chosen,
           "cuda_build": bool(build.get("is_cuda_build")),
           "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")}
    import keras

    out["keras"] = f"{keras.__version__} (backend {keras.backend.backend()})"
    return out


def _qt() -> dict:
    import PySide6
    from PySide6 import QtCore

    from .gui import qt_libraries

    name = qt_libraries.platform_name()
    out = {"pyside6": PySide6.__version__, "qt": QtCore.qVersion(),
           "platform": name or "(the system's own)",
           "display": os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY") or "none"}
    plugin = qt_libraries.plugin_path("xcb")
    if plugin:
        missing = qt_libraries.missing_libraries(plugin)
        out["xcb_libraries"] = ("all present" if not missing else
                                "missing " + ", ".join(missing) + "; sudo apt-get install "
                                + " ".join(dict.fromkeys(map(qt_libraries.package_for, missing))))
    return out


def _opencv() -> dict:
    import cv2
    from cv2 import videoio_registry as reg

    def names(ids):
        return [reg.getBackendName(b) for b in ids]

    return {"version": cv2.__version__, "video_read": names(reg.getStreamBackends()),
            "video_write": names(reg.getWriterBackends()),
            "camera": names(reg.getCameraBackends())}


def _ray() -> dict:
    from importlib import metadata

    try:
        return {"version": metadata.version("ray")}
    except metadata.PackageNotFoundError:
        return {"version": None,
                "note": "not installed (batch --runner ray needs: pip install 'convscope[distributed]')"}


def _folders() -> dict:
    from .engine.dataset.examples import default_index_dir

    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    out = {"keras_weights": os.path.join(keras_home, "models"),
           "examples_index": default_index_dir()}
    from PySide6.QtCore import QCoreApplication, QSettings, QStandardPaths

    QCoreApplication.setOrganizationName("ConvScope")
    QCoreApplication.setApplicationName("ConvScope")
    out["settings"] = os.environ.get("CONVSCOPE_SETTINGS") or QSettings().fileName()
    out["sessions_autosave"] = os.environ.get("CONVSCOPE_DATA_DIR") or QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.AppDataLocation)
    return out


def _memory() -> dict:
    import psutil

    from .engine.memory import budget, human

    vm = psutil.virtual_memory()
    return {"available": human(vm.available), "total": human(vm.total),
            "convscope_budget": human(budget()), "cpus": os.cpu_count()}


SECTIONS = (("Python", _python), ("ConvScope", _convscope), ("TensorFlow", _tensorflow),
            ("Qt", _qt), ("OpenCV", _opencv), ("Ray", _ray), ("Folders", _folders),
            ("Memory", _memory))


def report() -> dict:
    return {name: _probe(fn) for name, fn in SECTIONS}


def _text(doc: dict) -> str:
    lines = []
    for section, values in doc.items():
        lines.append(f"{section}:")
        for key, value in values.items():
            if isinstance(value, list):
                value = ", ".join(value) if value else "(none)"
            elif value is None:
                value = "(none)"
            lines.append(f"  {key:<18} {value}")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "doctor":
        argv = argv[1:]
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    unknown = [a for a in argv if a != "--json"]
    if unknown:
        print(f"error: doctor takes only --json, not {' '.join(unknown)}", file=sys.stderr)
        return 2
    doc = report()
    print(json.dumps(doc, indent=2) if "--json" in argv else _text(doc))
    return 0
