"""The regularized ascent's parts as objects (engine.filters.params): parametrisations
(Fourier, Pixel) and optimisers (Adam, the seed's normalised step), checked against the
formulas in numpy."""
import numpy as np
import pytest

from convscope.engine.filters import params as fp
from convscope.engine.errors import UserError


@pytest.fixture(scope="module")
def tf():
    from convscope.engine import tf_runtime

    tf_runtime.init("cpu")
    import tensorflow

    return tensorflow


def test_config_names_its_objects():
    assert fp.Regularized().parametrisation == fp.Fourier(decay=1.0, decorrelate=True)
    assert fp.Regularized(param="pixel").parametrisation == fp.Pixel()
    assert isinstance(fp.Regularized().optimiser, fp.Adam)
    assert isinstance(fp.Regularized(optimizer="normalized").optimiser, fp.Normalized)
    assert fp.Regularized(param="pixel", lr=0.02).pixel_lr() == pytest.approx(0.02 * 255)
    with pytest.raises(UserError, match="use adam or normalized"):
        fp.Regularized(optimizer="sgd").validate()


def test_adam_matches_the_paper_in_numpy(tf):
    # Kingma & Ba 2015, Algorithm 1: m_t = b1 m + (1 - b1) g; v_t = b2 v + (1 - b2) g^2;
    # step = m_t / (1 - b1^t) / (sqrt(v_t / (1 - b2^t)) + eps), t counted from 1
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(4, 2, 3)).astype(np.float32)
    adam = fp.Adam()
    m = v = tf.zeros((2, 3))
    mn = vn = np.zeros((2, 3))
    for t, g in enumerate(grads):
        step, m, v = adam.update(tf.constant(g), m, v, tf.constant(t))
        mn = 0.9 * mn + 0.1 * g
        vn = 0.999 * vn + 0.001 * g * g
        ref = mn / (1 - 0.9 ** (t + 1)) / (np.sqrt(vn / (1 - 0.999 ** (t + 1))) + 1e-8)
        np.testing.assert_allclose(step.numpy(), ref, rtol=1e-5, atol=1e-6)
    assert abs(step.numpy()).max() < 3  # Adam's steps are about 1 in size


def test_normalized_step_is_the_seeds(tf):
    g = np.random.default_rng(1).normal(size=(2, 4, 4, 3)).astype(np.float32) * [[[[5.0]]], [[[0.01]]]]
    step, m, v = fp.Normalized().update(tf.constant(g), None, None, 0)
    rms = np.sqrt((g.astype(np.float64) ** 2).mean(axis=(1, 2, 3), keepdims=True))
    np.testing.assert_allclose(step.numpy(), g / (rms + 1e-5), rtol=1e-5)
    assert m is None and v is None


def test_parametrisations_make_images(tf):
    h, w, c = 8, 10, 3
    fourier, pixel = fp.Fourier(), fp.Pixel()
    zero = tf.zeros((2,) + fourier.shape(h, w, c))
    np.testing.assert_allclose(fourier.to_image(zero, h, w, c).numpy(), 127.5)  # sigmoid(0)
    start = fourier.init(np.random.default_rng(0), h, w, c)
    assert start.shape == (2, c, h, w // 2 + 1) and fourier.project(start) is start
    x = tf.constant(np.array([[-3.0, 0.0, 300.0]], np.float32))
    np.testing.assert_array_equal(pixel.project(x).numpy(), [[0.0, 0.0, 255.0]])
    noise = pixel.init(np.random.default_rng(0), h, w, c)
    assert noise.shape == (h, w, c) and 118 <= noise.min() and noise.max() < 138
    assert pixel.to_image(x, h, w, c) is x
