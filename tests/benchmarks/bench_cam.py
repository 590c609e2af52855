"""Benchmark: ConvScope's CAM methods against one forward pass and against tf-keras-vis 0.8.7.

    python tests/benchmarks/bench_cam.py [--quick] [--skip-full-scorecam]

VGG16 with random weights (keras.applications, weights=None), 224 x 224, target layer
block5_conv3 (14 x 14 x 512, tf-keras-vis' "penultimate conv"), batch 1 and batch 8, CPU.
Every time is the best of `--repeat` runs after one warm-up run (tracing excluded), and
each of our runs starts from empty caches (the forward pass is included).

Targets (issue 3): Grad-CAM <= 1.5 x one forward pass; Score-CAM <= 1.15 x the K + 1
forward passes it needs. tf-keras-vis' full Score-CAM (512 channels) takes minutes: it is
measured once at batch 1 (no warm-up), or with --quick extrapolated from max_N = 64.
Not run by CI (tests/benchmarks is excluded from pytest's collection).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

LAYER = "block5_conv3"
OURS = ("gradcam", "gradcam++", "layercam", "hirescam", "xgradcam", "eigencam", "faster-scorecam")


def rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) to the current RSS
        return True
    except OSError:
        return False


from timing import best  # noqa: E402  (tests/benchmarks/timing.py)


def photos(n: int):
    from convscope.engine import from_array

    try:
        from skimage import data

        pics = [data.chelsea(), data.astronaut(), data.coffee(), data.rocket()]
    except ImportError:  # the dev extra brings scikit-image; fall back to noise
        rng = np.random.default_rng(0)
        pics = [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(4)]
    return [from_array(pics[i % len(pics)][:, ::(1 + i // 4)], name=f"photo{i}") for i in range(n)]


def scorecam_memory() -> None:
    """In a fresh process: peak RSS growth while Score-CAM evaluates one chunk of masked
    copies (every chunk of a full run has this shape, so this is its peak too). The first
    chunk also traces the graph, so the figure is an upper bound."""
    from convscope.engine import open_model
    from convscope.engine.cam import compute as cam_compute
    from convscope.engine.cam import compute_cam

    m = open_model("builtin:vgg16?weights=none", device="cpu")
    __import__("convscope.engine.explore").engine.explore.enable(m, False)  # the one-shot per-layer path (as the CLI)
    imgs = photos(1)
    m.forward(m.prepare(imgs), record=[LAYER], logits=True)  # batch-1 pass: the baseline
    base = rss_mb()
    if not reset_peak():
        print("nan")
        return
    compute_cam(m, imgs, "faster-scorecam", layer=LAYER, max_n=cam_compute.auto_chunk((224, 224)))
    print(f"{rss_mb('VmHWM') - base:.0f}")


def measured_memory() -> str:
    import subprocess

    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, __file__, "--child-memory"], capture_output=True, text=True,
                         env=env, timeout=900)
    lines = out.stdout.strip().splitlines()
    return lines[-1] if lines else "nan"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="extrapolate tf-keras-vis' full Score-CAM")
    ap.add_argument("--skip-full-scorecam", action="store_true")
    ap.add_argument("--child-memory", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    import warnings

    warnings.filterwarnings("ignore")
    if args.child_memory:
        scorecam_memory()
        return

    from convscope.engine import open_model
    from convscope.engine.cam import compute as cam_compute
    from convscope.engine.cam import compute_cam

    m = open_model("builtin:vgg16?weights=none", device="cpu")
    __import__("convscope.engine.explore").engine.explore.enable(m, False)  # the one-shot per-layer path (as the CLI)
    import keras
    import tensorflow as tf

    keras.utils.disable_interactive_logging()  # tf-keras-vis calls predict() with progress bars
    fwd: dict[int, float] = {}
    ours: dict[tuple, float] = {}
    for n in (1, 8):
        imgs = photos(n)
        x = m.prepare(imgs)
        fwd[n] = best(lambda: m.forward(x), args.repeat)

        for method in OURS:
            def run(method=method):
                cam_compute.clear(m)
                compute_cam(m, imgs, method, layer=LAYER)
            ours[(method, n)] = best(run, args.repeat)

        compute_cam(m, imgs, "gradcam", layer=LAYER, class_index=1)
        ours[("gradcam, class change (cached)", n)] = best(
            lambda: (cam_compute.state(m).grads.clear(), compute_cam(m, imgs, "gradcam", layer=LAYER, class_index=2)),
            args.repeat)

    # Score-CAM, all 512 channels, batch 1: K + 1 = 513 forward passes
    imgs1 = photos(1)
    k = m.layer(LAYER).channels
    chunk = cam_compute.auto_chunk((224, 224))
    xb = m.prepare(photos(chunk))
    per_image_chunk = best(lambda: m.forward(xb), 2) / chunk
    cam_compute.clear(m)
    compute_cam(m, imgs1, "scorecam", layer=LAYER)  # warm-up: traces the chunk function
    cam_compute.clear(m)
    t0 = time.perf_counter()
    compute_cam(m, imgs1, "scorecam", layer=LAYER)
    ours[("scorecam", 1)] = time.perf_counter() - t0
    peak = measured_memory()
    floor_b1 = (k + 1) * fwd[1]
    floor_chunk = fwd[1] + k * per_image_chunk

    # tf-keras-vis 0.8.7, same model, same layer, same inputs (preprocessed)
    theirs: dict[tuple, float] = {}
    try:
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
        from tf_keras_vis.scorecam import Scorecam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore

        km = m.keras_model
        tools = {"gradcam": Gradcam(km, model_modifier=ReplaceToLinear(), clone=True),
                 "gradcam++": GradcamPlusPlus(km, model_modifier=ReplaceToLinear(), clone=True),
                 "scorecam": Scorecam(km, clone=True)}
        for n in (1, 8):
            x = m.prepare(photos(n))
            top = m.forward(x)[0].argmax(1)
            score = CategoricalScore(list(top))
            theirs[("gradcam", n)] = best(lambda: tools["gradcam"](score, x, penultimate_layer=LAYER), args.repeat)
            theirs[("gradcam++", n)] = best(lambda: tools["gradcam++"](score, x, penultimate_layer=LAYER), args.repeat)
            theirs[("faster-scorecam", n)] = best(
                lambda: tools["scorecam"](score, x, penultimate_layer=LAYER, max_N=10), 1)
        if not args.skip_full_scorecam:
            x = m.prepare(imgs1)
            score = CategoricalScore(list(m.forward(x)[0].argmax(1)))
            if args.quick:
                t = best(lambda: tools["scorecam"](score, x, penultimate_layer=LAYER, max_N=64), 1)
                theirs[("scorecam", 1)] = t * (k + 1) / 65
                theirs_note = "extrapolated from max_N=64 x 513/65"
            else:
                t0 = time.perf_counter()
                tools["scorecam"](score, x, penultimate_layer=LAYER)
                theirs[("scorecam", 1)] = time.perf_counter() - t0
                theirs_note = "measured once"
        else:
            theirs_note = "skipped"
    except ImportError as exc:
        print(f"tf-keras-vis not available ({exc}); install the [bench] extra")
        theirs_note = "n/a"

    print(f"\nVGG16 (random weights), 224x224, layer {LAYER} ({k} channels), "
          f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU threads\n")
    head = f"{'what':<38}{'batch':>6}{'ours ms':>11}{'x fwd':>8}{'tf-keras-vis ms':>17}{'theirs/ours':>13}"
    print(head)
    print("-" * len(head))
    for n in (1, 8):
        print(f"{'forward pass':<38}{n:>6}{fwd[n] * 1e3:>11.0f}{1.0:>8.2f}")
        for (method, nn), t in ours.items():
            if nn != n:
                continue
            other = theirs.get((method, n))
            o = f"{other * 1e3:>17.0f}{other / t:>13.1f}" if other else f"{'':>17}{'':>13}"
            print(f"{method:<38}{n:>6}{t * 1e3:>11.0f}{t / fwd[n]:>8.2f}{o}")
    print()
    print(f"Score-CAM, {k} channels, batch 1: {ours[('scorecam', 1)]:.1f} s "
          f"(tf-keras-vis: {theirs.get(('scorecam', 1), float('nan')):.1f} s, {theirs_note})")
    print(f"  K+1 forward passes at batch 1:           {floor_b1:.1f} s -> ratio {ours[('scorecam', 1)] / floor_b1:.2f}")
    print(f"  1 + K passes at the chunk's batch ({chunk}): {floor_chunk:.1f} s -> ratio "
          f"{ours[('scorecam', 1)] / floor_chunk:.2f}")
    print(f"  chunk: {chunk} masked copies x 224x224x3 float32 = {chunk * 224 * 224 * 3 * 4 / 2**20:.1f} MB of "
          f"input per pass;\n  peak RSS growth over a batch-1 forward pass while a chunk runs (fresh process): {peak} MB")
    print(f"  Grad-CAM / forward: batch 1 {ours[('gradcam', 1)] / fwd[1]:.2f}, "
          f"batch 8 {ours[('gradcam', 8)] / fwd[8]:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
