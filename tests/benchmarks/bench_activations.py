"""Benchmark: all-layer activation extraction vs one forward pass, and vs the seeds' way.

    python tests/benchmarks/bench_activations.py [--model vgg16] [--batch 1] [--repeats 5]

Prints milliseconds and ratios. Target (issue 2): all spatial layers in <= 1.3x one forward
pass. The seeds build one keras.Model per layer (or one multi-output Model, seed 001).
Not run by CI: timings on shared machines are noisy; ratios are the result.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np  # noqa: E402

from timing import best  # noqa: E402  (tests/benchmarks/timing.py)


def best_ms(fn, repeats):
    """Best of `repeats` calls after a warm-up, in milliseconds."""
    return 1000 * best(fn, repeats)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="vgg16")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    from convscope.engine import from_array, open_model

    m = open_model(f"builtin:{args.model}?weights=none")
    import keras

    rng = np.random.default_rng(0)
    h, w, _ = m.input_shape
    imgs = [from_array(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for _ in range(args.batch)]
    x = m.prepare(imgs)
    paths = [i.path for i in m.layers if i.spatial and not i.is_container and i.class_name != "InputLayer"]

    forward = best_ms(lambda: m.forward(x), args.repeats)
    ours = best_ms(lambda: m.forward(x, record=paths), args.repeats)
    api = best_ms(lambda: m.activations(imgs, paths), args.repeats)

    km = m.keras_model
    outs = [km.get_layer(p).output for p in paths]
    multi = keras.Model(km.inputs, outs)
    seed_multi = best_ms(lambda: multi.predict(x, verbose=0), max(1, args.repeats // 2))
    subs = [keras.Model(km.inputs, o) for o in outs]

    def per_layer():
        for s in subs:
            s.predict(x, verbose=0)

    seed_each = best_ms(per_layer, 1)

    print(f"model {args.model} (random weights), input {h}x{w}, batch {args.batch}, "
          f"{len(paths)} spatial layers, device {m.device}")
    rows = [
        ("one forward pass (compiled)", forward),
        ("ours: all layers, one recorded pass", ours),
        ("ours: API m.activations (incl. preprocessing)", api),
        ("seed 001: one multi-output Model .predict", seed_multi),
        ("seeds: one sub-model per layer .predict", seed_each),
    ]
    for name, ms in rows:
        print(f"{name:<48} {ms:10.1f} ms   {ms / forward:6.2f}x forward")
    print(f"speed-up of ours over one-sub-model-per-layer: {seed_each / ours:.1f}x; "
          f"over the multi-output Model: {seed_multi / ours:.2f}x")


if __name__ == "__main__":
    main()
