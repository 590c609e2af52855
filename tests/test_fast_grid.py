"""The fast activation grid (convscope/engine/explore/fast_grid.py) draws exactly what the straightforward
pipeline draws: channel-first normalisation (the seeds' formula, written out here),
a colour table indexed per value, tiles padded with the background colour."""
import numpy as np
import pytest

from convscope.engine import colormaps, grid
from convscope.engine.explore import fast_grid

GAP = np.array([31, 33, 36], np.uint8)


def reference(act, mode, per_row, colormap):
    a = np.moveaxis(act.astype(np.float32), -1, 0)
    if mode == "channel":
        mean = a.mean(axis=(1, 2), keepdims=True)
        std = a.std(axis=(1, 2), keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(std > 0, (a - mean) / np.where(std > 0, std, 1.0), 0.0)
        u8 = np.clip(z * 64.0 + 128.0, 0, 255).astype(np.uint8)
    else:
        lo, hi = float(a.min()), float(a.max())
        if hi <= lo:  # a flat layer: all zero
            return grid.tile(colormaps.lut(colormap)[np.zeros(a.shape, np.uint8)], per_row, 1, GAP)
        u8 = np.clip((a - lo) * (255.0 / (hi - lo)) + 0.5, 0, 255).astype(np.uint8)
    return grid.tile(colormaps.lut(colormap)[u8], per_row, margin=1, fill=GAP)


@pytest.mark.parametrize("shape,per_row", [((20, 24, 13), 4), ((9, 9, 16), 16), ((6, 5, 7), 3),
                                           ((4, 4, 1), 1), ((3, 8, 5), 9)])
@pytest.mark.parametrize("mode", ["channel", "layer"])
def test_grid_equals_the_straightforward_pipeline(shape, per_row, mode):
    rng = np.random.default_rng(sum(shape))
    act = np.maximum(rng.normal(size=shape), 0).astype(np.float32) * rng.uniform(0.1, 9, shape[-1])
    act[..., 0] = 0.0  # a dead channel
    if shape[-1] > 2:
        act[..., 2] = 3.0  # a constant one
    picture = fast_grid.GridPicture(act, mode)
    for colormap in ("viridis", "jet"):  # the second only recolours the grey grid
        np.testing.assert_array_equal(picture.render(per_row, colormap, GAP),
                                      reference(act, mode, per_row, colormap))
    np.testing.assert_array_equal(picture.render(2, "gray", GAP), reference(act, mode, 2, "gray"))
