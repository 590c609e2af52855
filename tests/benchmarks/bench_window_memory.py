"""Benchmark (issue 18): peak memory of the real window on a big model.

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_window_memory.py \
        [--model efficientnetv2m] [--layers 20] [--budget 2G]

Opens the real MainWindow (offscreen, the real engine thread) on builtin:MODEL?weights=none
with one photograph (scikit-image's chelsea) in the CAM tab, waits until the map is painted
and the engine is idle (prefetch included), then walks --layers layers with the Down arrow
in the Activations tab, waiting for each grid. Reports the process's peak resident set
(getrusage ru_maxrss), its resident set at the end, the model's weights, the exploration
cache's budget and use. --budget sets CONVSCOPE_MEMORY_BUDGET for the run (as a user
would). One run per process: peak RSS is a process-lifetime maximum.
"""
import argparse
import os
import resource
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _mb(n):
    return f"{n / 2 ** 20:,.0f} MB"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="efficientnetv2m")
    p.add_argument("--layers", type=int, default=20)
    p.add_argument("--budget", default=None, help="CONVSCOPE_MEMORY_BUDGET for the run, e.g. 2G")
    args = p.parse_args()
    if args.budget:
        os.environ["CONVSCOPE_MEMORY_BUDGET"] = args.budget

    import psutil
    from PIL import Image as P
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from skimage import data

    from gui_support import settle, wait_until

    app = QApplication.instance() or QApplication([])
    folder = tempfile.mkdtemp()
    photo = os.path.join(folder, "chelsea.png")
    P.fromarray(data.chelsea()).save(photo)

    from convscope.engine.explore import cache as explore
    from convscope.gui.main_window import MainWindow, Startup
    from convscope.gui.settings import Settings

    rss0 = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    w = MainWindow(Settings.at(os.path.join(folder, "bench.ini")),
                   Startup(model=f"builtin:{args.model}?weights=none", images=[photo], view="cam"))
    w.resize(1440, 900)
    w.show()
    wait_until(lambda: w.session.model is not None, 1800, "the model")
    settle(w, 1800)
    t_cam = time.perf_counter() - t0
    after_cam = psutil.Process().memory_info().rss
    peak_cam = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    w.view("activations")
    tree = w.model_panel.tree
    w.model_panel.select(w.session.model.summary.default_cam_layer)
    settle(w, 1800)
    tree.setFocus()
    for _ in range(args.layers):  # upwards from the CAM layer: the big late layers first
        QTest.keyClick(tree, Qt.Key.Key_Up)
        settle(w, 1800)
    walked = w.session.layer
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rss = psutil.Process().memory_info().rss
    from convscope.engine import memory

    print(f"model          builtin:{args.model}?weights=none "
          f"(input {w.session.model.summary.input_shape}, {w.session.model.summary.params:,} params)")
    print(f"budget         {_mb(memory.budget())} (CONVSCOPE_MEMORY_BUDGET="
          f"{os.environ.get('CONVSCOPE_MEMORY_BUDGET', 'unset')})")
    print(f"explore cache  budget {_mb(explore.STORE.budget)}, used {_mb(explore.STORE.used)}, "
          f"{len(explore.STORE)} entries")
    print(f"RSS at start   {_mb(rss0)}")
    print(f"after the CAM  {_mb(after_cam)} (peak {_mb(peak_cam)}, {t_cam:.0f} s)")
    print(f"after walking  {args.layers} layers to {walked}: {_mb(rss)}")
    print(f"PEAK RSS       {_mb(peak)}")
    w.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
