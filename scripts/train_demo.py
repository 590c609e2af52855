"""Train the demo classifier (shapes on clutter) reproducibly and write it to convscope/resources/models.

    python scripts/train_demo.py [--epochs N] [--train N] [--samples-only]

Writes demo.keras (no optimizer state, so it stays small) and demo.labels.json, then
reports accuracy and a Grad-CAM "pointing game" on fresh samples, i.e. samples from seeds
never used in training. Also writes the sample images in convscope/resources/samples: one demo image
per class, and four public-domain / CC0 photographs bundled with scikit-image (see
convscope/resources/samples/ATTRIBUTION.md).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from convscope.engine.demo_shapes import CLASSES, make_batch  # noqa: E402

OUT = ROOT / "convscope" / "resources" / "models"
SAMPLES = ROOT / "convscope" / "resources" / "samples"
# training uses seeds TRAIN_SEED + epoch; the tests use seeds outside all of these
TRAIN_SEED, VAL_SEED, EVAL_SEED, POINT_SEED, SAMPLE_SEED = 10_000, 1, 1000, 2000, 7
LAST_CONV = "conv5"


def build_model():
    import keras
    from keras import layers

    # 96 -> 48 (strided 3x3 conv: cheap on CPU) -> 24 -> 12, so the last conv map is 12x12
    # (one cell = 8 px), fine enough for a CAM to land on a 20-40 px object.
    # No strided 1x1 convs: TF's CPU build crashes in their gradient (see the brief).
    # BatchNorm after each ReLU except the last: without it training sat at chance. conv5
    # feeds GAP directly, so the CAM layer is a ReLU map right before GAP.
    def conv(x, filters, i, stride=1, bn=True):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", activation="relu",
                          name=f"conv{i}")(x)
        return layers.BatchNormalization(name=f"bn{i}")(x) if bn else x

    inp = keras.Input((96, 96, 3), name="image")  # pixels / 255, scaled outside the model
    x = conv(inp, 32, 1, stride=2)
    x = layers.MaxPooling2D(name="pool2")(conv(x, 32, 2))
    x = layers.MaxPooling2D(name="pool3")(conv(x, 64, 3))
    x = conv(x, 128, 4)
    x = conv(x, 128, 5, bn=False)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    out = layers.Dense(len(CLASSES), activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="demo_shapes")


def grad_cam(model, x: np.ndarray, logits: bool = False, batch: int = 50) -> np.ndarray:
    """Plain Grad-CAM for the predicted class, upsampled to the input size: (n, H, W).

    The score is the softmax probability (what a naive implementation differentiates) or,
    with `logits`, the pre-softmax score rebuilt from the Dense layer's weights.
    """
    import keras
    import tensorflow as tf

    sub = keras.Model(model.inputs, [model.get_layer(LAST_CONV).output,
                                     model.get_layer("gap").output])
    kernel, bias = model.get_layer("predictions").get_weights()
    maps = []
    for i in range(0, len(x), batch):
        xb = tf.convert_to_tensor(x[i:i + batch])
        with tf.GradientTape() as tape:
            conv, pooled = sub(xb, training=False)
            z = tf.matmul(pooled, kernel) + bias
            out = z if logits else tf.nn.softmax(z)
            score = tf.reduce_sum(out * tf.one_hot(tf.argmax(z, 1), z.shape[-1]), 1)
        grads = tape.gradient(score, conv)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * conv, axis=-1)).numpy()
        maps += [cv2.resize(c, x.shape[2:0:-1], interpolation=cv2.INTER_LINEAR) for c in cam]
    return np.stack(maps)


def pointing_game(model, n: int = 200, seed: int = POINT_SEED, dilate: int = 3,
                  logits: bool = False) -> float:
    """Fraction of fresh images whose CAM peak lies on the object (mask dilated a little)."""
    images, _, masks = make_batch(n, seed)
    cams = grad_cam(model, images.astype(np.float32) / 255.0, logits)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
    hits = 0
    for cam, mask in zip(cams, masks):
        y, x = np.unravel_index(np.argmax(cam), cam.shape)
        hits += bool(cv2.dilate(mask.astype(np.uint8), kernel)[y, x])
    return hits / n


def write_samples(out: Path = SAMPLES) -> None:
    """demo_<class>.png (one per class) and the scikit-image photographs as JPEG."""
    from convscope.engine.demo_shapes import make_sample

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SAMPLE_SEED)
    for label, name in enumerate(CLASSES):
        rgb = make_sample(rng, label).image
        cv2.imwrite(str(out / f"demo_{name}.png"), rgb[..., ::-1])  # OpenCV writes BGR
    from skimage import data  # dev dependency; the photos' licences: ATTRIBUTION.md

    for name, load in (("cat", data.chelsea), ("astronaut", data.astronaut),
                       ("coffee", data.coffee), ("rocket", data.rocket)):
        cv2.imwrite(str(out / f"{name}.jpg"), load()[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=12000, help="training samples")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--samples-only", action="store_true", help="only write the sample images")
    args = ap.parse_args()
    if args.samples_only:
        write_samples()
        return

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)  # python, numpy and TF seeds: same weights every run
    tf.config.experimental.enable_op_determinism()

    t0 = time.perf_counter()
    x_val, y_val, _ = make_batch(1000, VAL_SEED)
    val = (x_val.astype(np.float32) / 255.0, keras.utils.to_categorical(y_val, len(CLASSES)))

    model = build_model()
    steps = args.epochs * int(np.ceil(args.train / args.batch))
    # Label smoothing keeps the softmax off saturation: a Grad-CAM that differentiates the
    # probability (rather than the logit) would otherwise get ~0 gradients on easy images.
    lr = keras.optimizers.schedules.CosineDecay(2e-3, steps)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                  metrics=["accuracy"])
    for epoch in range(args.epochs):
        # fresh samples every epoch: the generator is cheap, and the model cannot memorise
        x, y, _ = make_batch(args.train, TRAIN_SEED + epoch)
        ds = tf.data.Dataset.from_tensor_slices((x, keras.utils.to_categorical(y, len(CLASSES))))
        ds = ds.batch(args.batch).map(lambda a, b: (tf.cast(a, tf.float32) / 255.0, b))
        model.fit(ds.prefetch(2), epochs=epoch + 1, initial_epoch=epoch, shuffle=False,
                  validation_data=val, verbose=2)
    train_time = time.perf_counter() - t0

    # Save a fresh, uncompiled copy: no optimizer state in the file (smaller, and the app
    # never trains).
    clean = build_model()
    clean.set_weights(model.get_weights())
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "demo.keras"
    clean.save(path)
    (args.out / "demo.labels.json").write_text(json.dumps(list(CLASSES)) + "\n")
    if args.out == OUT:
        write_samples()

    x_eval, y_eval, _ = make_batch(2000, EVAL_SEED)
    pred = clean.predict(x_eval.astype(np.float32) / 255.0, batch_size=128, verbose=0)
    acc = float(np.mean(pred.argmax(1) == y_eval))
    point = pointing_game(clean)
    point_logit = pointing_game(clean, logits=True)
    clean.summary()
    print(f"training time: {train_time:.0f} s")
    print(f"fresh accuracy (2000 samples, seed {EVAL_SEED}): {acc:.4f}")
    print(f"pointing game (Grad-CAM on {LAST_CONV}, 200 samples, seed {POINT_SEED}): "
          f"{point:.3f} on the softmax score, {point_logit:.3f} on the logit")
    print(f"model file: {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
