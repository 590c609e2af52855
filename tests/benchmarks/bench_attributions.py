"""Benchmark: the pixel attributions against their floors and against tf-keras-vis 0.8.7.

    python tests/benchmarks/bench_attributions.py [--repeat 2] [--samples 50]

VGG16 with random weights (keras.applications, weights=None), 224 x 224, one photograph,
CPU. Each time is the best of `--repeat` runs after one warm-up run (tracing excluded);
our runs include everything (fitting the image, resolving the class, the batches).

Floors, each a bare compiled Keras computation in the same process (no ConvScope code):
- forward+backward: d output[c] / d input for a batch, one tf.function;
- forward: the model called on a batch, one tf.function.
Targets (issue 10): Saliency <= 1.2 x one forward+backward (batch 1); SmoothGrad (N = 50)
<= 1.2 x 50 forward+backward passes run in batches of our chunk size, and >= 2x faster
than tf-keras-vis' Saliency(smooth_samples=50) on the same input; occlusion and RISE
<= 1.15 x their forward floors (one pass per position / mask, at the chunk's batch size,
plus the one pass on the clean image).
Not run by CI (tests/benchmarks is excluded from pytest's collection). Absolute times on
a shared 2-core machine are noisy; the ratios are what to read.
"""
from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


from timing import best  # noqa: E402  (tests/benchmarks/timing.py)


def photo():
    from convscope.engine import from_array

    try:
        from skimage import data

        return from_array(data.chelsea(), name="chelsea")
    except ImportError:
        rng = np.random.default_rng(0)
        return from_array(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), name="noise")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--masks", type=int, default=128)
    ap.add_argument("--patch", type=int, default=32)
    ap.add_argument("--skip-theirs", action="store_true")
    args = ap.parse_args()
    import warnings

    warnings.filterwarnings("ignore")
    from convscope.engine import open_model
    from convscope.engine.attribution import graphs, occlusion as occ_mod

    m = open_model("builtin:vgg16?weights=none", device="cpu")
    import keras
    import tensorflow as tf

    keras.utils.disable_interactive_logging()
    km = m.keras_model
    img = photo()
    x1 = m.prepare([img])
    c = int(m.forward(x1)[0].argmax())

    @tf.function(reduce_retracing=True)
    def fwd_bwd(x):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            s = tf.reduce_sum(km(x, training=False)[:, c])
        return tape.gradient(s, x)

    @tf.function(reduce_retracing=True)
    def fwd(x):
        return km(x, training=False)

    gchunk = graphs.auto_chunk((224, 224), "grad")
    fchunk = graphs.auto_chunk((224, 224), "forward")
    rows = {}

    # Saliency vs one forward+backward
    floor_fb1 = best(lambda: fwd_bwd(tf.constant(x1)).numpy(), args.repeat)
    ours = best(lambda: m.cam(img, method="saliency"), args.repeat)
    rows["saliency"] = (ours, floor_fb1, "1 forward+backward")

    # SmoothGrad vs N forward+backward in batches of our chunk size
    n = args.samples
    sizes = [len(s) for s in np.array_split(np.arange(n), graphs.n_chunks(n, gchunk))]
    xb = {b: tf.constant(np.repeat(x1, b, axis=0)) for b in set(sizes)}
    floor_sg = best(lambda: [fwd_bwd(xb[b]).numpy() for b in sizes], 1)
    ours_sg = best(lambda: m.cam(img, method="smoothgrad", samples=n), 1)
    rows[f"smoothgrad (N={n})"] = (ours_sg, floor_sg, f"{n} forward+backward, batches {sizes}")

    # occlusion vs (positions + 1) forward passes
    rr, cc = occ_mod.positions(224, 224, args.patch, args.patch)
    npos = len(rr) * len(cc)
    osizes = [len(s) for s in np.array_split(np.arange(npos), graphs.n_chunks(npos, fchunk))]
    xf = {b: tf.constant(np.repeat(x1, b, axis=0)) for b in set(osizes) | {1}}
    floor_occ = best(lambda: [fwd(xf[b]).numpy() for b in [1] + osizes], 1)
    ours_occ = best(lambda: m.cam(img, method="occlusion", patch=args.patch, stride=args.patch), 1)
    rows[f"occlusion ({npos} positions)"] = (ours_occ, floor_occ, f"1 + {npos} forward, batches {osizes}")

    # RISE vs N forward passes (+ 1 on the clean image)
    nm = args.masks
    rsizes = [len(s) for s in np.array_split(np.arange(nm), graphs.n_chunks(nm, fchunk))]
    xf.update({b: tf.constant(np.repeat(x1, b, axis=0)) for b in set(rsizes) if b not in xf})
    floor_rise = best(lambda: [fwd(xf[b]).numpy() for b in [1] + rsizes], 1)
    ours_rise = best(lambda: m.cam(img, method="rise", masks=nm), 1)
    rows[f"rise (N={nm})"] = (ours_rise, floor_rise, f"1 + {nm} forward, batches {rsizes}")

    theirs = None
    if not args.skip_theirs:
        try:
            from tf_keras_vis.saliency import Saliency
            from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
            from tf_keras_vis.utils.scores import CategoricalScore

            sal = Saliency(km, model_modifier=ReplaceToLinear(), clone=True)
            score = CategoricalScore([c])
            theirs = best(lambda: sal(score, x1, smooth_samples=n, smooth_noise=0.15), 1)
        except ImportError as exc:
            print(f"tf-keras-vis not available ({exc}); install the [bench] extra")

    print(f"\nVGG16 (random weights), 224x224, TensorFlow {tf.__version__}, "
          f"{os.cpu_count()} CPU threads; gradient chunk {gchunk}, forward chunk {fchunk}\n")
    head = f"{'what':<28}{'ours s':>9}{'floor s':>9}{'ratio':>8}  floor"
    print(head)
    print("-" * 90)
    for name, (t, f, what) in rows.items():
        print(f"{name:<28}{t:>9.2f}{f:>9.2f}{t / f:>8.2f}  {what}")
    if theirs is not None:
        print(f"\ntf-keras-vis Saliency(smooth_samples={n}): {theirs:.2f} s -> "
              f"{theirs / ours_sg:.1f}x slower than ours")


if __name__ == "__main__":
    main()
