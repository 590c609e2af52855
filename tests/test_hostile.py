"""The hostile-input battery (issue 13), through the real command line.

Every case asserts the CLI contract: the exit status, exactly one `error: ...` line on
stderr, no traceback, nothing left behind in the output folders (no half-written file, no
`.convscope-*` temp file, no output of a failed command), and a bounded peak memory.

Groups (each group runs in ONE subprocess, tests/hostile_runner.py, so the battery stays
fast; each case still gets its own exit status and streams):
- `before TensorFlow`: special files (FIFO, device), broken images, decompression bombs,
  oversized images, unwritable / missing / wrong destinations, absurd filter ranges. They
  must be refused before TensorFlow is even imported; peak memory of the group < 1 GiB.
- `with TensorFlow`: models of impossible sizes (40000^2 and 10^6^2 inputs), two inputs,
  NaN outputs in --json, an oversized filter-pattern job, a full disk (a real 64 KiB tmpfs
  when possible). Peak < 1 GiB too: refused jobs allocate nothing big. (No classifier head,
  VGG16 include_top=False, runs in a third process.)
- own processes: SIGTERM / SIGHUP mid-run, a closed stdout pipe, the window's --screenshot.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image as P

import hostile_files as hf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GiB = 1 << 30
NO_HEAD = "builtin:vgg16?weights=none&include_top=false"
pytestmark = pytest.mark.timeout(600)

# id, argv (placeholders {name} from the files fixture, {out}: the case's own folder), words
BEFORE_TF = [
    ("image_fifo", ["predict", "--model", "demo", "--image", "{fifo}"], "named pipe"),
    ("image_device", ["predict", "--model", "demo", "--image", "/dev/zero"], "a device"),
    ("image_folder", ["predict", "--model", "demo", "--image", "{out}"], "is a folder"),
    ("image_empty", ["predict", "--model", "demo", "--image", "{empty}"], "not an image"),
    ("image_text_as_jpg", ["predict", "--model", "demo", "--image", "{text}"], "not an image"),
    ("image_truncated", ["predict", "--model", "demo", "--image", "{truncated}"], "not an image"),
    ("image_header_only", ["predict", "--model", "demo", "--image", "{header_only}"], "not an image"),
    ("image_garbage_webp", ["predict", "--model", "demo", "--image", "{garbage}"], "not an image"),
    ("image_bomb_400mp", ["predict", "--model", "demo", "--image", "{bomb}"], "too large"),
    ("image_169mp", ["predict", "--model", "demo", "--image", "{huge}"], "downscale it to at most"),
    ("model_fifo", ["info", "--model", "{fifo_model}"], "named pipe"),
    ("model_device", ["info", "--model", "/dev/null"], "a device"),
    ("out_folder_missing_npy_fine", ["activations", "--model", "demo", "--image", "{good}",
     "--layer", "conv2", "--out", "{out}/missing/grid.png", "--npy", "{out}/a.npy"], "does not exist"),
    ("npy_is_a_folder", ["activations", "--model", "demo", "--image", "{good}", "--layer", "conv2",
     "--out", "{out}/grid.png", "--npy", "{out}/folder.npy"], "is a folder"),
    ("out_read_only", ["cam", "--model", "demo", "--image", "{good}", "--out", "{ro}/cam.png"],
     "cannot write"),
    ("npy_read_only", ["cam", "--model", "demo", "--image", "{good}", "--out", "{out}/cam.png",
     "--npy", "{ro}/h.npy"], "cannot write"),
    ("out_is_a_fifo", ["cam", "--model", "demo", "--image", "{good}", "--out", "{out}/pipe.png"],
     "not a regular file"),
    ("out_wrong_suffix", ["cam", "--model", "demo", "--image", "{good}", "--out", "{out}/cam.txt"],
     "ending in .png"),
    ("filters_trillion", ["filters", "--model", "demo", "--layer", "conv3", "--filters",
     "0-1000000000000", "--out", "{out}/f.png"], "at most 65,536"),
    ("filters_300_million", ["filters", "--model", "demo", "--layer", "conv3", "--filters",
     "0-300000000", "--out", "{out}/f.png"], "at most 65,536"),
    ("size_absurd", ["filters", "--model", "demo", "--layer", "conv3", "--size", "1000000",
     "--out", "{out}/f.png"], "--size must be"),
]

WITH_TF = [  # id, argv, exit status, words (in the error line, or None for success)
    ("giant_input_predict", ["predict", "--model", "{giant_input}", "--image", "{good}"], 2,
     "would need about"),
    ("absurd_input_predict", ["predict", "--model", "{absurd_input}", "--image", "{good}"], 2,
     "would need about"),
    ("giant_input_info_works", ["info", "--model", "{giant_input}"], 0, None),
    ("two_inputs", ["info", "--model", "{two_inputs}"], 2, "takes 2 inputs"),
    ("no_head_predict", ["predict", "--model", NO_HEAD, "--image", "{good}"], 2,
     "no classifier head"),
    ("no_head_cam", ["cam", "--model", NO_HEAD, "--image", "{good}", "--out", "{out}/c.png"], 2,
     "no classifier head"),
    ("no_head_activations_work", ["activations", "--model", NO_HEAD, "--image", "{good}",
     "--layer", "block1_conv1", "--out", "{out}/a.png"], 0, None),
    ("nan_output_json", ["predict", "--model", "{nan_output}", "--image", "{good}", "--json"], 0, None),
    ("filters_oversize", ["filters", "--model", "{free_size}", "--layer", "c1", "--size", "4096",
     "--filters", "0-7", "--out", "{out}/f.png", "--npy", "{out}/f.npy"], 2, "would need about"),
    ("disk_full", ["activations", "--model", "demo", "--image", "{good}", "--layer", "conv2",
     "--out", "{full}/grid.png", "--npy", "{full}/a.npy"], 2, "the disk is full"),
]


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """Every hostile file and folder, by placeholder name; tmpfs mounts undone at the end."""
    root = tmp_path_factory.mktemp("hostile")
    names = hf.make_images(root)
    names.update(hf.make_models(root))
    mounts = hf.special_folders(root, names, free_bytes=8 << 10)  # the probe fits, the npy not
    yield names
    for m in mounts:
        hf.unmount(m)
    hf.restore_ro(names)


def _case_dir(place, group, case_id):
    d = os.path.join(os.path.dirname(place["good"]), group, case_id)
    os.makedirs(d)
    if case_id == "npy_is_a_folder":
        os.mkdir(os.path.join(d, "folder.npy"))
    if case_id == "out_is_a_fifo":
        os.mkfifo(os.path.join(d, "pipe.png"))
    return d


def _argv(argv, place, out):
    return [a.format(out=out, **{k: v for k, v in place.items() if isinstance(v, str)})
            for a in argv]


def _run_group(place, group, cases, extra=()):
    folders, spec = {}, []
    for case in cases:
        out = _case_dir(place, group, case[0])
        folders[case[0]] = (out, sorted(os.listdir(out)))
        spec.append({"id": case[0], "argv": _argv(case[1], place, out)})
    spec.extend(extra)
    base = os.path.join(os.path.dirname(place["good"]), group)
    with open(os.path.join(base, "cases.json"), "w") as f:
        json.dump(spec, f)
    env = hf.cli_env()
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "hostile_runner.py"),
                        os.path.join(base, "cases.json"), os.path.join(base, "result.json")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=500)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.load(open(os.path.join(base, "result.json")))
    result["folders"] = folders
    return result


assert_contract = hf.assert_contract


@pytest.fixture(scope="module")
def before_tf(place):
    extra = [{"id": "big_jpeg_kept_reduced", "load_image": place["big_jpeg"]}]
    return _run_group(place, "before_tf", BEFORE_TF, extra)


@pytest.mark.parametrize("case_id, argv, words", BEFORE_TF, ids=[c[0] for c in BEFORE_TF])
def test_refused_before_tensorflow(before_tf, place, case_id, argv, words):
    res = before_tf["cases"][case_id]
    out, listing = before_tf["folders"][case_id]
    assert_contract(res, 2, words, out, listing)
    assert not res["tf_loaded"], "refused only after TensorFlow was imported"
    if "{ro}" in " ".join(argv):
        assert os.listdir(place["ro"]) == [] or place["ro"] == "/sys"


def test_before_tensorflow_group_peak_memory(before_tf):
    """A 169 MP PNG, a 400 MP bomb and a trillion-filter range, refused, and a 60 MP JPEG
    decoded reduced: the whole process never held 1 GiB."""
    assert before_tf["maxrss_bytes"] < GiB, before_tf["maxrss_bytes"] / GiB
    print(f"\npeak memory, group before TensorFlow: {before_tf['maxrss_bytes'] / 2**20:.0f} MiB")


def test_huge_jpeg_is_decoded_at_reduced_scale(before_tf):
    res = before_tf["cases"]["big_jpeg_kept_reduced"]
    assert res["shape"] == [3000, 5000, 3]  # 1/2 scale by the JPEG decoder: 15 MP <= 40 MP
    assert res["meta"]["original_size"] == [6000, 10000]


HEADLESS = ("no_head_predict", "no_head_cam", "no_head_activations_work")  # VGG16: own run


@pytest.fixture(scope="module")
def with_tf(place):
    """Two runs: the oversize refusals and other shapes (peak memory asserted), and the
    VGG16-without-top cases (a 59 MB model built three times: its memory is not a refusal's)."""
    cases = [c for c in WITH_TF if c[0] not in HEADLESS
             and (place["full_is_real"] or c[0] != "disk_full")]
    refusals = _run_group(place, "with_tf", cases)
    vgg = _run_group(place, "no_head", [c for c in WITH_TF if c[0] in HEADLESS])
    refusals["cases"].update(vgg["cases"])
    refusals["folders"].update(vgg["folders"])
    return refusals


@pytest.mark.parametrize("case_id, argv, rc, words", WITH_TF, ids=[c[0] for c in WITH_TF])
def test_with_tensorflow(with_tf, place, case_id, argv, rc, words, monkeypatch, capsys):
    if case_id == "disk_full" and not place["full_is_real"]:
        return _disk_full_without_mount(place, monkeypatch, capsys)
    res = with_tf["cases"][case_id]
    out, listing = with_tf["folders"][case_id]
    assert_contract(res, rc, words, out, listing)
    if case_id == "disk_full":
        assert sorted(os.listdir(place["full"])) == place["full_contents"]
    if case_id == "nan_output_json":
        doc = json.loads(res["stdout"], parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
        assert [p["score"] for p in doc["predictions"]] == [None, None, None]
    if case_id == "giant_input_info_works":
        assert "40000 x 40000 x 3" in res["stdout"]
    if case_id == "no_head_activations_work":
        assert os.path.getsize(os.path.join(out, "a.png")) > 0


def _disk_full_without_mount(place, monkeypatch, capsys):
    """No tmpfs here (not root): the file system's ENOSPC is raised by the writer itself,
    half-way through the .npy, in-process."""
    import errno

    from convscope.engine import outputs
    from convscope.engine.cli import main as cli

    real = np.save

    def full_disk(path, array, **kw):
        with open(path, "wb") as f:
            f.write(b"\x93NUMPY" + b"\0" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.np, "save", full_disk)
    d = place["full"]
    code = cli(["activations", "--model", "demo", "--image", place["good"], "--layer", "conv2",
                "--out", f"{d}/grid.png", "--npy", f"{d}/a.npy"])
    monkeypatch.setattr(outputs.np, "save", real)
    err = capsys.readouterr().err
    assert code == 2 and err.strip().splitlines() == [err.strip()] and "disk is full" in err
    assert os.listdir(d) == []


def test_with_tensorflow_group_peak_memory(with_tf):
    """Models claiming 40000^2 and 10^6^2 inputs and a 4096-px x 8-filter ascent were
    refused from their shapes: TensorFlow and all, the process stayed under 1 GiB."""
    assert with_tf["maxrss_bytes"] < GiB, with_tf["maxrss_bytes"] / GiB
    print(f"\npeak memory, group with TensorFlow: {with_tf['maxrss_bytes'] / 2**20:.0f} MiB")


# -- own processes -------------------------------------------------------------------------
def _popen(args, **kw):
    env = hf.cli_env()
    return subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py"), *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_termination_signals_end_like_ctrl_c(tmp_path, sig, status):
    """SIGTERM / SIGHUP mid-run: the ascent stops, one line, nothing left behind."""
    proc = _popen(["filters", "--model", "demo", "--layer", "conv3", "--steps", "100000",
                   "--out", str(tmp_path / "f.png"), "--npy", str(tmp_path / "f.npy")])
    time.sleep(6)  # TensorFlow loading or the ascent running: both must end the same way
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: interrupted"), lines
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("delay", [0.5, 1.0, 2.0])
def test_ctrl_c_while_tensorflow_loads_is_one_line(tmp_path, delay):
    """Ctrl-C in the first seconds (the engine's modules loading, TensorFlow importing, the
    model opening: wherever the delay falls on this machine): exit 130, one line, no file."""
    proc = _popen(["filters", "--model", "demo", "--layer", "conv3", "--steps", "100000",
                   "--out", str(tmp_path / "f.png")])
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: interrupted"), lines
    assert os.listdir(tmp_path) == []


def test_ctrl_c_while_the_engine_modules_import_is_one_line(monkeypatch, capsys):
    """The first ~0.1 s of a run import the engine (numpy, OpenCV) before the CLI's own
    handler exists: a Ctrl-C there too ends with 130 and one line, not a traceback."""
    import importlib.abc

    import main as entry

    class CtrlC(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "convscope.engine.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "convscope.engine.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [CtrlC()] + sys.meta_path)
    assert entry.main(["info", "--model", "demo"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: interrupted"), err


def test_closed_stdout_pipe_exits_quietly():
    """`convscope info --model demo | head -1`: the reader is gone before we write."""
    proc = _popen(["info", "--model", "demo"])
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 141 and err == b"", err


def test_window_screenshot_reports_a_bad_image_on_stderr(place, tmp_path):
    """The window's command line says what went wrong (TensorFlow's stderr silencer used to
    swallow the line): one line, exit 2, no screenshot."""
    env = hf.cli_env(QT_QPA_PLATFORM="offscreen", CONVSCOPE_SETTINGS=str(tmp_path / "s.ini"))
    r = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--image", place["text"],
                        "--screenshot", str(tmp_path / "shot.png")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "not an image" in lines[0], r.stderr
    assert not (tmp_path / "shot.png").exists()
