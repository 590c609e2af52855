"""Property-based fuzzing (hypothesis) of the image decoder and the model loader on
mutated real files: whatever the bytes, the answer is a decoded image / an opened model,
or a UserError — never another exception, a crash or a hang (a per-example deadline).

Budget: 300 mutated images (9 formats) and 2 x 30 mutated model files (.keras, .h5),
about 20 s on two idle cores. Mutations: byte flips, overwrites, insertions, deletions
and truncations at any offset, up to 6 per file; the seeds are real files (a photograph
shipped with the project in each image format, a small convnet saved by Keras).
"""
import datetime
import io
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image as P

from convscope.engine.errors import UserError
from convscope.engine.images import KEEP_MAX_PIXELS, load_image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.timeout(600)


def _seeds() -> dict:
    """{suffix-tagged name: bytes} of real image files, small."""
    photo = P.open(os.path.join(ROOT, "convscope", "resources", "samples", "cat.jpg")).convert("RGB")
    photo = photo.resize((48, 36))
    out = {}

    def put(name, im, **kw):
        buf = io.BytesIO()
        im.save(buf, format=kw.pop("format"), **kw)
        out[name] = buf.getvalue()

    put("rgb.png", photo, format="PNG")
    put("palette.png", photo.convert("P", palette=P.Palette.ADAPTIVE, colors=16), format="PNG")
    put("gray16.png", P.fromarray((np.asarray(photo.convert("L"), np.uint16) * 257)), format="PNG")
    exif = P.Exif()
    exif[0x0112] = 6
    put("photo.jpg", photo, format="JPEG", quality=90, exif=exif)
    put("anim.gif", photo.convert("P"), format="GIF")
    put("photo.bmp", photo, format="BMP")
    put("photo.tif", photo, format="TIFF", compression="tiff_lzw")
    put("photo.webp", photo, format="WEBP", quality=80)
    put("rgba.png", photo.convert("RGBA"), format="PNG")
    return out


SEEDS = _seeds()

mutation = st.tuples(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]),
                     st.floats(0, 1, exclude_max=True), st.integers(0, 255))


def mutate(data: bytes, mutations) -> bytes:
    b = bytearray(data)
    for kind, where, value in mutations:
        if not b:
            break
        i = int(where * len(b))
        if kind == "flip":
            b[i] ^= 1 << (value % 8)
        elif kind == "set":
            b[i] = value
        elif kind == "insert":
            b[i:i] = bytes([value]) * (1 + value % 16)
        elif kind == "delete":
            del b[i:i + 1 + value % 16]
        else:
            del b[i:]
    return bytes(b)


@settings(max_examples=300, deadline=datetime.timedelta(seconds=10), database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SEEDS)), mutations=st.lists(mutation, min_size=1, max_size=6))
def test_image_decoder_never_fails_otherwise(tmp_path, name, mutations):
    path = tmp_path / name
    path.write_bytes(mutate(SEEDS[name], mutations))
    try:
        img = load_image(path)
    except UserError as exc:
        assert str(exc).strip() and "\n" not in str(exc)
        return
    assert img.pixels.dtype == np.uint8 and img.pixels.ndim == 3 and img.pixels.shape[2] == 3
    assert 0 < img.pixels.shape[0] * img.pixels.shape[1] <= KEEP_MAX_PIXELS


@pytest.fixture(scope="module")
def model_seeds(tmp_path_factory):
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((24, 24, 3))
    x = L.Conv2D(4, 3, activation="relu", name="conv")(inp)
    x = L.BatchNormalization(name="bn")(x)
    out = L.Dense(3, activation="softmax", name="head")(L.GlobalAveragePooling2D(name="gap")(x))
    m = keras.Model(inp, out, name="tiny")
    d = tmp_path_factory.mktemp("fuzz-models")
    m.save(d / "tiny.keras")
    m.save(d / "tiny.h5")
    return {s: (d / f"tiny{s}").read_bytes() for s in (".keras", ".h5")}


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_model_loader_never_fails_otherwise(model_seeds, tmp_path_factory, suffix):
    from convscope.engine import open_model

    d = tmp_path_factory.mktemp("fuzzed")
    count = iter(range(10**6))

    @settings(max_examples=30, deadline=datetime.timedelta(seconds=30), database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(mutations=st.lists(mutation, min_size=1, max_size=6))
    def check(mutations):
        path = d / f"m{next(count)}{suffix}"
        path.write_bytes(mutate(model_seeds[suffix], mutations))
        try:
            m = open_model(str(path))
        except UserError as exc:
            assert str(exc).strip()
            return
        assert m.input_shape == (24, 24, 3) and m.layers

    check()
