"""TensorBoard output of a Recorder (tensorboard=True), in RUN/tensorboard:
- images  "overlay/METHOD/LAYER": each probe image with its map blended over it (jet, 0.4);
- histograms "channel_means/LAYER": the per-channel means of every recorded layer;
- scalars "stat/NAME/LAYER" and "log/NAME": the activation statistics and Keras' logs.
Steps are the Recorder's epoch numbers. View with `tensorboard --logdir RUN/tensorboard`.

Written with TensorFlow's own tf.summary.write and the summary formats of TensorBoard's
scalar, image and histogram plugins (plugin name + tensor layout, as tensorboard's
summary_v2 writes them), so recording needs no `tensorboard` package; viewing does.
"""
from __future__ import annotations

import io

import numpy as np

from ..cam.overlay import blend

HISTOGRAM_BINS = 30


def _metadata(plugin: str):
    from tensorflow.core.framework import summary_pb2

    meta = summary_pb2.SummaryMetadata()
    meta.plugin_data.plugin_name = plugin
    meta.plugin_data.content = b""
    return meta.SerializeToString()


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    return buf.getvalue()


def histogram_buckets(values: np.ndarray, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """(k, 3) float64 rows [left edge, right edge, count]: the histogram plugin's tensor."""
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.zeros((0, 3))
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return np.array([[lo, hi, float(v.size)]])
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return np.stack([edges[:-1], edges[1:], counts.astype(np.float64)], axis=1)


class Writer:
    def __init__(self, folder: str):
        import tensorflow as tf

        self.tf = tf
        self.writer = tf.summary.create_file_writer(folder)
        self.meta = {k: _metadata(k) for k in ("scalars", "images", "histograms")}

    def write(self, epoch: int, rows: list, arrays: dict, pixels: np.ndarray) -> None:
        """pixels: the probe images as the model saw them, uint8 (N, H, W, 3)."""
        tf, step = self.tf, int(epoch)
        with self.writer.as_default():
            for key, maps in arrays.items():
                if key.startswith("map|"):
                    _, method, layer = key.split("|", 2)
                    h, w = pixels.shape[1:3]
                    pngs = [_png(blend(p, m)) for p, m in zip(pixels, maps)]
                    tf.summary.write(f"overlay/{method}/{layer}",
                                     tf.constant([str(w).encode(), str(h).encode()] + pngs),
                                     step=step, metadata=self.meta["images"])
                elif key.startswith("channel_means|"):
                    tf.summary.write(f"channel_means/{key.split('|', 1)[1]}",
                                     tf.constant(histogram_buckets(maps)),
                                     step=step, metadata=self.meta["histograms"])
            for _, key, layer, image, value in rows:
                if image is None and key.startswith(("stat/", "log/")):
                    tf.summary.write(f"{key}/{layer}" if layer else key,
                                     tf.constant(float(value), tf.float32), step=step,
                                     metadata=self.meta["scalars"])
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
