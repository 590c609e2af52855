"""The command line: JSON outputs, raw .npy outputs, and one clear line for every bad input."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image as P

from convscope.engine.cli import main as cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(capsys, *argv):
    code = cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_json(capsys, nested_path):
    code, out, err = run_cli(capsys, "info", "--model", nested_path, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["head"] == {"activation": "softmax", "units": 5, "classes": 5, "kind": "softmax",
                           "reason": "the output layer applies softmax", "chosen": False}
    assert doc["input_shape"] == [64, 64, 3] and doc["output_shape"] == [5]
    import keras

    assert doc["params"] == keras.saving.load_model(nested_path).count_params()
    paths = {layer["path"]: layer for layer in doc["layers"]}
    assert paths["head_block/inner_block/squeeze"]["output_shape"] == [2, 2, 32]
    assert paths["gap"]["spatial"] is False and doc["device"].startswith(("CPU", "GPU"))


def test_predict_json_scores_sum_to_one(capsys, nested_path, images_dir):
    code, out, _ = run_cli(capsys, "predict", "--model", nested_path, "--image",
                           str(images_dir / "photo.jpg"), "--top", "5", "--json")
    assert code == 0
    preds = json.loads(out)["predictions"]
    assert len(preds) == 5 and abs(sum(p["score"] for p in preds) - 1) < 1e-4
    assert [p["score"] for p in preds] == sorted((p["score"] for p in preds), reverse=True)


def test_activations_grid_and_npy(capsys, seq_sigmoid_path, images_dir, tmp_path):
    out_png, out_npy = tmp_path / "grid.png", tmp_path / "a.npy"
    code, out, err = run_cli(capsys, "activations", "--model", seq_sigmoid_path, "--image",
                             str(images_dir / "plain.png"), "--layer", "conv2d_2",
                             "--out", str(out_png), "--per-row", "4", "--npy", str(out_npy))
    assert code == 0, err
    a = np.load(out_npy)
    assert a.shape == (21, 21, 16) and a.dtype == np.float32
    grid = np.asarray(P.open(out_png))
    assert grid.shape == (4 * 21 + 3, 4 * 21 + 3, 3)
    # independent re-computation with the API
    from convscope.engine import load_image, open_model

    ref = open_model(seq_sigmoid_path).activations(load_image(images_dir / "plain.png"), ["conv2d_2"])
    np.testing.assert_allclose(a, ref["conv2d_2"], rtol=1e-6)


@pytest.mark.parametrize("args, words", [
    (["info", "--model", "/nope/model.keras"], "model file not found"),
    (["predict", "--model", "MODEL", "--image", "/nope.png"], "image file not found"),
    (["predict", "--model", "MODEL", "--image", "IMAGES/not_an_image.png"], "not an image"),
    (["activations", "--model", "MODEL", "--image", "IMAGES/plain.png", "--layer", "conv9", "--out", "OUT/x.png"], "no layer 'conv9'"),
    (["activations", "--model", "MODEL", "--image", "IMAGES/plain.png", "--layer", "dense_1", "--out", "OUT/x.png"], "no spatial output"),
    (["activations", "--model", "MODEL", "--image", "IMAGES/plain.png", "--layer", "conv2d_1", "--out", "/nope/dir/x.png"], "does not exist"),
    (["info"], "--model"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_one_line_exit_2(capsys, seq_sigmoid_path, images_dir, tmp_path, args, words):
    subst = {"MODEL": seq_sigmoid_path, "IMAGES": str(images_dir), "OUT": str(tmp_path)}
    argv = [a.replace("MODEL", subst["MODEL"]).replace("IMAGES", subst["IMAGES"]).replace("OUT", subst["OUT"]) for a in args]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_subprocess_exit_status_and_no_traceback(seq_sigmoid_path, tmp_path):
    """The real entry point, as a user runs it."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, "main.py", "info", "--model", str(tmp_path / "missing.h5")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"error: model file not found: {tmp_path / 'missing.h5'}"]
    # an error found after TensorFlow has loaded is one line too (its start-up noise is hidden)
    img = tmp_path / "x.png"
    P.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    r = subprocess.run([sys.executable, "main.py", "activations", "--model", seq_sigmoid_path,
                        "--image", str(img), "--layer", "conv2d_9", "--out", str(tmp_path / "o.png")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "no layer 'conv2d_9'" in r.stderr and "conv2d_1" in r.stderr  # suggests near names
    assert not (tmp_path / "o.png").exists()
    r = subprocess.run([sys.executable, "main.py", "info", "--model", seq_sigmoid_path],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "conv2d_1" in r.stdout and "sigmoid" in r.stdout


def test_filters_grid_and_npy_match_the_api(capsys, demo_model, tmp_path):
    out_png, out_npy = tmp_path / "f.png", tmp_path / "f.npy"
    code, _, err = run_cli(capsys, "filters", "--model", "demo", "--layer", "conv2", "--filters", "0-4",
                           "--mode", "classic", "--steps", "3", "--per-row", "3", "--out", str(out_png), "--npy", str(out_npy))
    assert code == 0, err
    patterns = np.load(out_npy)
    assert patterns.shape == (5, 96, 96, 3) and patterns.dtype == np.uint8
    ref = demo_model.filter_patterns("conv2", mode="classic", filters=range(5), steps=3, seed=0)
    np.testing.assert_array_equal(patterns, ref)
    grid = np.asarray(P.open(out_png))
    assert grid.shape == (2 * 96 + 5, 3 * 96 + 2 * 5, 3)  # the seed's black 5-px margins
    assert (grid[96:101] == 0).all()


@pytest.mark.parametrize("args, words", [
    (["--filters", "0-99"], "out of range"),
    (["--mode", "classic", "--tv", "0.1"], "--mode regularized"),
    (["--filters", "a-b"], "give indices"),
    (["--layer", "gap"], "no spatial output"),
])
def test_filters_bad_input(capsys, tmp_path, args, words):
    argv = ["filters", "--model", "demo", "--layer", "conv3", "--steps", "1", "--out", str(tmp_path / "f.png")]
    argv += args  # a repeated --layer wins
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err, err
    assert not (tmp_path / "f.png").exists()


def test_ctrl_c_stops_a_long_ascent_and_writes_nothing(tmp_path):
    """Ctrl-C during a long computation: the CancelToken stops it between steps."""
    import signal
    import time

    out = tmp_path / "f.png"
    proc = subprocess.Popen([sys.executable, "main.py", "filters", "--model", "demo", "--layer", "conv5",
                             "--steps", "100000", "--out", str(out)], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(10)  # model loaded and ascent running (or not yet: both must end the same way)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines()[-1].startswith("error: interrupted")
    assert not out.exists()


@pytest.mark.parametrize("args, words", [
    (["predict", "--model", "demo", "--image", "", ], "--image is empty"),
    (["predict", "--model", "demo", "--image", "IMG", "--top", "0"], "--top must be at least 1"),
    (["filters", "--model", "demo", "--layer", "conv1", "--batch-size", "0", "--out", "OUT"], "--batch-size"),
    (["filters", "--model", "demo", "--layer", "conv1", "--steps", "10000000", "--out", "OUT"], "--steps must be between"),
    (["filters", "--model", "demo", "--layer", "image", "--out", "OUT"], "the model's input"),
])
def test_more_bad_numbers_and_layers(capsys, tmp_path, args, words):
    img = tmp_path / "x.png"
    P.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    argv = [a.replace("IMG", str(img)).replace("OUT", str(tmp_path / "o.png")) for a in args]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err, err
    assert not (tmp_path / "o.png").exists()
