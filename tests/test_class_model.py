"""Class-model visualisation (Simonyan et al. 2014) through the filter-pattern ascent, and
`filters --animate` (issue 10)."""
import numpy as np
import pytest
from PIL import Image as PILImage

from convscope.engine import from_array, open_model
from convscope.engine.cli import main as cli


@pytest.fixture(scope="module")
def demo():
    return open_model("demo")


def test_class_model_raises_its_logit_above_all_others(demo):
    patterns = demo.filter_patterns("output", filters=[0, 1, 2, 3], mode="regularized",
                                    steps=48, seed=0)
    assert patterns.shape == (4, 96, 96, 3)
    x = demo.prepare([from_array(p) for p in patterns])
    logits, _ = demo.forward(x, logits=True)
    assert list(logits.argmax(axis=1)) == [0, 1, 2, 3], logits
    # the logit itself was raised, far above where a grey image has it
    grey, _ = demo.forward(demo.prepare([from_array(np.full((96, 96, 3), 128, np.uint8))]),
                           logits=True)
    assert all(logits[c, c] > grey[0, c] + 1.0 for c in range(4))


def test_output_is_the_dense_head_and_its_logit_is_the_objective(demo):
    """One classic step on the Dense head equals x0 + g / RMS(g) with g the gradient of the
    class *logit* (a separate tape, softmax stripped by hand), deprocessed as the seed."""
    import keras
    import tensorflow as tf

    from convscope.engine.filters.params import classic_noise, deprocess

    a = demo.filter_patterns("predictions", mode="classic", filters=[3], steps=1, seed=1)
    b = demo.filter_patterns("output", mode="classic", filters=[3], steps=1, seed=1)
    assert np.array_equal(a, b)
    km = demo.keras_model
    feats = keras.Model(km.inputs, km.get_layer("gap").output)
    W, bias = km.get_layer("predictions").get_weights()
    x0 = tf.constant(classic_noise(1, 3, 96, 96, 3)[None])
    with tf.GradientTape() as tape:
        tape.watch(x0)
        logit = (tf.matmul(feats(x0 / 255.0, training=False), W) + bias)[0, 3]
    g = tape.gradient(logit, x0).numpy()
    x1 = x0.numpy() + g / (np.sqrt(np.mean(g ** 2)) + 1e-5)
    ref = deprocess(x1)
    assert np.abs(a.astype(int) - ref).max() <= 1 and (a != ref).mean() < 0.01
    with pytest.raises(Exception, match="out of range"):
        demo.filter_patterns("output", mode="classic", filters=[4], steps=1)


def test_cli_animate_gif_and_mp4(tmp_path, capsys):
    import cv2

    gif, mp4, png = tmp_path / "a.gif", tmp_path / "a.mp4", tmp_path / "p.png"
    code = cli(["filters", "--model", "demo", "--layer", "output", "--filters", "0-1",
                "--steps", "12", "--every", "4", "--out", str(png), "--animate", str(gif)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "0 circle, 1 square" in out and "3 frame(s)" in out
    with PILImage.open(gif) as im:
        assert im.n_frames == 3
        im.seek(2)
        last = np.asarray(im.convert("RGB"))
    assert last.shape == np.asarray(PILImage.open(png).convert("RGB")).shape
    code = cli(["filters", "--model", "demo", "--layer", "conv2", "--filters", "0-2",
                "--steps", "10", "--out", str(png), "--animate", str(mp4)])
    assert code == 0
    cap = cv2.VideoCapture(str(mp4))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 2
    ok, frame = cap.read()
    assert ok and frame.std() > 5


def test_cli_animate_bad_suffix_writes_nothing(tmp_path, capsys):
    png = tmp_path / "p.png"
    code = cli(["filters", "--model", "demo", "--layer", "conv2", "--steps", "2",
                "--out", str(png), "--animate", str(tmp_path / "a.avi")])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and ".gif or .mp4" in err
    assert not png.exists() and not (tmp_path / "a.avi").exists()
