"""numpy <-> QImage, on the GUI thread only (QPixmap/QImage are never built elsewhere)."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap


def to_qimage(rgb: np.ndarray) -> QImage:
    """uint8 (H, W) or (H, W, 3) -> a QImage that owns its pixels."""
    a = np.ascontiguousarray(rgb, dtype=np.uint8)
    if a.ndim == 2:
        h, w = a.shape
        return QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    h, w = a.shape[:2]
    return QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(rgb))


def from_qimage(image: QImage) -> np.ndarray:
    """A QImage (any format) -> uint8 RGB (H, W, 3)."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = img.height(), img.width(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=h * stride)
    return buf.reshape(h, stride)[:, : 3 * w].reshape(h, w, 3).copy()


def thumbnail(rgb: np.ndarray, side: int) -> np.ndarray:
    """Shrunk to fit a side x side box (aspect kept), with OpenCV's area filter."""
    import cv2

    h, w = rgb.shape[:2]
    scale = min(side / h, side / w, 1.0)
    if scale >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                      interpolation=cv2.INTER_AREA)
