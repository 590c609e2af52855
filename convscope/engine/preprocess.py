"""Input preprocessing modes (design §2).

The functions use only arithmetic and slicing, so the same code runs on numpy arrays
(predict, activations) and inside a TensorFlow graph (filter patterns optimise an image in
pixel space and apply the model's preprocessing inside the compiled step).
Input: float pixels in [0, 255], channels last (RGB, or 1 channel for gray models).
"""
MODES = ("none", "rescale", "caffe", "tf", "torch")

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def apply(x, mode: str):
    """Preprocess float pixels in [0, 255] (numpy array or tf tensor, ... x H x W x C)."""
    if mode == "none":
        return x
    if mode == "rescale":
        return x * (1.0 / 255.0)
    if mode == "tf":
        return x * (1.0 / 127.5) - 1.0
    channels = x.shape[-1]
    if mode == "caffe":
        if channels != 3:
            return x - sum(_CAFFE_MEAN_BGR) / 3
        bgr = x[..., ::-1]
        return bgr - _as_like(bgr, _CAFFE_MEAN_BGR)
    if mode == "torch":
        y = x * (1.0 / 255.0)
        if channels != 3:
            return (y - 0.449) / 0.226
        return (y - _as_like(y, _TORCH_MEAN)) / _as_like(y, _TORCH_STD)
    raise ValueError(f"unknown preprocessing mode {mode!r}; use one of {', '.join(MODES)}")


def _as_like(x, values):
    """A constant broadcastable against x, of x's kind (numpy or TensorFlow)."""
    import numpy as np

    if isinstance(x, np.ndarray):
        return np.asarray(values, dtype=x.dtype)
    import tensorflow as tf

    return tf.constant(values, dtype=x.dtype)
