"""Benchmark: the window's first CAM against the command line's `cam` (issue 17).

    python tests/benchmarks/bench_first_paint.py [--repeat 3] [--model demo] [--model builtin:vgg16?weights=none]

For each model, both from a cold process (interpreter start, imports, TensorFlow, opening
the model, the first map) with the same image and the default Grad-CAM:
- CLI: `python main.py cam --model M --image I --out o.png` (wall time of the process);
- window: `python main.py --model M --image I --view cam --screenshot s.png` (offscreen),
  the real application, which saves the window once the CAM view has drawn its map and
  nothing is left to compute (predictions included); timed from the process start to its
  "saved" line (the process then waits for the engine's idle unit under way, if any).
CLI and window runs alternate (--repeat pairs, 3 by default). Printed: the best of each and
their ratio, and the median of the pairs' ratios. Goal: <= 1.25x.
Not run by CI (tests/benchmarks is excluded from pytest's collection).
"""
from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(ROOT, "convscope", "resources", "samples")

def image_for(model: str) -> str:
    if model == "demo":
        names = sorted(f for f in os.listdir(SAMPLES) if f.startswith("demo"))
    else:
        names = sorted(f for f in os.listdir(SAMPLES) if f.lower().endswith((".jpg", ".jpeg")))
    return os.path.join(SAMPLES, names[0])


def env() -> dict:
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", QT_QPA_PLATFORM="offscreen",
                PYTHONPATH=ROOT)


def cli_seconds(model: str, image: str, folder: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "cam", "--model", model,
                    "--image", image, "--out", os.path.join(folder, "o.png")], check=True,
                   env=env(), capture_output=True)
    return time.perf_counter() - t0


def window_seconds(model: str, image: str, folder: str) -> float:
    """The real application: `python main.py --model M --image I --view cam --screenshot
    S.png` ends when the CAM view has drawn its map and nothing is left to compute."""
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py"), "--model", model,
                          "--image", image, "--view", "cam", "--screenshot",
                          os.path.join(folder, "s.png")], env=env(), stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    took = None
    for line in p.stdout:  # "saved S.png": the map is drawn and saved (the process then
        if line.startswith("saved "):  # waits for the engine's idle unit under way to end)
            took = time.perf_counter() - t0
            break
    p.wait(600)
    if took is None or p.returncode != 0:
        raise RuntimeError(f"the window did not save its screenshot (exit {p.returncode})")
    return took


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    models = args.model or ["demo", "builtin:vgg16?weights=none"]
    folder = tempfile.mkdtemp(prefix="bench-first-paint-")
    # Bytecode as `pip install` leaves it: without it (PYTHONDONTWRITEBYTECODE, a fresh
    # checkout) every start compiles the modules it imports, and the window imports more.
    compileall.compile_dir(os.path.join(ROOT, "convscope"), quiet=1)
    rows = []
    for model in models:
        image = image_for(model)
        # CLI and window alternate, so a machine that speeds up or slows down during the run
        # (shared hosts do) moves both alike; each pair gives one ratio.
        cli, win = [], []
        for _ in range(args.repeat):
            cli.append(cli_seconds(model, image, folder))
            win.append(window_seconds(model, image, folder))
            print(f"{model}: cli {cli[-1]:.2f} s, window {win[-1]:.2f} s "
                  f"({win[-1] / cli[-1]:.2f}x)", flush=True)
        pairs = statistics.median(w / c for w, c in zip(win, cli))
        rows.append((model, os.path.basename(image), min(cli), min(win), pairs))
    print("\n| model | image | CLI `cam` (best) | window's first CAM (best) | best / best "
          "| median of pairs |")
    print("| --- | --- | --- | --- | --- | --- |")
    for model, image, cli, win, pairs in rows:
        print(f"| {model} | {image} | {cli:.2f} s | {win:.2f} s | {win / cli:.2f}x "
              f"| {pairs:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
