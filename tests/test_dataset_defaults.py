"""Dataset runs: the window and the CLI share their defaults (AUCs comparable); run.json
names the substrates the curves used; unreadable files are not counted as images; `batch`
and `examples` report progress in plain lines when stderr is not a terminal."""
import json

import numpy as np
import pytest
from PIL import Image as P

from convscope.engine.cli.dispatch import parser as _parser
from convscope.engine.cli import main as cli
from convscope.engine.help_defaults import subparsers


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """3 readable images and 2 files that are not images."""
    d = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(5)
    for i in range(3):
        P.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(d / f"good{i}.png")
    (d / "notes.jpg").write_text("not a JPEG\n" * 20)
    full = (d / "good0.png").read_bytes()
    (d / "broken.png").write_bytes(full[:len(full) // 3])
    return d


def test_window_and_cli_dataset_defaults_are_the_same(qapp):
    from convscope.engine.dataset.explain import Settings
    from convscope.gui.dataset_widgets import RunFolderDialog

    sub = dict(subparsers(_parser()))["batch"]
    args = sub.parse_args(["--model", "demo", "--images", "x", "--out", "y"])
    cli_settings = Settings(methods=tuple(args.methods.split(",")), metrics=tuple(args.metrics.split(",")),
                            class_mode=args.class_, steps=args.steps, substrate=args.substrate)
    dialog = RunFolderDialog(["gradcam", "gradcam++", "scorecam"])
    job = dialog.job()
    window_settings = Settings(methods=job.methods, metrics=job.metrics, class_mode=job.class_mode,
                               steps=job.steps)
    assert window_settings == cli_settings
    assert job.steps == args.steps == Settings().steps
    dialog.deleteLater()


def test_batch_run_json_counts_and_plain_progress(folder, tmp_path, capsys):
    run = tmp_path / "run"
    code = cli(["batch", "--model", "demo", "--images", str(folder), "--out", str(run),
                "--metrics", "deletion,insertion", "--steps", "4", "--batch-size", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    recipe = json.loads((run / "run.json").read_text())
    assert recipe["settings"]["substrate"] == {"deletion": "black", "insertion": "blur"}
    assert recipe["outcome"]["images_explained"] == 3 and recipe["outcome"]["errors"] == 2
    title = (run / "summary.md").read_text().splitlines()[0]
    assert "3 images (2 unreadable files skipped)" in title, title
    assert "5 images" not in title
    # stderr is not a terminal here: plain progress lines, the last one complete
    lines = [ln for ln in err.splitlines() if ln.startswith("batch: ")]
    assert lines and lines[-1].startswith("batch: 5/5 files (100%)"), err
    assert "\r" not in err

    run2 = tmp_path / "run2"
    code = cli(["batch", "--model", "demo", "--images", str(folder), "--out", str(run2),
                "--metrics", "deletion", "--steps", "4", "--substrate", "mean"])
    assert code == 0, capsys.readouterr().err
    recipe = json.loads((run2 / "run.json").read_text())
    assert recipe["settings"]["substrate"] == {"deletion": "mean", "insertion": "mean"}


def test_examples_counts_only_readable_images(folder, tmp_path, capsys):
    code = cli(["examples", "--model", "demo", "--images", str(folder), "--layer", "conv3",
                "--channels", "0-1", "--top", "2", "--out", str(tmp_path / "atlas.png"),
                "--index", str(tmp_path / "index")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "3 images (2 unreadable files skipped)" in out, out
    assert "5 images" not in out
    assert [ln for ln in err.splitlines() if ln.startswith("examples: 5/5 files")], err
