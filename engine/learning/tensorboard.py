"""TensorBoard output of a Recorder (tensorboard=True), written with tf.summary:
- images  "overlay/METHOD/LAYER": each probe image with its map blended over it (jet, 0.4);
- histograms "channel_means/LAYER": the per-channel means of every recorded layer;
- scalars "stat/NAME/LAYER" and "log/NAME": the activation statistics and Keras' logs.
Steps are the Recorder's epoch numbers. View with `tensorboard --logdir RUN/tensorboard`.
"""
from __future__ import annotations

import numpy as np

from ..cam.overlay import blend


class Writer:
    def __init__(self, folder: str):
        import tensorflow as tf

        self.tf = tf
        self.writer = tf.summary.create_file_writer(folder)

    def write(self, epoch: int, rows: list, arrays: dict, pixels: np.ndarray) -> None:
        """pixels: the probe images as the model saw them, uint8 (N, H, W, 3)."""
        tf = self.tf
        with self.writer.as_default(step=int(epoch)):
            for key, maps in arrays.items():
                if key.startswith("map|"):
                    _, method, layer = key.split("|", 2)
                    pics = np.stack([blend(p, m) for p, m in zip(pixels, maps)])
                    tf.summary.image(f"overlay/{method}/{layer}", pics, max_outputs=len(pics))
            for key, value in arrays.items():
                if key.startswith("channel_means|"):
                    tf.summary.histogram(f"channel_means/{key.split('|', 1)[1]}", value)
            for _, key, layer, image, value in rows:
                if image is None and key.startswith(("stat/", "log/")):
                    tf.summary.scalar(f"{key}/{layer}" if layer else key, value)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

