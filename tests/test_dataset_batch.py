"""`convscope batch` on real files: bad files land in errors.csv, a SIGKILLed run resumes to
exactly one row per image x method, the metrics equal independent re-computations, and
Grad-CAM wins the pointing game on fresh demo shapes."""
import csv
import math
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image as P

from convscope.engine.cli import main as cli_main
from convscope.engine.dataset.demo_folder import write_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rows(run):
    return pq.read_table(os.path.join(run, "results.parquet")).to_pylist()


def _errors(run):
    with open(os.path.join(run, "errors.csv"), newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    d = tmp_path_factory.mktemp("shapes")
    return write_folder(str(d), n=10, seed=9100)


def test_bad_files_go_to_errors_and_the_run_goes_on(tmp_path, capsys):
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        P.fromarray(rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8)).save(d / f"good{i}.png")
    full = (d / "good0.png").read_bytes()
    (d / "corrupt.png").write_bytes(full[:len(full) // 2])  # truncated mid-stream
    (d / "notes.jpg").write_text("this is a text file, not a JPEG\n" * 20)
    P.fromarray(np.zeros((1, 1, 3), np.uint8)).save(d / "dot.png")
    run = tmp_path / "run"
    code = cli_main(["batch", "--model", "demo", "--images", str(d), "--out", str(run),
                     "--methods", "gradcam,gradcam++", "--metrics", "drop,increase",
                     "--batch-size", "3"])
    assert code == 0, capsys.readouterr().err
    rows = _rows(run)
    got = sorted((os.path.basename(r["path"]), r["method"]) for r in rows)
    assert got == sorted((f"good{i}.png", m) for i in range(4) for m in ("gradcam", "gradcam++"))
    errs = {os.path.basename(e["path"]): e["error"] for e in _errors(run)}
    assert set(errs) == {"corrupt.png", "notes.jpg", "dot.png"}
    assert "1x1" in errs["dot.png"]
    assert "not an image" in errs["notes.jpg"]
    assert all(len(e["sha256"]) == 64 for e in _errors(run))
    for r in rows:  # metrics not asked for stay empty; the asked ones are fractions
        assert 0.0 <= r["average_drop"] <= 1.0 and r["increase_in_confidence"] in (0.0, 1.0)
        assert math.isnan(r["deletion_auc"]) and math.isnan(r["pointing_game"])
    for name in ("results.csv", "summary.csv", "summary.md", "summary.pdf", "run.json"):
        assert (run / name).stat().st_size > 0
    assert (run / "summary.pdf").read_bytes()[:5] == b"%PDF-"


def test_metrics_equal_independent_recomputation(shapes, tmp_path, demo_model):
    run = tmp_path / "run"
    assert cli_main(["batch", "--model", "demo", "--images", shapes, "--out", str(run),
                     "--substrate", "black", "--steps", "8", "--save-maps", "npy",
                     "--class", "label", "--batch-size", "4"]) == 0
    rows = _rows(run)
    assert len(rows) == 10
    with open(shapes, newline="") as f:
        listed = {os.path.join(os.path.dirname(shapes), r["path"]): r for r in csv.DictReader(f)}
    km = demo_model.keras_model  # softmax head: its output is the confidence

    def conf(x, c):
        return km(np.asarray(x, np.float32)[None] / 255.0, training=False).numpy()[0, c]

    for r in rows[:6]:
        item = listed[r["path"]]
        assert r["explained_label"] == item["label"]  # --class label
        img = np.asarray(P.open(r["path"]).convert("RGB"), np.float32)
        h, w = img.shape[:2]
        heat = np.load(os.path.join(run, r["map_file"]))
        up = np.clip(cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)
        c = r["explained_class"]
        # average drop (Chattopadhay et al.): max(0, Y - O) / Y with O on E * I
        y_full, o = conf(img, c), conf(img * up[..., None], c)
        assert r["score"] == pytest.approx(y_full, abs=1e-5)
        assert r["average_drop"] == pytest.approx(max(0.0, y_full - o) / y_full, abs=1e-5)
        assert r["increase_in_confidence"] == float(o > y_full)
        # pointing game, brute force: distance from the maximum to the nearest box pixel
        x0, y0, x1, y1 = (int(item[k]) for k in ("x0", "y0", "x1", "y1"))
        py, px = np.unravel_index(np.argmax(up), up.shape)
        by, bx = np.mgrid[y0:y1, x0:x1]
        dist = np.sqrt((by - py) ** 2 + (bx - px) ** 2).min()
        assert r["pointing_game"] == float(dist <= 15)
        # energy pointing game: share of the map's sum inside the box
        assert r["energy_pointing_game"] == pytest.approx(up[y0:y1, x0:x1].sum() / up.sum(), abs=1e-5)
        # deletion AUC with a black substrate: remove the top pixels step by step
        order = np.argsort(-up.ravel(), kind="stable")
        probs = []
        for s in range(9):
            x = img.reshape(-1, 3).copy()
            x[order[:round(s / 8 * h * w)]] = 0.0
            probs.append(conf(x.reshape(h, w, 3), c))
        trapz = sum((probs[k] + probs[k + 1]) / 2 for k in range(8)) / 8
        assert r["deletion_auc"] == pytest.approx(trapz, abs=1e-4)


def test_pointing_game_on_200_fresh_shapes(tmp_path, demo_model):
    """Grad-CAM on the demo model points at the object (Zhang et al.'s game, 15 px)."""
    from convscope.engine.dataset.explain import Settings
    from convscope.engine.dataset.runner import finalize, pending, run_local
    from convscope.engine.dataset.sources import list_items
    from convscope.engine.dataset.store import RunStore

    listing = write_folder(str(tmp_path / "shapes"), n=200, seed=7401)
    items = list_items(listing)
    settings = Settings(methods=("gradcam",), metrics=("pointing", "energy"))
    store = RunStore(str(tmp_path / "run"))
    store.open({"settings": settings.as_dict()}, resume=False)
    run_local(demo_model, settings, store, pending(items, set()), batch_size=50)
    out = finalize(store, settings)
    (stat,) = [s for s in out["summary"] if s["metric"] == "pointing_game"]
    assert stat["n"] == 200
    assert stat["mean"] >= 0.9, stat
    assert stat["ci_low"] <= stat["mean"] <= stat["ci_high"]


def _count_chunks(run):
    d = os.path.join(run, "chunks")
    return len([n for n in os.listdir(d) if n.isdigit()]) if os.path.isdir(d) else 0


def test_sigkill_halfway_then_resume_gives_exactly_the_rows(tmp_path, capsys):
    listing = write_folder(str(tmp_path / "shapes"), n=24, seed=9200)
    run = str(tmp_path / "run")
    args = ["batch", "--model", "demo", "--images", listing, "--out", run,
            "--methods", "gradcam,scorecam", "--metrics", "drop,increase,pointing",
            "--batch-size", "2", "--steps", "4"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py")] + args, cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while _count_chunks(run) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    committed = _count_chunks(run)
    assert 4 <= committed < 12  # killed halfway: some chunks, not all
    assert not os.path.exists(os.path.join(run, "results.parquet"))

    # another setting is refused, with one error line
    bad = args[:-2] + ["--steps", "5", "--resume"]
    assert cli_main(bad) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "steps" in err[0]
    # no --resume: refused too
    assert cli_main(args) == 2
    assert "--resume" in capsys.readouterr().err

    assert cli_main(args + ["--resume"]) == 0
    rows = _rows(run)
    keys = [(r["path"], r["method"]) for r in rows]
    assert len(keys) == len(set(keys)) == 48
    names = sorted({os.path.basename(p) for p, _ in keys})
    assert names == [f"shape_{i:04d}.png" for i in range(24)]
    assert [m for _, m in keys[:4]] == ["gradcam", "scorecam", "gradcam", "scorecam"]
    assert not _errors(run)


def test_ctrl_c_stops_between_batches_and_leaves_a_resumable_run(tmp_path, capsys):
    listing = write_folder(str(tmp_path / "shapes"), n=16, seed=9250)
    run = str(tmp_path / "run")
    args = ["batch", "--model", "demo", "--images", listing, "--out", run,
            "--methods", "gradcam", "--metrics", "drop", "--batch-size", "2"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py")] + args, cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while _count_chunks(run) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before Ctrl-C"
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130  # not an abort (-6) from a thread left running
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "--resume" in lines[0], err[-500:]
    assert 2 <= _count_chunks(run) < 8
    assert not os.path.exists(os.path.join(run, "results.parquet"))
    assert cli_main(args + ["--resume"]) == 0
    keys = [(r["path"], r["method"]) for r in _rows(run)]
    assert len(keys) == len(set(keys)) == 16
    assert not _errors(run)  # a cancelled batch is not a list of bad files
