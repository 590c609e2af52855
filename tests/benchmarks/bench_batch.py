"""Benchmark: `convscope batch` streaming from files vs the same work on pre-loaded tensors,
and peak memory for a large vs a small folder.

    python tests/benchmarks/bench_batch.py [--images 512] [--steps 10] [--batch-size 16]
                                           [--rss-small 256] [--rss-large 2048] [--rss-model SPEC]

VGG16 with random weights, 224 x 224, Grad-CAM + deletion AUC (`--steps` curve steps).
1. Throughput: images/s of the local runner reading JPEG files (decoded and resized ahead
   of the model by the prefetching loader) vs images/s of the same per-batch function and
   writer on images decoded beforehand. Goal (issue 9): >= 0.85 x (the input pipeline does
   not starve the model). One warm-up batch first in each (tracing excluded).
2. Memory: peak RSS (VmHWM) of a whole run over `--rss-large` vs `--rss-small` images,
   each in a fresh subprocess. Goal: within 10 %.
Not run by CI. Under CPU contention absolute times are noisy; the ratios are the result.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MODEL = "builtin:vgg16?weights=none"


def make_folder(folder: str, n: int, size: int = 224) -> None:
    """n JPEGs from the demo-shapes generator (photograph-like noise, one object each)."""
    import numpy as np
    from PIL import Image

    from convscope.engine.demo_shapes import make_sample

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    base = [make_sample(rng, i % 4, size).image for i in range(min(n, 64))]
    for i in range(n):  # reuse 64 renders with a shift so files differ (rendering is slow)
        Image.fromarray(np.roll(base[i % len(base)], i // len(base), axis=1)).save(
            os.path.join(folder, f"img_{i:05d}.jpg"), quality=90)


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def throughput(args) -> None:
    from convscope.engine.dataset.explain import Settings, explain_batch
    from convscope.engine.dataset.loader import batches, decode
    from convscope.engine.dataset.runner import pending, run_local
    from convscope.engine.dataset.sources import list_items
    from convscope.engine.dataset.store import RunStore
    from convscope.engine.model import open_model

    tmp = tempfile.mkdtemp(prefix="bench-batch-")
    folder = os.path.join(tmp, "imgs")
    make_folder(folder, args.images)
    model = open_model(MODEL)
    items = list_items(folder)
    settings = Settings(methods=("gradcam",), metrics=("deletion",), steps=args.steps)
    bs = args.batch_size

    def store(name):
        s = RunStore(os.path.join(tmp, name))
        s.open({"settings": settings.as_dict()}, resume=False)
        return s

    # warm-up: trace the compiled functions for this batch shape
    warm = [decode(it, i, model.input_shape) for i, it in enumerate(items[:bs])]
    explain_batch(model, settings, warm)

    # Rounds alternate the two ways on the same images (contention drifts over minutes);
    # each way's best round counts.
    n, rounds = len(items), max(1, args.rounds)
    t_pre, t_stream = [], []
    for r in range(rounds):
        # pre-loaded: decode everything first, then time only the per-batch work and the writer
        loaded = [decode(it, i, model.input_shape) for i, it in enumerate(items)]
        s = store(f"preloaded{r}")
        t0 = time.perf_counter()
        for batch in batches(loaded, bs):
            s.commit(*explain_batch(model, settings, batch))
        t_pre.append(time.perf_counter() - t0)
        del loaded
        s = store(f"streamed{r}")
        t0 = time.perf_counter()
        run_local(model, settings, s, pending(items, set()), batch_size=bs, workers=args.workers)
        t_stream.append(time.perf_counter() - t0)
        print(f"  round {r + 1}: pre-loaded {t_pre[-1]:.1f} s, from files {t_stream[-1]:.1f} s", flush=True)
    print(f"VGG16 224 px, Grad-CAM + deletion ({args.steps} steps), {n} images, batch {bs}, "
          f"best of {rounds} alternating rounds")
    print(f"  pre-loaded tensors : {n / min(t_pre):6.2f} images/s")
    print(f"  batch from files   : {n / min(t_stream):6.2f} images/s")
    print(f"  ratio streamed / pre-loaded = {min(t_pre) / min(t_stream):.3f}  (goal >= 0.85)",
          flush=True)


def rss_child(args) -> None:
    """One whole run in this (fresh) process; prints the peak RSS."""
    from convscope.engine.cli import main as cli_main

    folder, out = args.rss_child
    code = cli_main(["batch", "--model", args.rss_model, "--images", folder, "--out", out,
                     "--methods", "gradcam", "--metrics", "deletion", "--steps", str(args.steps),
                     "--batch-size", str(args.batch_size)])
    assert code == 0
    print(f"PEAK {peak_rss_mb():.1f}")


def rss(args) -> None:
    tmp = tempfile.mkdtemp(prefix="bench-rss-")
    peaks = {}
    for n in (args.rss_small, args.rss_large):
        folder = os.path.join(tmp, f"imgs{n}")
        make_folder(folder, n)
        cmd = [sys.executable, __file__, "--rss-child", folder, os.path.join(tmp, f"run{n}"),
               "--rss-model", args.rss_model, "--steps", str(args.steps),
               "--batch-size", str(args.batch_size)]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        peaks[n] = float(out.split("PEAK")[-1])
        print(f"  {n:5d} images: peak RSS {peaks[n]:.0f} MB ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    ratio = peaks[args.rss_large] / peaks[args.rss_small]
    print(f"  peak RSS {args.rss_large} / {args.rss_small} images = {ratio:.3f}  (goal <= 1.10)",
          flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--rss-small", type=int, default=256)
    p.add_argument("--rss-large", type=int, default=2048)
    p.add_argument("--rss-model", default=MODEL)
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-rss", action="store_true")
    p.add_argument("--rss-child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rss_child:
        return rss_child(args)
    if not args.skip_throughput:
        throughput(args)
    if not args.skip_rss:
        print(f"peak memory, {args.rss_model}, Grad-CAM + deletion ({args.steps} steps)", flush=True)
        rss(args)


if __name__ == "__main__":
    main()
