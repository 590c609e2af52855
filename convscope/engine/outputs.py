"""Writing result files safely: checked before the work, atomic, all-or-nothing per command.

A command that writes files opens one `Outputs` for its whole run:

    from convscope.engine import outputs

    with outputs.Outputs() as out:
        png = out.claim(args.out, outputs.IMAGE_SUFFIXES, "--out")   # checked NOW, before any work
        npy = out.claim(args.npy, (".npy",), "--npy") if args.npy else None
        ...                                                           # the long computation
        out.save_png(png, grid)            # written to a hidden temp file beside the target
        if npy:
            out.save_npy(npy, act)
    # leaving the block normally commits every file (os.replace, atomic per file);
    # an exception, Ctrl-C, SIGTERM or SIGHUP (engine.interrupts) removes every temp file:
    # no half-written file, and no output of a failed command, is left behind.

- `claim(path, suffixes, flag)` raises UserError (one line) unless the folder exists and is
  writable, the path is not a folder, not a device/FIFO, ends in one of `suffixes`, and is
  not claimed twice. It returns the absolute path.
- `save_png`, `save_npy`, `save_bytes`, `write(path, fn)` (fn writes to the temp path it is
  given: matplotlib, PIL, ffmpeg ...) and `temp(path)` (a temp path to stream into; committed
  with the others) all require a claimed path. OS errors while writing (a full disk, a folder
  that became read-only) become UserError("cannot write ...: the disk is full").
- The module-level `save_png` / `save_npy` / `write_file(path, fn)` do claim + write + commit for one file (the GUI's exports); `check_destination` is the check alone.
- An output never overwrites an input: `Outputs(inputs=...)` (and `check_destination(...,
  inputs=...)`) refuses, before any work, a destination that is the same file as one of the
  command's inputs — the same (st_dev, st_ino) when both exist, so symlinks, `./`, `..` and
  hard links are all seen through; else the same real path. `command_inputs(args)` lists a
  command line's inputs (--image, --input, --model, --recipe, --images LIST.csv).
Temp files are named `.convscope-*`; an `atexit` hook removes any still registered.
"""
from __future__ import annotations

import atexit
import errno
import os
import stat
import tempfile
import threading

import numpy as np

from .errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
_PIL_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}
TEMP_PREFIX = ".convscope-"

_live_temps: set[str] = set()  # every temp file not yet committed or removed (atexit)
_lock = threading.Lock()


def _reason(exc: OSError, folder: str | None = None) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or _short_write(exc, folder):
        return "the disk is full (no space left on the device)"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


def _short_write(exc: OSError, folder: str | None) -> bool:
    """numpy's tofile reports a full disk as "N requested and M written" (no errno)."""
    if exc.errno is not None or folder is None:
        return False
    try:
        st = os.statvfs(folder)
        return "written" in str(exc) or st.f_bavail * st.f_frsize < (1 << 20)
    except OSError:
        return False


def same_file(a, b) -> bool:
    """Do paths a and b name one file? The same device and inode when both exist (a
    symlink, `./x`, `dir/../x` or a hard link to the same file all are); else the same
    real path (symlinks resolved)."""
    try:
        sa, sb = os.stat(a), os.stat(b)
    except (OSError, ValueError):
        try:
            return os.path.realpath(a) == os.path.realpath(b)
        except (OSError, ValueError):
            return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _inputs(inputs) -> list[tuple[str, str]]:
    """(role, path) pairs from pairs or bare paths; None and '' dropped."""
    out = []
    for item in inputs or ():
        role, path = item if isinstance(item, tuple) else ("input", item)
        if path is not None and str(path).strip():
            out.append((role, os.fspath(path)))
    return out


def check_not_input(path, inputs, flag: str = "output") -> None:
    """UserError when writing `path` would overwrite one of `inputs` (see same_file)."""
    for role, given in _inputs(inputs):
        if same_file(path, given):
            shown = f"{flag} {path}" if flag.startswith("-") else str(path)
            raise UserError(f"{shown} is the {role} file {given}; writing it would overwrite "
                            "the input: give the output another name")


def command_inputs(args) -> list[tuple[str, str]]:
    """The files a parsed command line reads: --image (one or several), --input, --model
    (a file), --recipe and --images when it is a LIST.csv, as (flag, path) pairs."""
    found = []
    for name in ("image", "input", "model", "recipe", "images", "mask"):
        value = getattr(args, name, None)
        for v in (value if isinstance(value, (list, tuple)) else [value]):
            if isinstance(v, str) and v.strip():
                found.append((f"--{name}", v))
    return found


def check_destination(path, suffixes=None, flag: str = "output", inputs=()) -> str:
    """The absolute path if a file can be written there (and it is none of `inputs`);
    UserError saying why not."""
    if path is None or str(path).strip() == "":
        raise UserError(f"{flag}: give a file name")
    path = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(path)
    shown = f"{flag} {path}" if flag.startswith("-") else path
    check_not_input(path, inputs, flag)
    if suffixes and not name.lower().endswith(tuple(s.lower() for s in suffixes)):
        raise UserError(f"cannot write {shown}: give a file name ending in "
                        f"{' or '.join(suffixes[:3])}{' ...' if len(suffixes) > 3 else ''}")
    if not os.path.isdir(folder):
        raise UserError(f"cannot write {shown}: folder {folder} does not exist")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UserError(f"cannot write {shown}: {_reason(exc)}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise UserError(f"cannot write {shown}: it is a folder; give a file name")
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"cannot write {shown}: it exists and is not a regular file "
                            "(a device, pipe or socket)")
    try:  # the only honest writability test: make (and drop) a file there
        fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise UserError(f"cannot write {shown}: {_reason(exc)} in {folder}") from None
    return path


class Outputs:
    """The files one command writes; see the module docstring."""

    def __init__(self, inputs=()) -> None:
        self.inputs = _inputs(inputs)  # (role, path): files no output may overwrite
        self._claimed: dict[str, str] = {}  # final path -> flag
        self._temps: dict[str, str] = {}  # final path -> temp path holding its content
        self.committed: list[str] = []

    # -- before the work ------------------------------------------------------------------
    def claim(self, path, suffixes=None, flag: str = "output") -> str:
        final = check_destination(path, suffixes, flag, self.inputs)
        if final in self._claimed:
            raise UserError(f"{flag} and {self._claimed[final]} name the same file {final}; "
                            "give each output its own name")
        self._claimed[final] = flag
        return final

    # -- writing (to temp files) ----------------------------------------------------------
    def temp(self, path) -> str:
        """A new temp file beside claimed `path` to write into; committed on success."""
        final = self._final(path)
        folder = os.path.dirname(final)
        suffix = os.path.splitext(final)[1]
        try:
            fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=folder)
            os.close(fd)
        except OSError as exc:
            raise UserError(f"cannot write {final}: {_reason(exc)}") from None
        with _lock:
            _live_temps.add(tmp)
        old = self._temps.pop(final, None)
        if old:
            _remove(old)
        self._temps[final] = tmp
        return tmp

    def write(self, path, fn) -> None:
        """fn(temp_path) writes the file's content."""
        tmp = self.temp(path)
        try:
            fn(tmp)
        except OSError as exc:
            final = self._final(path)
            raise UserError(f"cannot write {final}: {_reason(exc, os.path.dirname(final))}") from None
        except MemoryError:
            raise UserError(f"cannot write {self._final(path)}: not enough memory to encode it") from None

    def save_png(self, path, rgb: np.ndarray) -> None:
        """uint8 (H, W) or (H, W, 3) to PNG (or the format of the suffix: .jpg, .tif, ...)."""
        from PIL import Image as PILImage

        ext = os.path.splitext(self._final(path))[1].lower()
        fmt = _PIL_FORMATS.get(ext, ext[1:].upper())
        img = PILImage.fromarray(np.ascontiguousarray(rgb))
        self.write(path, lambda tmp: img.save(tmp, format=fmt))

    def save_npy(self, path, array: np.ndarray) -> None:
        self.write(path, lambda tmp: np.save(tmp, array, allow_pickle=False))

    def save_bytes(self, path, data: bytes) -> None:
        def put(tmp):
            with open(tmp, "wb") as f:
                f.write(data)
        self.write(path, put)

    # -- the end ---------------------------------------------------------------------------
    def commit(self) -> list[str]:
        """Move every temp file onto its target (each atomic); return the paths written."""
        for final, tmp in list(self._temps.items()):
            try:
                os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the usual mode
                os.replace(tmp, final)
            except OSError as exc:
                self.abort()
                raise UserError(f"cannot write {final}: {_reason(exc)}") from None
            with _lock:
                _live_temps.discard(tmp)
            del self._temps[final]
            self.committed.append(final)
        return list(self.committed)

    def abort(self) -> None:
        """Remove every temp file and every file this command already committed."""
        for tmp in self._temps.values():
            _remove(tmp)
        self._temps.clear()
        for final in self.committed:
            _remove(final)
        self.committed.clear()

    def __enter__(self) -> "Outputs":
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if kind is None:
            self.commit()
        else:
            self.abort()
        return False

    def _final(self, path) -> str:
        final = os.path.abspath(os.fspath(path))
        if final not in self._claimed:
            raise ValueError(f"{final} was not claimed before writing (Outputs.claim)")
        return final


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
    with _lock:
        _live_temps.discard(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@atexit.register
def _remove_leftovers() -> None:
    with _lock:
        leftovers = list(_live_temps)
    for tmp in leftovers:
        _remove(tmp)


# -- one file at a time (the window's exports) ---------------------------------------------
def save_png(path, rgb: np.ndarray) -> None:
    """Check, write and commit one image file (format from the suffix)."""
    with Outputs() as out:
        out.save_png(out.claim(path, IMAGE_SUFFIXES), rgb)


def save_npy(path, array: np.ndarray) -> None:
    with Outputs() as out:
        out.save_npy(out.claim(path, (".npy",), "--npy"), array)


def write_file(path, fn, suffixes=None, inputs=()) -> None:
    """Check, write (fn(temp_path)) and commit one file of any kind (streamed outputs
    such as videos too); `inputs`: files it must not overwrite."""
    with Outputs(inputs) as out:
        out.write(out.claim(path, suffixes), fn)

