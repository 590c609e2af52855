"""Small models that are not (only) classifiers, for targets (issue 21), tests and the
README: a U-Net, a regressor, a two-head model and an embedding model, on the shapes
images of engine.demo_shapes (64 x 64).

    python -m convscope.engine.demo_targets OUT_DIR [--epochs N]

writes OUT_DIR/unet.keras (softmax over 5 classes per pixel: background + the 4 shapes),
regressor.keras (one linear unit: the shape's area as a fraction of the image),
two_head.keras (outputs "shape": softmax over 4 classes, "size": one linear unit),
embedding.keras (a linear 8-vector), class names beside the U-Net and the two-head model
(unet.labels.json, two_head.labels.json: the labels sidecar), and OUT_DIR/shape_0.png,
shape_1.png (two images).
With --epochs 0 the models keep their seeded random weights (what the tests use: the
maths does not need a trained model); the default (5) trains them on 1024 images, about
two minutes on two CPU cores (the U-Net most of it).
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from .demo_shapes import CLASSES, make_batch

SIZE = 64
SEG_CLASSES = ("background",) + CLASSES


def _keras():
    import keras

    return keras


def unet(seed: int = 0):
    """Encoder-decoder with skips; per-pixel softmax over len(SEG_CLASSES) classes."""
    keras = _keras()
    L = keras.layers
    keras.utils.set_random_seed(seed)
    x = L.Input((SIZE, SIZE, 3), name="image")
    s = L.Rescaling(1.0 / 255, name="scale")(x)
    e1 = L.Conv2D(8, 3, padding="same", activation="relu", name="enc1")(s)
    p1 = L.MaxPooling2D(name="pool1")(e1)
    e2 = L.Conv2D(16, 3, padding="same", activation="relu", name="enc2")(p1)
    p2 = L.MaxPooling2D(name="pool2")(e2)
    b = L.Conv2D(32, 3, padding="same", activation="relu", name="bottleneck")(p2)
    u2 = L.UpSampling2D(name="up2")(b)
    d2 = L.Conv2D(16, 3, padding="same", activation="relu", name="dec2")(L.Concatenate(name="skip2")([u2, e2]))
    u1 = L.UpSampling2D(name="up1")(d2)
    d1 = L.Conv2D(8, 3, padding="same", activation="relu", name="dec1")(L.Concatenate(name="skip1")([u1, e1]))
    out = L.Conv2D(len(SEG_CLASSES), 1, activation="softmax", name="segmentation")(d1)
    return keras.Model(x, out, name="unet")


def _trunk(x, L):
    s = L.Rescaling(1.0 / 255, name="scale")(x)
    c1 = L.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(s)
    p1 = L.MaxPooling2D(name="pool1")(c1)
    c2 = L.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(p1)
    return L.GlobalAveragePooling2D(name="gap")(c2)


def regressor(seed: int = 1):
    keras = _keras()
    L = keras.layers
    keras.utils.set_random_seed(seed)
    x = L.Input((SIZE, SIZE, 3), name="image")
    return keras.Model(x, L.Dense(1, name="value")(_trunk(x, L)), name="regressor")


def two_head(seed: int = 2):
    keras = _keras()
    L = keras.layers
    keras.utils.set_random_seed(seed)
    x = L.Input((SIZE, SIZE, 3), name="image")
    f = _trunk(x, L)
    shape = L.Dense(len(CLASSES), activation="softmax", name="shape")(f)
    size = L.Dense(1, name="size")(f)
    return keras.Model(x, [shape, size], name="two_head")


def embedding(seed: int = 3):
    keras = _keras()
    L = keras.layers
    keras.utils.set_random_seed(seed)
    x = L.Input((SIZE, SIZE, 3), name="image")
    return keras.Model(x, L.Dense(8, name="embedding")(_trunk(x, L)), name="embedding")


BUILDERS = {"unet": unet, "regressor": regressor, "two_head": two_head, "embedding": embedding}


def data(n: int, seed: int):
    """(images uint8 (n, 64, 64, 3), per-pixel classes (n, 64, 64), shape labels, areas)."""
    images, labels, masks = make_batch(n, seed, SIZE)
    seg = np.where(masks, labels[:, None, None] + 1, 0).astype(np.int64)
    area = masks.mean(axis=(1, 2)).astype(np.float32)
    return images, seg, labels, area


def keras_adam(lr: float):
    return _keras().optimizers.Adam(lr)


def train(models: dict, epochs: int, n: int = 1024, seed: int = 0) -> None:
    """Fit the models on n shapes images: the U-Net 6 x `epochs` (its per-pixel classes
    learn slower: 30 epochs find ~2/3 of the shapes' pixels), the others `epochs`."""
    if epochs <= 0:
        return
    images, seg, labels, area = data(n, seed)
    x = images.astype(np.float32)
    kw = dict(epochs=epochs, batch_size=32, verbose=0)
    m = models["unet"]
    m.compile(keras_adam(3e-3), "sparse_categorical_crossentropy")
    # the shapes cover ~10 % of the pixels: weigh them up, or "all background" wins
    m.fit(x, seg, sample_weight=np.where(seg > 0, 8.0, 1.0).astype(np.float32),
          **dict(kw, epochs=6 * epochs))
    m = models["regressor"]
    m.compile("adam", "mse")
    m.fit(x, area * 10.0, **kw)
    m = models["two_head"]
    m.compile("adam", ["sparse_categorical_crossentropy", "mse"])
    m.fit(x, [labels, area * 10.0], **kw)


def save_all(out: str, epochs: int = 0) -> dict:
    """Build (and train `epochs`) the four models, save them and two images in `out`;
    returns {name: path}."""
    from PIL import Image

    os.makedirs(out, exist_ok=True)
    models = {k: b() for k, b in BUILDERS.items()}
    train(models, epochs)
    paths = {}
    for k, m in models.items():
        paths[k] = os.path.join(out, f"{k}.keras")
        m.save(paths[k])
    for k, names in (("unet", SEG_CLASSES), ("two_head", CLASSES)):  # class names (sidecars)
        with open(os.path.join(out, f"{k}.labels.json"), "w", encoding="utf-8") as f:
            json.dump(list(names), f)
    images, seg, _, _ = data(2, 99)
    for i, im in enumerate(images):
        p = os.path.join(out, f"shape_{i}.png")
        Image.fromarray(im).save(p)
        paths[f"shape_{i}"] = p
        Image.fromarray((seg[i] > 0).astype(np.uint8) * 255).save(os.path.join(out, f"shape_{i}_mask.png"))
    return paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--epochs", type=int, default=5)
    a = p.parse_args(argv)
    for k, v in save_all(a.out, a.epochs).items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
