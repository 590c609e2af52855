"""Targets from outside (issue 21): the engine side of the window (heads, predicted mask,
boxes), bad targets one clear line, the command line (cam/figure/batch/video --target,
recipes), the engine jobs, and the guards that keep a class map from answering a target.
The definitions themselves are checked in tests/test_targets.py (whose fixtures build the
models)."""

import json
import os

import numpy as np
import pytest

from convscope.engine.cli import main as cli
from convscope.engine.errors import UserError
from test_targets import models, tm  # noqa: F401 (fixtures)
from test_targets import _x


# -- the window's engine side ---------------------------------------------------------------
def test_heads_and_predicted_mask(models, tm):
    from convscope.engine import targets

    hs = targets.heads(models["two_head"])
    assert [(h.name, h.shape, h.activation) for h in hs] == [
        ("shape", (4,), "softmax"), ("size", (1,), "linear")]
    m = models["unet"]
    (h,) = targets.heads(m)
    assert h.spatial and h.classes == 5
    pm = targets.predicted_mask(m, tm["shape_0"])
    z = m.keras_model.predict(_x(m, tm["shape_0"]), verbose=0)[0]
    np.testing.assert_array_equal(pm.classes, z.argmax(-1))  # 64 x 64 image: same size
    assert len(pm.names) == 5 and pm.grid == (64, 64)
    with pytest.raises(UserError, match="no spatial"):
        targets.predicted_mask(models["regressor"], tm["shape_0"])


def test_image_box_to_input(models, tm):
    from convscope.engine import targets
    from convscope.engine.images import from_array

    big = from_array(np.zeros((128, 256, 3), np.uint8))
    assert targets.image_box_to_input(models["unet"], big, (32, 20, 100, 60)) == (8, 10, 25, 30)


# -- bad targets: one clear line ------------------------------------------------------------
@pytest.mark.parametrize("model, spec, words", [
    ("unet", "region:10,10,80,50", "outside the output"),
    ("unet", "region:-1,0,5,5", "outside the output"),
    ("unet", "region:10,10,50,50:7", "5 classes"),
    ("unet", "value", "not a vector of values"),
    ("two_head", "value", "classifier"),
    ("regressor", "value:3", "1 unit"),
    ("two_head", "output:nope", "no output 'nope'"),
    ("two_head", "output:size:4", "1 units"),
    ("embedding", "unit:nope:1", "no layer 'nope'"),
    ("embedding", "unit:conv2:99", "16 channels"),
    ("embedding", "unit:conv2:1@70,1", "outside"),
    ("unet", "bogus:3", "unknown target kind"),
    ("unet", "region:1,2,3", "four numbers"),
    ("embedding", "similar:/no/such.png", "no reference image"),
])
def test_bad_targets(models, tm, model, spec, words):
    with pytest.raises(UserError, match=words) as info:
        models[model].cam(tm["shape_0"], target=spec)
    assert "\n" not in str(info.value)


def test_reference_of_another_size_on_a_fixed_size_model(models, tm):
    with pytest.raises(UserError, match="fixed") as info:
        models["embedding"].cam(tm["shape_0"], target=f"similar:{tm['other_size']}")
    assert "\n" not in str(info.value)


def test_model_without_classifier_names_target(models, tm):
    with pytest.raises(UserError, match="--target"):
        models["unet"].cam(tm["shape_0"])


# -- command line ---------------------------------------------------------------------------
def _cli(capsys, *argv):
    code = cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_region_on_unet_and_value_on_regressor(capsys, tm, tmp_path):
    out = str(tmp_path / "u.png")
    code, so, err = _cli(capsys, "cam", "--model", tm["unet"], "--image", tm["shape_0"],
                         "--target", "region:10,12,50,44:3", "--out", out, "--json")
    assert code == 0, err
    doc = json.loads(so)
    assert doc["target"] == "region:10,12,50,44:3" and os.path.isfile(out)
    out2 = str(tmp_path / "r.png")
    code, so, err = _cli(capsys, "cam", "--model", tm["regressor"], "--image", tm["shape_0"],
                         "--target", "value", "--out", out2, "--json")
    assert code == 0, err
    assert json.loads(so)["target"] == "value:0"


@pytest.mark.parametrize("model, spec", [("unet", "region:0,0,99,9"), ("two_head", "value"),
                                         ("unet", "nope:1"), ("embedding", "unit:conv9:0")])
def test_cli_bad_target_exit_2_nothing_written(capsys, tm, tmp_path, model, spec):
    out = str(tmp_path / "x.png")
    code, so, err = _cli(capsys, "cam", "--model", tm[model], "--image", tm["shape_0"],
                         "--target", spec, "--out", out)
    assert code == 2 and not os.path.exists(out)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--target" in lines[0]


def test_figure_recipe_reproduces_the_target(capsys, tm, tmp_path):
    (tmp_path / "npy1").mkdir()
    (tmp_path / "npy2").mkdir()
    out = str(tmp_path / "f.png")
    code, _, err = _cli(capsys, "figure", "--model", tm["unet"], "--image", tm["shape_0"],
                        "--method", "gradcam", "--target", "region:10,12,50,44:3", "--out", out,
                        "--npy-dir", str(tmp_path / "npy1"))
    assert code == 0, err
    with open(out + ".json") as f:
        assert json.load(f)["figure"]["target"] == "region:10,12,50,44:3"
    again = str(tmp_path / "g.png")
    code, _, err = _cli(capsys, "figure", "--recipe", out + ".json", "--out", again,
                        "--npy-dir", str(tmp_path / "npy2"))
    assert code == 0, err
    with open(again + ".json") as f:
        assert json.load(f)["figure"]["target"] == "region:10,12,50,44:3"
    a = sorted(os.listdir(tmp_path / "npy1"))
    assert a == sorted(os.listdir(tmp_path / "npy2")) and any("heatmap" in n for n in a)
    for n in a:
        np.testing.assert_array_equal(np.load(tmp_path / "npy1" / n), np.load(tmp_path / "npy2" / n))


def test_batch_and_video_take_a_target(capsys, tm, tmp_path):
    import shutil

    from convscope.engine.video.demo_clip import make_clip, write_clip

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    shutil.copy(tm["shape_0"], imgs / "a.png")
    run = str(tmp_path / "run")
    code, _, err = _cli(capsys, "batch", "--model", tm["unet"], "--images", str(imgs), "--out", run,
                        "--target", "region:10,12,50,44:3", "--methods", "gradcam", "--steps", "4",
                        "--metrics", "deletion,drop")
    assert code == 0, err
    import pandas as pd

    row = pd.read_parquet(os.path.join(run, "results.parquet")).iloc[0]
    assert row["explained_label"] == "region:10,12,50,44:3"
    with open(os.path.join(run, "run.json")) as f:
        assert json.load(f)["settings"]["target"] == "region:10,12,50,44:3"
    # the row's score is the region's confidence: the mean softmax probability of class 3
    from convscope.engine.model import open_model

    m = open_model(tm["unet"])
    p = m.keras_model.predict(m.prepare([tm["shape_0"]]), verbose=0)[0]
    assert row["score"] == pytest.approx(float(p[12:44, 10:50, 3].mean()), rel=1e-4)
    clip = str(tmp_path / "c.avi")
    write_clip(clip, make_clip(4, 64, seed=1, fps=10.0))
    out = str(tmp_path / "v.gif")
    code, _, err = _cli(capsys, "video", "--model", tm["regressor"], "--input", clip, "--out", out,
                        "--target", "value-")
    assert code == 0 and os.path.isfile(out), err
    bad = str(tmp_path / "w.gif")
    code, _, err = _cli(capsys, "video", "--model", tm["unet"], "--input", clip, "--out", bad,
                        "--target", "region:0,0,99,9")
    assert code == 2 and not os.path.exists(bad) and "outside the output" in err


def test_engine_jobs_for_the_window(tm):
    """The engine thread's side (no Qt): PredictMask, and a Cam job with a target."""
    from convscope.engine import jobs as J
    from convscope.engine.images import load_image
    from convscope.engine.worker import Worker

    w = Worker()
    got = []
    w.run(J.LoadModel(spec=tm["unet"]), got.append)
    img = load_image(tm["shape_0"])
    w.run(J.PredictMask(image=img), got.append)
    mask = [r for r in got if isinstance(r, J.MaskReady)]
    assert mask, got
    mk = mask[0]
    assert mk.classes.shape == (64, 64) and len(mk.names) == 5 and mk.input_hw == (64, 64)
    assert mk.heads[0]["spatial"] and mk.heads[0]["name"] == "segmentation"
    w.run(J.Cam(image=img, target="region:10,12,50,44"), got.append)
    ready = [r for r in got if isinstance(r, J.CamReady)]
    assert ready and ready[0].target.startswith("region:10,12,50,44:") and ready[0].layer == "bottleneck"
    votes = np.bincount(mk.classes[12:44, 10:50].ravel(), minlength=5)
    assert ready[0].target == f"region:10,12,50,44:{votes.argmax()}"
    w.run(J.CompareCams(image=img, methods=("gradcam", "hirescam", "cam"),
                        target="region:10,12,50,44:3"), got.append)
    cmp = [r for r in got if isinstance(r, J.CamReady)][1:]
    assert [r.target for r in cmp[:2]] == ["region:10,12,50,44:3"] * 2
    assert cmp[2].error  # CAM reads a class's Dense weights: not for a target (its own line)
    w.run(J.Cam(image=img), got.append)  # no target on a model without a classifier
    failed = [r for r in got if isinstance(r, J.JobFailed)]
    assert failed and "--target" in failed[-1].message


def test_exploration_of_a_model_without_classifier(models, tm):
    """The window's first analysis of a U-Net records every layer (no class gradients)."""
    from convscope.engine.explore import cache as explore

    m = models["unet"]
    assert explore.analyse(m, tm["shape_1"]) in (True, False)
    assert explore.has_activations(m, tm["shape_1"])
    explore.warm_up(m)


def test_commands_without_target_on_a_unet_name_it(capsys, tm, tmp_path):
    for argv in (["figure", "--model", tm["unet"], "--image", tm["shape_0"], "--out",
                  str(tmp_path / "f.png")],
                 ["batch", "--model", tm["unet"], "--images", tm["dir"], "--out", str(tmp_path / "run"),
                  "--limit", "1"],
                 ["cam", "--model", tm["unet"], "--image", tm["shape_0"], "--out", str(tmp_path / "c.png")]):
        code, _, err = _cli(capsys, *argv)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and "--target" in lines[0], (argv[0], err)
    assert not os.listdir(tmp_path)


def test_fast_lane_never_answers_a_target_from_the_class_cache(tm):
    from convscope.engine import jobs as J
    from convscope.engine.explore import cache as explore
    from convscope.engine.images import load_image
    from convscope.engine.worker import Worker

    w = Worker()
    w.run(J.LoadModel(spec=tm["two_head"]), lambda r: None)
    img = load_image(tm["shape_0"])
    explore.set_cold(w.model, False)
    explore.analyse(w.model, img)  # every layer + the top class's gradients, cached
    assert w.fast_answer(J.Cam(image=img, layer="conv2")) is not None  # the class: cached
    assert w.fast_answer(J.Cam(image=img, layer="conv2", target="output:size")) is None
