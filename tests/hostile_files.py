"""Hostile inputs made by the tests themselves (tests/test_hostile*.py): special files,
broken and oversized images, models of shapes the views cannot serve, and destinations
that cannot be written (a read-only or full file system: a real tmpfs when this runs as
root and may mount, else what the platform offers)."""
import os
import re
import struct
import subprocess
import zlib

import numpy as np
from PIL import Image as P


def png_stream(path, w, h, color=2, depth=8):
    """A valid all-black PNG of any size without holding it in memory: the deflate stream
    of identical row blocks is built once and repeated (each block ends in a full flush,
    so the blocks are independent), with the zlib header and Adler-32 written by hand."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color] * depth // 8

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + w * channels)
    per = max(1, (1 << 22) // len(row))
    block = row * per
    full, rest = divmod(h, per)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.compress(row * rest) + c.flush(zlib.Z_FINISH)
    adler = 1
    for _ in range(full):
        adler = zlib.adler32(block, adler)
    adler = zlib.adler32(row * rest, adler)
    body = (b"\x78\xda" + (first + again * (full - 1) if full else b"") + tail
            + struct.pack(">I", adler))
    header = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
                + chunk(b"IEND", b""))
    return str(path)


def make_images(d):
    """{name: path} of the hostile image files, in folder d."""
    d = str(d)
    out = {}
    yy, xx = np.mgrid[0:60, 0:80]
    rgb = np.dstack([xx * 3, yy * 4, 255 - xx * 3]).astype(np.uint8)
    P.fromarray(rgb).save(os.path.join(d, "good.png"))
    out["good"] = os.path.join(d, "good.png")
    raw = open(out["good"], "rb").read()
    for name, data in {"empty.png": b"", "text.jpg": b"just some text\n" * 20,
                       "truncated.png": raw[:len(raw) // 2], "header_only.png": raw[:33],
                       "garbage.webp": bytes(range(256)) * 8}.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        out[name.split(".")[0]] = os.path.join(d, name)
    out["fifo"] = os.path.join(d, "fifo.png")
    os.mkfifo(out["fifo"])
    out["fifo_model"] = os.path.join(d, "fifo.keras")
    os.mkfifo(out["fifo_model"])
    out["huge"] = png_stream(os.path.join(d, "huge.png"), 13000, 13000)  # 169 MP RGB
    out["bomb"] = png_stream(os.path.join(d, "bomb.png"), 20000, 20000, color=0)  # 400 MP
    # a real 60 MP JPEG photo-sized file: kept reduced (decoded at 1/2 scale by the decoder)
    big = np.zeros((6000, 10000, 3), np.uint8)
    big[..., 0] = np.linspace(0, 255, 10000, dtype=np.uint8)[None, :]
    big[..., 1] = np.linspace(0, 255, 6000, dtype=np.uint8)[:, None]
    out["big_jpeg"] = os.path.join(d, "big.jpg")
    P.fromarray(big).save(out["big_jpeg"], quality=80)
    return out


def make_models(d):
    """{name: path} of models the views cannot serve as they are, saved as .keras files."""
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    L = keras.layers
    out = {}

    def save(model, name):
        path = os.path.join(str(d), name + ".keras")
        model.save(path)
        out[name] = path

    for name, side in (("giant_input", 40000), ("absurd_input", 1_000_000)):
        inp = keras.Input((side, side, 3))
        x = L.Conv2D(4, 3, strides=2, name="conv")(inp)
        save(keras.Model(inp, L.Dense(2, activation="softmax")(L.GlobalAveragePooling2D()(x))), name)
    a, b = keras.Input((32, 32, 3), name="left"), keras.Input((32, 32, 3), name="right")
    x = L.Concatenate()([L.Conv2D(4, 3, name="ca")(a), L.Conv2D(4, 3, name="cb")(b)])
    save(keras.Model([a, b], L.Dense(3)(L.GlobalAveragePooling2D()(x))), "two_inputs")
    inp = keras.Input((32, 32, 3))
    x = L.GlobalAveragePooling2D()(L.Conv2D(4, 3, name="conv")(inp))
    dense = L.Dense(3, activation="softmax", name="head")
    m = keras.Model(inp, dense(x))
    dense.kernel.assign(np.full(dense.kernel.shape, np.nan, np.float32))
    save(m, "nan_output")
    inp = keras.Input((None, None, 3))
    x = L.Conv2D(8, 3, activation="relu", name="c1")(inp)
    save(keras.Model(inp, L.Dense(2)(L.GlobalAveragePooling2D()(x))), "free_size")
    return out


def mount_tmpfs(path, options) -> bool:
    """Mount a real tmpfs at path (root with CAP_SYS_ADMIN only); False if not possible."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                       capture_output=True)
    return r.returncode == 0


def unmount(path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)


def can_create_in(folder) -> bool:
    try:
        probe = os.path.join(str(folder), ".probe")
        with open(probe, "w"):
            pass
        os.remove(probe)
        return True
    except OSError:
        return False


def special_folders(root, names: dict, free_bytes: int) -> list:
    """A read-only folder (names["ro"]) and a nearly full one (names["full"], with about
    `free_bytes` left of 64 KiB when a tmpfs can be mounted: names["full_is_real"]) under
    root. Returns the mounts to undo (unmount) and, for a non-root user, restore_ro(names)
    gives the read-only folder its write bit back."""
    mounts = []
    ro = root / "read_only"
    ro.mkdir()
    if mount_tmpfs(ro, "ro,size=64k"):
        mounts.append(ro)
    elif os.geteuid() != 0:
        ro.chmod(0o555)
    else:  # root that may not mount: sysfs is read-only in containers
        ro = "/sys"
    assert not can_create_in(ro), f"could not make a read-only folder ({ro})"
    names["ro"] = str(ro)
    full = root / "full"
    full.mkdir()
    names["full_is_real"] = mount_tmpfs(full, "size=64k")
    if names["full_is_real"]:
        mounts.append(full)
        with open(full / "filler", "wb") as f:
            f.write(b"\0" * ((64 << 10) - free_bytes))
        names["full_contents"] = ["filler"]
    names["full"] = str(full)
    return mounts


def restore_ro(names: dict) -> None:
    """Undo special_folders' chmod for a non-root user (pytest must be able to clean up)."""
    if os.geteuid() != 0 and names["ro"] != "/sys":
        os.chmod(names["ro"], 0o755)


PROGRESS = re.compile(r"^(batch|examples): \d+/\d+ files \(\d+%\)")


def assert_contract(res, rc, words, out_dir, before):
    """Exit status, one error line (or none), no traceback, nothing left behind."""
    err = res["stderr"]
    assert res["rc"] == rc, err
    assert "Traceback" not in err and "Exception" not in err, err
    # batch / examples report progress on a plain stderr (convscope/engine/dataset/progress.py)
    lines = [line for line in err.strip().splitlines() if not PROGRESS.match(line)]
    if rc == 0:
        assert lines == [], err
    else:
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert words in lines[0], lines[0]
        assert "unexpected failure" not in lines[0]
    after = sorted(os.listdir(out_dir))
    if rc != 0:
        assert after == before, f"left behind: {set(after) - set(before)}"
    assert not [n for n in after if n.startswith(".convscope-")]


def cli_env(**extra) -> dict:
    """The environment a battery's command runs in: the user's, at the default memory
    budget (tests/conftest.py raises CONVSCOPE_MEMORY_BUDGET for the suite's own process,
    which would let the memory refusals through), quiet TensorFlow, this checkout first."""
    env = {k: v for k, v in os.environ.items() if k != "CONVSCOPE_MEMORY_BUDGET"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=root)
    env.update(extra)
    return env
