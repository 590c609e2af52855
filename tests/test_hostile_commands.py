"""The hostile-input battery, part 2 (issue 19): the commands added since the first battery
— `batch`, `examples`, `video`, `figure --recipe`, sessions — and outputs that would
overwrite their own input, through the real command line.

Every case asserts the CLI contract (tests/test_hostile.py's assert_contract): the exit
status, exactly one `error: ...` line (none on success), no traceback, nothing left behind
in the case's folder, and every input file byte-for-byte untouched (SHA-256 of every file
of the hostile folder before and after the group). The cases run in ONE process
(tests/hostile_runner.py); a case that hangs (a FIFO read to hash it, /dev/zero read until
memory runs out) fails the group by its timeout.

Own processes: Ray (an unreachable address; a real `ray start --head` on 127.0.0.1 with
token authentication, killed by its own process group at the end).
"""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from PIL import Image as P

import hostile_files as hf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.timeout(900)
GROUP_TIMEOUT = 420  # s; a hang (FIFO, /dev/zero) ends the group here and fails it

# id, argv ({name}: placeholders from the `place` fixture, {out}: the case's own folder),
# exit status, words in the error line (None: success)
CASES = [
    # 1. an output that is its input: refused before any work (symlink, ./, hard link too)
    ("cam_out_is_image", ["cam", "--model", "demo", "--image", "{img}", "--out", "{img}"], 2,
     "would overwrite the input"),
    ("cam_out_dot_slash", ["cam", "--model", "demo", "--image", "{img}", "--out", "{dotted_img}"],
     2, "would overwrite the input"),
    ("cam_out_symlink", ["cam", "--model", "demo", "--image", "{img}", "--out", "{out}/link.png"],
     2, "would overwrite the input"),
    ("cam_out_hard_link", ["cam", "--model", "demo", "--image", "{img}", "--out", "{out}/hard.png"],
     2, "would overwrite the input"),
    ("cam_npy_is_image_link", ["cam", "--model", "demo", "--image", "{img}", "--out", "{out}/c.png",
     "--npy", "{out}/link.npy"], 2, "would overwrite the input"),
    ("activations_out_is_image", ["activations", "--model", "demo", "--image", "{img}", "--layer",
     "conv2", "--out", "{out}/hard.png"], 2, "would overwrite the input"),
    ("figure_out_is_image", ["figure", "--model", "demo", "--image", "{img}", "--out", "{out}/link.png"],
     2, "would overwrite the input"),
    ("video_out_is_input", ["video", "--model", "demo", "--input", "{clip}", "--out", "{out}/clip.avi"],
     2, "would overwrite the input"),
    ("examples_out_is_an_image", ["examples", "--model", "demo", "--images", "{imgs}", "--layer",
     "conv2", "--out", "{imgs}/0.png", "--index", "{out}"], 2, "would overwrite the input"),
    # 2. a full disk under the video encoder (a real 64 KiB tmpfs)
    ("video_full_disk", ["video", "--model", "demo", "--input", "{clip}", "--out", "{full}/o.avi"],
     2, "the disk is full"),
    # 3. FIFOs and devices: refused from os.stat, before any read or hash
    ("batch_folder_fifo_dev_zero", ["batch", "--model", "demo", "--images", "{hostile_imgs}",
     "--out", "{out}/run", "--metrics", "deletion", "--steps", "4"], 0, None),
    ("batch_csv_fifo", ["batch", "--model", "demo", "--images", "{fifo_csv}", "--out", "{out}/run",
     "--metrics", "deletion", "--steps", "4"], 0, None),
    ("examples_folder_fifo_dev_zero", ["examples", "--model", "demo", "--images", "{hostile_imgs}",
     "--layer", "conv2", "--channels", "0-1", "--top", "2", "--out", "{out}/atlas.png",
     "--index", "{out}/index", "--json"], 0, None),
    ("video_input_fifo", ["video", "--model", "demo", "--input", "{fifo_clip}", "--out", "{out}/o.avi"],
     2, "named pipe"),
    ("recipe_model_dev_zero", ["figure", "--recipe", "{recipe_dev_zero}", "--out", "{out}/f.png"], 2,
     "a device"),
    ("recipe_model_fifo", ["figure", "--recipe", "{recipe_fifo_model}", "--out", "{out}/f.png"], 2,
     "named pipe"),
    ("recipe_is_a_fifo", ["figure", "--recipe", "{fifo_json}", "--out", "{out}/f.png"], 2,
     "named pipe"),
    ("session_model_dev_zero", ["--session", "{session_dev_zero}", "--screenshot", "{out}/s.png"], 2,
     "a device"),
    # 4. unbounded work
    ("batch_steps_billion", ["batch", "--model", "demo", "--images", "{imgs}", "--out", "{out}/run",
     "--steps", "1000000000"], 2, "--steps must be between 1 and 1000"),
    # 5. one error line, not exit 1 or a traceback
    ("session_nested_deep", ["--session", "{session_deep}", "--screenshot", "{out}/s.png"], 2,
     "nested too deeply"),
    ("recipe_nested_deep", ["figure", "--recipe", "{recipe_deep}", "--out", "{out}/f.png"], 2,
     "nested too deeply"),
    ("recipe_model_int", ["figure", "--recipe", "{recipe_model_int}", "--out", "{out}/f.png"], 2,
     "damaged recipe"),
    ("recipe_images_string", ["figure", "--recipe", "{recipe_images_string}", "--out", "{out}/f.png"],
     2, "damaged recipe"),
    ("recipe_images_ints", ["figure", "--recipe", "{recipe_images_ints}", "--out", "{out}/f.png"], 2,
     "damaged recipe"),
    ("recipe_no_model_spec", ["figure", "--recipe", "{recipe_no_spec}", "--out", "{out}/f.png"], 2,
     "damaged recipe"),
    ("recipe_dpi_text", ["figure", "--recipe", "{recipe_dpi_text}", "--out", "{out}/f.png"], 2,
     "damaged recipe"),
    ("video_saliency_works", ["video", "--model", "demo", "--input", "{clip}", "--out", "{out}/s.avi",
     "--method", "saliency"], 0, None),
    ("examples_index_read_only", ["examples", "--model", "demo", "--images", "{imgs}", "--layer",
     "conv2", "--channels", "0", "--out", "{out}/atlas.png", "--index", "{ro}/index"], 2,
     "cannot write"),
    ("batch_resume_truncated_chunk", ["batch", "--model", "demo", "--images", "{imgs}", "--out",
     "{run_truncated}", "--metrics", "deletion", "--steps", "4", "--batch-size", "2", "--resume"], 2,
     "is damaged"),
    ("batch_resume_empty_chunk", ["batch", "--model", "demo", "--images", "{imgs}", "--out",
     "{run_empty_chunk}", "--metrics", "deletion", "--steps", "4", "--batch-size", "2", "--resume"],
     2, "is missing"),
]


def _sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def snapshot(root):
    """{path: sha256} of every regular file below root (symlinks and FIFOs not followed)."""
    out = {}
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in ("cases", "full", "read_only")]
        for f in files:
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                out[p] = _sha(p)
    return out


def _recipe(base, path, **change):
    doc = json.loads(json.dumps(base))
    for key, value in change.items():
        if "." in key:
            a, b = key.split(".")
            doc[a][b] = value
        else:
            doc[key] = value
    with open(path, "w") as f:
        json.dump(doc, f)
    return str(path)


def _run(argv, **kw):
    env = hf.cli_env(**kw.pop("env", {}))
    return subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), *argv], cwd=ROOT,
                          env=env, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    from convscope.engine.video.demo_clip import make_clip
    from convscope.engine.video.io import write_video

    root = tmp_path_factory.mktemp("hostile2")
    clip = make_clip(12, 64)
    names = {}
    imgs = root / "imgs"
    imgs.mkdir()
    for i in range(3):
        P.fromarray(clip.frames[i * 4]).save(imgs / f"{i}.png")
    names["imgs"] = str(imgs)
    names["img"] = str(imgs / "0.png")
    names["dotted_img"] = str(imgs) + "/./0.png"
    hostile = root / "hostile_imgs"
    hostile.mkdir()
    for i in range(2):
        shutil.copy(imgs / f"{i}.png", hostile / f"{i}.png")
    os.mkfifo(hostile / "fifo.png")
    os.symlink("/dev/zero", hostile / "zero.png")
    names["hostile_imgs"] = str(hostile)
    with open(root / "list.csv", "w") as f:
        f.write(f"path\n{imgs / '0.png'}\n{hostile / 'fifo.png'}\n{hostile / 'zero.png'}\n")
    names["fifo_csv"] = str(root / "list.csv")
    names["clip"] = str(root / "clip.avi")
    write_video(names["clip"], clip.frames, 25)
    names["fifo_clip"] = str(root / "fifo.avi")
    os.mkfifo(names["fifo_clip"])
    names["fifo_model"] = str(root / "fifo.keras")
    os.mkfifo(names["fifo_model"])
    names["fifo_json"] = str(root / "fifo.json")
    os.mkfifo(names["fifo_json"])

    # a real recipe (the demo model's CAM of one image), then damaged copies of it
    r = _run(["figure", "--model", "demo", "--image", names["img"], "--out", str(root / "fig.png")],
             timeout=300)
    assert r.returncode == 0, r.stderr
    base = json.load(open(root / "fig.png.json"))
    rec = root / "recipes"
    rec.mkdir()
    names["recipe_dev_zero"] = _recipe(base, rec / "dev_zero.json",
                                       model={"spec": "/dev/zero", "sha256": "0" * 64})
    names["recipe_fifo_model"] = _recipe(base, rec / "fifo_model.json",
                                         model={"spec": names["fifo_model"], "sha256": "0" * 64})
    names["recipe_model_int"] = _recipe(base, rec / "model_int.json", model=5)
    names["recipe_images_string"] = _recipe(base, rec / "images_string.json", images=names["img"])
    names["recipe_images_ints"] = _recipe(base, rec / "images_ints.json", images=[1, 2])
    names["recipe_no_spec"] = _recipe(base, rec / "no_spec.json", model={"sha256": None})
    names["recipe_dpi_text"] = _recipe(base, rec / "dpi_text.json", **{"options.dpi": "many"})
    with open(rec / "deep.json", "w") as f:
        f.write("[" * 200_000 + "]" * 200_000)
    names["recipe_deep"] = str(rec / "deep.json")
    with open(root / "deep.convscope", "w") as f:
        f.write('{"convscope_session": 1, "x": ' + "[" * 200_000 + "]" * 200_000 + "}")
    names["session_deep"] = str(root / "deep.convscope")
    with open(root / "dev_zero.convscope", "w") as f:
        json.dump({"convscope_session": 1, "app_version": "0.1.0", "images": [],
                   "model": {"spec": "/dev/zero", "sha256": "0" * 64}}, f)
    names["session_dev_zero"] = str(root / "dev_zero.convscope")

    # a finished two-chunk run, then copies with a truncated chunk and an emptied one
    run = root / "run"
    r = _run(["batch", "--model", "demo", "--images", names["imgs"], "--out", str(run), "--metrics",
              "deletion", "--steps", "4", "--batch-size", "2"], timeout=300)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(run / "chunks")) == ["000000", "000001"]
    shutil.copytree(run, root / "run_truncated")
    with open(root / "run_truncated/chunks/000000/rows.parquet", "r+b") as f:
        f.truncate(100)
    names["run_truncated"] = str(root / "run_truncated")
    shutil.copytree(run, root / "run_empty_chunk")
    for f in os.listdir(root / "run_empty_chunk/chunks/000001"):
        os.remove(root / "run_empty_chunk/chunks/000001" / f)
    names["run_empty_chunk"] = str(root / "run_empty_chunk")

    mounts = hf.special_folders(root, names, free_bytes=32 << 10)  # the container fits, not the frames
    names["root"] = str(root)
    yield names
    for m in mounts:
        hf.unmount(m)
    hf.restore_ro(names)


def _case_dir(place, case_id):
    d = os.path.join(place["root"], "cases", case_id)
    os.makedirs(d)
    os.symlink(place["img"], os.path.join(d, "link.png"))
    os.symlink(place["img"], os.path.join(d, "link.npy"))
    os.link(place["img"], os.path.join(d, "hard.png"))
    if case_id == "video_out_is_input":
        os.link(place["clip"], os.path.join(d, "clip.avi"))
    return d


@pytest.fixture(scope="module")
def group(place):
    """Every case in one process; the input files' SHA-256 before and after."""
    before_inputs = snapshot(place["root"])
    folders, spec = {}, []
    for case_id, argv, _, _ in CASES:
        if case_id == "video_full_disk" and not place["full_is_real"]:
            continue
        out = _case_dir(place, case_id)
        folders[case_id] = (out, sorted(os.listdir(out)))
        args = [a.format(out=out, **{k: v for k, v in place.items() if isinstance(v, str)})
                for a in argv]
        spec.append({"id": case_id, "argv": args})
    for key in ("run_truncated", "run_empty_chunk"):
        folders[key] = (place[key], sorted(os.listdir(place[key])))
    folders["full"] = (place["full"], sorted(os.listdir(place["full"])))
    base = os.path.join(place["root"], "cases")
    with open(os.path.join(base, "cases.json"), "w") as f:
        json.dump(spec, f)
    env = hf.cli_env(QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "hostile_runner.py"),
                        os.path.join(base, "cases.json"), os.path.join(base, "result.json")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=GROUP_TIMEOUT)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.load(open(os.path.join(base, "result.json")))
    result["folders"] = folders
    result["inputs_before"] = before_inputs
    result["inputs_after"] = snapshot(place["root"])
    return result


assert_contract = hf.assert_contract


@pytest.mark.parametrize("case_id, argv, rc, words", CASES, ids=[c[0] for c in CASES])
def test_new_commands(group, place, case_id, argv, rc, words):
    if case_id == "video_full_disk" and not place["full_is_real"]:
        pytest.skip("no tmpfs here (not root): the full disk needs a real file system")
    res = group["cases"][case_id]
    out, listing = group["folders"][case_id]
    assert_contract(res, rc, words, out, listing)
    if case_id.startswith("batch_resume"):
        key = {"batch_resume_truncated_chunk": "run_truncated",
               "batch_resume_empty_chunk": "run_empty_chunk"}[case_id]
        folder, listed = group["folders"][key]
        assert sorted(os.listdir(folder)) == listed
        assert "delete the folder" in res["stderr"] and "--resume" in res["stderr"]
    if case_id == "video_full_disk":
        assert sorted(os.listdir(place["full"])) == group["folders"]["full"][1]
    if case_id in ("batch_folder_fifo_dev_zero", "batch_csv_fifo"):
        import pyarrow.csv as pacsv

        errors = pacsv.read_csv(os.path.join(out, "run", "errors.csv")).to_pylist()
        why = {os.path.basename(e["path"]): e["error"] for e in errors}
        assert "named pipe" in why["fifo.png"] and "a device" in why["zero.png"], why
        assert "results.parquet" in os.listdir(os.path.join(out, "run"))
    if case_id == "examples_folder_fifo_dev_zero":
        doc = json.loads(res["stdout"])
        why = {os.path.basename(e["path"]): e["error"] for e in doc["errors"]}
        assert "named pipe" in why["fifo.png"] and "a device" in why["zero.png"], why
        assert os.path.getsize(os.path.join(out, "atlas.png")) > 0
    if case_id == "video_saliency_works":
        from convscope.engine.video.io import read_frames

        frames, info = read_frames(os.path.join(out, "s.avi"))
        assert frames.shape == (12, 64, 64, 3) and info.fps == 25
    if case_id == "examples_index_read_only":
        assert os.listdir(place["ro"]) == [] or place["ro"] == "/sys"


def test_no_input_was_touched(group):
    """Every file the cases read (images, clip, recipes, sessions, runs) is unchanged:
    the same files with the same SHA-256 (the runs' .lock files aside)."""
    before = {p: h for p, h in group["inputs_before"].items() if not p.endswith(".lock")}
    after = {p: h for p, h in group["inputs_after"].items() if p in before}
    assert after == before


def test_same_file_sees_through_links(tmp_path):
    """convscope.engine.outputs.same_file: symlink, ./ and .. spellings, hard link, a symlinked
    folder; a copy or a new name is not the same file."""
    from convscope.engine.outputs import same_file

    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    os.symlink(a, tmp_path / "sym.png")
    os.link(a, tmp_path / "hard.png")
    os.symlink(tmp_path, tmp_path / "sub" / "up")
    shutil.copy(a, tmp_path / "copy.png")
    for other in (tmp_path / "sym.png", tmp_path / "hard.png", f"{tmp_path}/./a.png",
                  f"{tmp_path}/sub/../a.png", tmp_path / "sub" / "up" / "a.png"):
        assert same_file(str(other), str(a)), other
    assert not same_file(str(tmp_path / "copy.png"), str(a))
    assert not same_file(str(tmp_path / "new.png"), str(a))
    os.symlink(tmp_path / "new.png", tmp_path / "dangling.png")  # both absent: real paths
    assert same_file(str(tmp_path / "dangling.png"), str(tmp_path / "new.png"))


# -- Ray: own processes ---------------------------------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one_error_line(r, words):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], r.stderr[-3000:]


def test_ray_unreachable_is_one_line_and_leaves_no_run_folder(place, tmp_path):
    """Nothing listens on the port: one line (no Ray warnings), and no run folder left to
    block the retry."""
    pytest.importorskip("ray")
    port = _free_port()
    home = tmp_path / "home"
    home.mkdir()
    r = _run(["batch", "--model", "demo", "--images", place["imgs"], "--out", str(tmp_path / "run"),
              "--metrics", "deletion", "--steps", "4", "--runner", "ray", "--ray-address",
              f"127.0.0.1:{port}"], timeout=400,
             env={"HOME": str(home), "RAY_AUTH_TOKEN_PATH": str(home / "none")})
    _one_error_line(r, "cannot start or reach the Ray cluster")
    assert os.listdir(tmp_path) == ["home"]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A real `ray start --head --block` on 127.0.0.1 with token authentication (its own
    token file), in its own process group: stopped by killing that group, not `ray stop`
    (which would stop every Ray on the machine)."""
    pytest.importorskip("ray")
    d = tmp_path_factory.mktemp("rayhead")
    token = d / "token"
    token.write_text("c0ffee" * 8)
    port = _free_port()
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), HOME=str(d))
    short = f"/tmp/cs-ray-{os.getpid()}"  # Ray's socket paths must stay short
    log = open(d / "head.log", "w")
    proc = subprocess.Popen(["ray", "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                             f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                             "--disable-usage-stats", f"--temp-dir={short}"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if "Ray runtime started" in (d / "head.log").read_text():
                break
            assert proc.poll() is None, (d / "head.log").read_text()
            time.sleep(1)
        else:
            pytest.fail("ray start --head did not start in 120 s")
        yield {"address": f"127.0.0.1:{port}", "token": str(token), "dir": d}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=20)
        log.close()
        shutil.rmtree(short, ignore_errors=True)


def test_ray_cluster_with_token_auth_and_no_token_says_what_to_set(ray_head, place, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    r = _run(["batch", "--model", "demo", "--images", place["imgs"], "--out", str(tmp_path / "run"),
              "--metrics", "deletion", "--steps", "4", "--runner", "ray", "--ray-address",
              ray_head["address"]], timeout=400,
             env={"HOME": str(home), "RAY_AUTH_TOKEN_PATH": str(home / "none")})
    _one_error_line(r, "requires token authentication")
    assert "RAY_AUTH_MODE=token" in r.stderr and "InvalidAuthToken" not in r.stderr
    assert os.listdir(tmp_path) == ["home"]


def test_ray_cluster_with_token_auth_uses_the_token_as_rays_cli_does(ray_head, place, tmp_path):
    """The token is where Ray keeps it (RAY_AUTH_TOKEN_PATH here; ~/.ray/auth_token by
    default), RAY_AUTH_MODE unset: the run works and its rows equal the local runner's."""
    import pyarrow.parquet as pq

    common = ["batch", "--model", "demo", "--images", place["imgs"], "--metrics", "deletion",
              "--steps", "4", "--batch-size", "2"]
    env = {"HOME": str(ray_head["dir"]), "RAY_AUTH_TOKEN_PATH": ray_head["token"]}
    r = _run(common + ["--out", str(tmp_path / "ray"), "--runner", "ray", "--ray-address",
                       ray_head["address"]], timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    noise = [l for l in r.stderr.strip().splitlines() if not hf.PROGRESS.match(l)]
    assert noise == [], r.stderr[-3000:]  # no Ray chatter: only batch's progress lines
    local = _run(common + ["--out", str(tmp_path / "local")], timeout=300)
    assert local.returncode == 0, local.stderr
    a = pq.read_table(tmp_path / "ray" / "results.parquet").to_pylist()
    b = pq.read_table(tmp_path / "local" / "results.parquet").to_pylist()
    def plain(rows):  # NaN (metrics not asked for) compared as None: NaN != NaN
        return [{k: None if isinstance(v, float) and v != v else v for k, v in r.items()}
                for r in rows]

    assert len(a) == 3 and plain(a) == plain(b)  # equal to the last bit


def test_video_encoder_on_a_full_disk_raises_enospc(tmp_path):
    """OpenCV's encoder says nothing when the disk fills; the sink reads the file back and
    raises ENOSPC (engine.outputs turns it into "the disk is full"). A real 64 KiB tmpfs."""
    import errno

    from convscope.engine.video.demo_clip import make_clip
    from convscope.engine.video.io import VideoSink

    d = tmp_path / "full"
    d.mkdir()
    if not hf.mount_tmpfs(d, "size=64k"):
        pytest.skip("no tmpfs here (not root)")
    try:
        sink = VideoSink(str(d / "o.avi"), 25, (64, 64))
        for frame in make_clip(12, 64).frames:
            sink.write(frame)
        with pytest.raises(OSError) as caught:
            sink.close()
        assert caught.value.errno == errno.ENOSPC
    finally:
        hf.unmount(d)
