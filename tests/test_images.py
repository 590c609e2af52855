"""Decoding every image kind the design lists, from real files."""
import numpy as np
import pytest

from convscope.engine import UserError, load_image
from convscope.engine import images as image_io
from convscope.engine import preprocess


@pytest.mark.parametrize("name", ["plain.png", "photo.bmp", "photo.tiff", "photo.webp"])
def test_lossless_formats_decode_exactly(images_dir, name):
    ref = load_image(images_dir / "plain.png").pixels
    img = load_image(images_dir / name)
    assert img.pixels.dtype == np.uint8 and img.pixels.shape == (30, 40, 3)
    np.testing.assert_array_equal(img.pixels, ref)


def test_jpeg_decodes_close_to_source(images_dir):
    ref = load_image(images_dir / "plain.png").pixels.astype(int)
    img = load_image(images_dir / "photo.jpg").pixels.astype(int)
    assert np.abs(img - ref).mean() < 12


def test_exif_orientation_is_applied(images_dir):
    img = load_image(images_dir / "rotated.jpg")
    assert img.size == (40, 30)  # rotated 90°
    # orientation 6 = rotate clockwise: the red top-left corner moves to the top-right
    top_right = img.pixels[:8, -8:].astype(int)
    assert top_right[..., 0].mean() > 200 and top_right[..., 1].mean() < 60


def test_gray_8_and_16_bit(images_dir):
    g8 = load_image(images_dir / "gray.png")
    assert g8.source_mode == "L"
    np.testing.assert_array_equal(g8.pixels[..., 0], g8.pixels[..., 2])
    assert g8.pixels[0, 5, 0] == 5
    g16 = load_image(images_dir / "gray16.png")
    assert g16.source_mode.startswith("I")
    raw = (np.arange(30 * 40, dtype=np.uint32) * 50 % 65536).reshape(30, 40)
    np.testing.assert_allclose(g16.pixels[..., 0].astype(float), raw / 257.0, atol=0.51)


def test_rgba_composited_on_white_and_palette(images_dir):
    a = load_image(images_dir / "alpha.png").pixels
    assert (a[:, 20:] == 255).all()
    ref = load_image(images_dir / "plain.png").pixels
    np.testing.assert_array_equal(a[:, :20], ref[:, :20])
    p = load_image(images_dir / "palette.png")
    assert p.source_mode == "P" and p.pixels.shape == (30, 40, 3)
    assert np.abs(p.pixels.astype(int) - ref).mean() < 40


@pytest.mark.parametrize("name, words", [
    ("not_an_image.png", "not an image"), ("truncated.jpg", "not an image"),
    ("missing.png", "not found")])
def test_bad_image_files_give_clear_errors(images_dir, name, words):
    with pytest.raises(UserError, match=words):
        load_image(images_dir / name)


def test_fit_resizes_and_converts_to_gray(images_dir):
    img = load_image(images_dir / "plain.png")
    x = image_io.fit(img, 60, 80, 3)
    assert x.shape == (60, 80, 3) and x.dtype == np.float32
    g = image_io.fit(img, 30, 40, 1)
    np.testing.assert_allclose(g[..., 0], img.gray(), atol=1e-3)
    free = image_io.fit(img, None, None, 3)
    assert free.shape == (32, 32, 3)  # free sides: the image's, on a 32-pixel grid
    tall = image_io.from_array(np.zeros((1000, 666, 3), np.uint8))
    assert image_io.fitted_size(tall, None, None) == (512, 352)  # 512 x 341 -> grid


def test_preprocessing_modes_match_keras_applications():
    import keras

    x = np.random.default_rng(0).uniform(0, 255, (2, 5, 5, 3)).astype(np.float32)
    for mode, fn in [("caffe", keras.applications.vgg16.preprocess_input),
                     ("tf", keras.applications.mobilenet_v2.preprocess_input),
                     ("torch", keras.applications.densenet.preprocess_input)]:
        np.testing.assert_allclose(preprocess.apply(x, mode), fn(x.copy()), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(preprocess.apply(x, "rescale"), x / 255.0, rtol=1e-6)


def test_decompression_bomb_is_a_clear_error(tmp_path, monkeypatch):
    from PIL import Image as P

    P.new("L", (300, 300)).save(tmp_path / "big.png")
    monkeypatch.setattr(P, "MAX_IMAGE_PIXELS", 20_000)  # refuses above 2x this
    with pytest.raises(UserError, match="too large to open safely"):
        load_image(tmp_path / "big.png")
    P.new("L", (150, 150)).save(tmp_path / "warn.png")  # above the warning level only
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert load_image(tmp_path / "warn.png").size == (150, 150)
    assert not [w for w in seen if issubclass(w.category, P.DecompressionBombWarning)]
