"""What the Recorder costs: its work per recorded epoch against the epoch itself, on the
README's small training example (scripts/train_shapes.py at its defaults: the demo shapes
network, 2000 images an epoch, batch 16).

    python tests/benchmarks/bench_recorder.py [--epochs 4] [--train 2000] [--no-baseline]

The Recorder at its defaults: 8 probe images, Grad-CAM at the default layer, statistics of
every spatial layer, checkpoints=True. Epoch seconds are measured by a callback that runs
before the Recorder (so they exclude its work); the Recorder's own seconds per epoch are
timed around `record`, and the checkpoint's share separately. Epoch 0 (recorded before
training starts) includes compiling the Recorder's functions. A second training without
the Recorder (same seeds) shows the epochs themselves are not slowed.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "scripts"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()

    import train_shapes
    from convscope.engine import Recorder, tf_runtime
    from convscope.engine.demo_shapes import CLASSES
    from convscope.engine.learning import store

    tf_runtime.init("auto")
    record_s: dict = {}
    save_s: dict = {}

    class Timed(Recorder):
        def record(self, epoch, logs):
            t0 = time.perf_counter()
            super().record(epoch, logs)
            record_s[epoch] = time.perf_counter() - t0

    real_write = store.write_epoch

    def timed_write(folder, epoch, rows, arrays, checkpoint=None, labels=None):
        def save(tmp):
            t0 = time.perf_counter()
            checkpoint(tmp)
            save_s[epoch] = time.perf_counter() - t0
        real_write(folder, epoch, rows, arrays, save if checkpoint else None, labels)

    store.write_epoch = timed_write
    images, labels = train_shapes.probes(8)
    with tempfile.TemporaryDirectory() as tmp:
        rec = Timed(os.path.join(tmp, "run"), images=images, labels=labels, classes="label",
                    class_names=list(CLASSES))
        _, _, epoch_s = train_shapes.train(None, args.epochs, args.train, extra=[rec])
    base_s = [] if args.no_baseline else train_shapes.train(None, args.epochs, args.train)[2]

    print(f"\nRecorder at its defaults (8 probe images, Grad-CAM, statistics, checkpoints) "
          f"on scripts/train_shapes.py ({args.train} images/epoch, its default batch)")
    print("| epoch | epoch s (Recorder excluded) | Recorder s | of which checkpoint s | ratio |"
          + (" epoch s, no Recorder |" if base_s else ""))
    print("|---|---|---|---|---|" + ("---|" if base_s else ""))
    print(f"| 0 (before training, compiles) | – | {record_s[0]:.2f} | {save_s.get(0, 0):.2f} | – |"
          + (" – |" if base_s else ""))
    for e in range(1, args.epochs + 1):
        ep = epoch_s[e - 1]
        line = (f"| {e} | {ep:.1f} | {record_s[e]:.2f} | {save_s.get(e, 0):.2f} | "
                f"{100 * record_s[e] / ep:.1f} % |")
        if base_s:
            line += f" {base_s[e - 1]:.1f} |"
        print(line)
    steady = [record_s[e] / epoch_s[e - 1] for e in range(2, args.epochs + 1)] or [record_s[1] / epoch_s[0]]
    total = sum(record_s[e] for e in range(0, args.epochs + 1)) / sum(epoch_s)
    print(f"\nsteady-state overhead (epochs 2-{args.epochs}): {100 * max(steady):.1f} % at most "
          f"(goal <= 5 %); whole run including epoch 0's compilation: {100 * total:.1f} %")


if __name__ == "__main__":
    main()
