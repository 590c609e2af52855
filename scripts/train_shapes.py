"""Train the demo shapes network from scratch for a few epochs, watched by a Recorder.

    python scripts/train_shapes.py --run runs/shapes [--epochs 8] [--train 2000] [--batch 16]
                                   [--probes 8] [--every 1] [--tensorboard] [--no-recorder]

The network is the demo classifier's (scripts/train_demo.py: conv blocks -> GAP -> Dense),
the data engine.demo_shapes' synthetic shapes on clutter (fresh samples every epoch), fed
as pixels / 255. The probe images are 8 fresh samples (seed 77), two per class; their
true classes are given, so the maps explain the true class (classes="label").
Prints the seconds of each epoch (and, with the Recorder, the run folder).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import numpy as np  # noqa: E402

from convscope.engine.demo_shapes import CLASSES, make_batch  # noqa: E402

TRAIN_SEED, PROBE_SEED = 30_000, 77


class EpochTimer:
    """Seconds of each epoch, the Recorder's work excluded (see epoch_seconds)."""

    def __init__(self):
        import keras

        class _T(keras.callbacks.Callback):
            def on_epoch_begin(cb, epoch, logs=None):
                cb.t0 = time.perf_counter()

            def on_epoch_end(cb, epoch, logs=None):
                self.seconds.append(time.perf_counter() - cb.t0)

        self.seconds: list[float] = []
        self.callback = _T()


def probes(n: int = 8):
    images, labels, _ = make_batch(n, PROBE_SEED)
    return list(images), [int(v) for v in labels]


def train(run: str | None, epochs: int = 8, n_train: int = 2000, batch: int = 16,
          n_probes: int = 8, every: int = 1, tensorboard: bool = False, extra=()):
    """Train; returns (model, recorder or None, per-epoch seconds without the recorder)."""
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras
    import tensorflow as tf
    from train_demo import build_model

    keras.utils.set_random_seed(0)
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                  metrics=["accuracy"])
    x, y, _ = make_batch(n_train, TRAIN_SEED)
    ds = tf.data.Dataset.from_tensor_slices((x, keras.utils.to_categorical(y, len(CLASSES))))
    ds = ds.shuffle(n_train, seed=0).batch(batch).map(
        lambda a, b: (tf.cast(a, tf.float32) / 255.0, b)).prefetch(2)
    timer = EpochTimer()
    callbacks = [timer.callback]  # first: its epoch end comes before the Recorder's work
    recorder = None
    if run:
        from convscope.engine import Recorder

        images, labels = probes(n_probes)
        recorder = Recorder(run, images=images, labels=labels, classes="label",
                            class_names=list(CLASSES), every=every, tensorboard=tensorboard)
        callbacks.append(recorder)
    model.fit(ds, epochs=epochs, callbacks=callbacks + list(extra), verbose=2, shuffle=False)
    return model, recorder, timer.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/shapes", help="the Recorder's run folder")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--train", type=int, default=2000, help="training images")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--probes", type=int, default=8)
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--tensorboard", action="store_true")
    ap.add_argument("--no-recorder", action="store_true")
    args = ap.parse_args()
    run = None if args.no_recorder else args.run
    _, _, seconds = train(run, args.epochs, args.train, args.batch, args.probes, args.every,
                          args.tensorboard)
    print("epoch seconds:", " ".join(f"{s:.1f}" for s in seconds))
    if run:
        print(f"run recorded in {os.path.abspath(run)}")


if __name__ == "__main__":
    main()
