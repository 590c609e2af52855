"""First paint first (issue 17): what the window's start-up does before its first map.

Measured in `tests/benchmarks/bench_first_paint.py`; here, the three things that make it so,
each in a fresh interpreter (they are about what a process does before anything else):
- `python main.py` imports the window's modules, then starts TensorFlow's import before it
  builds the window, with the cyclic collector paused and PySide6's import hook dropped;
- `tf_runtime`: the collector is paused while TensorFlow imports, then switched back on (and
  what it made frozen), but never switched on against the user's own choice;
- `gui.import_hook`: without PySide6's `__feature__` hook, a module imported afterwards is
  no longer read back as source text (linecache) — with the hook, it is.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.timeout(240)


def _python(code: str, *args: str) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=200)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_the_window_starts_tensorflow_before_it_builds_without_collector_or_pyside_hook(tmp_path):
    record = _python("""
        import atexit, builtins, gc, json, sys
        from convscope.engine import tf_runtime

        record = {}

        def preload(device="auto"):  # what the process has done when TensorFlow would start
            record["device"] = device
            record["collector_on"] = gc.isenabled()
            record["plain_import"] = builtins.__import__ is getattr(builtins, "__orig_import__", 0)
            record["window_modules_loaded"] = "convscope.gui.main_window" in sys.modules
            from PySide6.QtWidgets import QApplication
            record["window_made"] = QApplication.instance() is not None
            raise SystemExit(0)  # the window closing before TensorFlow is in

        tf_runtime.preload = preload
        atexit.register(lambda: print(json.dumps(dict(record, collector_on_at_exit=gc.isenabled()))))
        from convscope.gui import app

        app.main(["--model", "demo", "--device", "cpu", "--screenshot", sys.argv[1]])
    """, str(tmp_path / "s.png"))
    assert record["device"] == "cpu"
    assert record["window_made"] is False, "the window was built before TensorFlow started"
    assert record["window_modules_loaded"] is True, "TensorFlow's import and the window's took turns"
    assert record["collector_on"] is False, "the collector was not paused for start-up"
    assert record["plain_import"] is True, "PySide6's __feature__ import hook was left in place"
    assert record["collector_on_at_exit"] is True, "a window closed early left the collector off"
    assert not (tmp_path / "s.png").exists()


def test_tensorflow_imports_with_the_collector_paused_then_switched_back_on():
    record = _python("""
        import gc, json
        from convscope.engine import tf_runtime

        seen = {}
        real_collect = gc.collect

        class Spy:  # the collector's state while TensorFlow's own modules load
            def find_spec(self, name, path=None, target=None):
                if name == "tensorflow.python" and "during" not in seen:
                    seen["during"] = gc.isenabled()
                return None

        import sys
        sys.meta_path.insert(0, Spy())
        tf_runtime.init("cpu")
        print(json.dumps({"during": seen.get("during"), "after": gc.isenabled(),
                          "frozen": gc.get_freeze_count()}))
    """)
    assert record["during"] is False, "TensorFlow imported with the collector running"
    assert record["after"] is True
    assert record["frozen"] > 100_000, "TensorFlow's objects were not moved out of the collector's sight"


def test_the_pause_leaves_a_collector_the_user_switched_off_alone():
    record = _python("""
        import gc, json
        from convscope.engine import tf_runtime

        gc.disable()  # the user's (or a profiler's) choice
        tf_runtime.pause_gc_until_ready()
        tf_runtime.resume_gc()
        off_after_resume = not gc.isenabled()
        gc.enable()
        tf_runtime.resume_gc()  # nothing paused: nothing to undo
        print(json.dumps({"off_after_resume": off_after_resume, "on": gc.isenabled()}))
    """)
    assert record == {"off_after_resume": True, "on": True}


def test_without_pyside_hook_imports_are_not_read_back_as_source():
    record = _python("""
        import builtins, json, linecache, sys
        import PySide6.QtCore  # installs PySide6's __feature__ hook
        from convscope.gui.import_hook import drop_feature_import

        def read_back(name):  # import a module not loaded yet; did anyone read its source?
            assert name not in sys.modules, name
            __import__(name)
            return any(k.endswith(name + ".py") for k in linecache.cache)

        with_hook = read_back("colorsys")
        dropped = drop_feature_import()
        without_hook = read_back("netrc")
        again = drop_feature_import()  # already plain: nothing to do
        mine = lambda *a, **k: builtins.__orig_import__(*a, **k)
        builtins.__import__ = mine  # someone else's import (a debugger's): left alone
        foreign = drop_feature_import()
        print(json.dumps({"with_hook": with_hook, "dropped": dropped, "without_hook": without_hook,
                          "again": again, "foreign": foreign,
                          "foreign_kept": builtins.__import__ is mine}))
    """)
    assert record["with_hook"] is True  # the cost this removes exists in this PySide6
    assert record["dropped"] is True
    assert record["without_hook"] is False
    assert record["again"] is False and record["foreign"] is False and record["foreign_kept"] is True
