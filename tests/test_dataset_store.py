"""The pieces of a dataset run that mutation testing found unguarded (issue 19): the
pointing game's 15-pixel tolerance, chunks that appear whole or not at all, and a resumed
run that does not retry the files that already failed."""
import csv
import os

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image as P

from convscope.engine.dataset import metrics as M
from convscope.engine.dataset.store import RunStore


def _hit_at(distance: int, tolerance=None) -> float:
    """A map whose maximum lies `distance` px left of a 20x20 region."""
    region = np.zeros((100, 100), bool)
    region[40:60, 50:70] = True
    hm = np.zeros((100, 100), np.float32)
    hm[50, 50 - distance] = 1.0
    return M.pointing_game(hm, region) if tolerance is None else M.pointing_game(hm, region, tolerance)


def test_pointing_game_tolerance_is_15_pixels():
    """Zhang et al. 2016: a hit when the maximum is within 15 px of the object."""
    assert M.TOLERANCE_PX == 15
    assert _hit_at(0) == 1.0  # inside
    assert _hit_at(10) == 1.0  # 10 px outside: within the default tolerance
    assert _hit_at(15) == 1.0
    assert _hit_at(16) == 0.0
    assert _hit_at(30) == 0.0
    assert _hit_at(10, tolerance=0) == 0.0 and _hit_at(10, tolerance=10) == 1.0


def test_settings_use_the_papers_tolerance():
    from convscope.engine.dataset.explain import Settings

    assert Settings().tolerance == 15


def _store(tmp_path):
    s = RunStore(str(tmp_path / "run"))
    s.open({"settings": {}, "model": {}, "images": {}}, resume=False)
    return s


def _row(i):
    return {"_i": i, "path": f"/x/{i}.png", "sha256": "0" * 64, "method": "gradcam"}


def test_a_chunk_appears_whole_or_not_at_all(tmp_path):
    """A commit that fails half-way (its rows written, its errors table refused by Arrow)
    leaves no chunk: nothing counts as done, and the next commit is chunk 000000."""
    s = _store(tmp_path)
    with pytest.raises((pa.ArrowException, TypeError, ValueError)):
        s.commit([_row(0)], [{"_i": "not a number", "path": "/x/bad.png", "sha256": "", "error": "e"}])
    assert s._chunk_names() == []
    assert s.done_paths() == set()
    assert s.read("rows").num_rows == 0
    s.commit([_row(1)], [])
    assert s._chunk_names() == ["000000"]
    assert s.done_paths() == {"/x/1.png"}
    s.close()


def test_chunk_files_are_in_place_only_after_the_rename(tmp_path):
    """Both files of a committed chunk are there, complete (readable), and no .tmp- folder
    is left after a successful commit."""
    s = _store(tmp_path)
    s.commit([_row(0), _row(1)], [{"_i": 2, "path": "/x/2.png", "sha256": "", "error": "bad"}])
    (name,) = s._chunk_names()
    assert sorted(os.listdir(os.path.join(s.chunks, name))) == ["errors.parquet", "rows.parquet"]
    assert not [n for n in os.listdir(s.chunks) if n.startswith(".tmp-")]
    assert s.done_paths() == {"/x/0.png", "/x/1.png", "/x/2.png"}
    s.close()


def test_resume_does_not_retry_files_that_failed(tmp_path, capsys):
    """A finished run with one unreadable file, resumed: the file is not tried again (it is
    done: it has its error row), so errors.csv still lists it once and no chunk is added."""
    from convscope.engine.cli import main as cli_main

    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(1)
    for i in range(2):
        P.fromarray(rng.integers(0, 255, (40, 40, 3), np.uint8)).save(d / f"good{i}.png")
    (d / "broken.png").write_bytes(b"not a png at all")
    run = tmp_path / "run"
    args = ["batch", "--model", "demo", "--images", str(d), "--out", str(run), "--metrics", "drop",
            "--batch-size", "1"]
    assert cli_main(args) == 0, capsys.readouterr().err
    chunks = sorted(os.listdir(run / "chunks"))
    assert cli_main(args + ["--resume"]) == 0, capsys.readouterr().err
    assert sorted(os.listdir(run / "chunks")) == chunks  # nothing was done again
    with open(run / "errors.csv", newline="") as f:
        errors = [os.path.basename(r["path"]) for r in csv.DictReader(f)]
    assert errors == ["broken.png"]
