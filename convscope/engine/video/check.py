"""Is a video file that OpenCV's encoder just wrote complete? cv2.VideoWriter reports no
write error at all: on a full disk it writes what fits, says nothing, and the file is
truncated (a 64 KiB avi whose header still counts every frame). So the file is read back
after the encoder closes it: it must open, count the frames written, and its LAST frame
must decode (a seek to it, not a decode of the whole file: cheap on long videos).

When it is not complete, the reason is an OSError the caller's engine.outputs turns into
one line: ENOSPC ("the disk is full") when the file system has less than FULL_MARGIN
bytes left, else EIO (the encoder wrote an incomplete file).
"""
from __future__ import annotations

import errno
import os

FULL_MARGIN = 1 << 20  # bytes: less free space than this after writing = the disk filled up


def free_bytes(path: str) -> int | None:
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)) or ".")
    except (OSError, AttributeError):
        return None
    return st.f_bavail * st.f_frsize


def disk_full(path: str) -> bool:
    free = free_bytes(path)
    return free is not None and free < FULL_MARGIN


def failure(path: str, what: str) -> OSError:
    """The OSError to raise for `path`: ENOSPC when its disk is (nearly) full, else EIO."""
    if disk_full(path):
        return OSError(errno.ENOSPC, "No space left on device", path)
    return OSError(errno.EIO, what, path)


def check_complete(path: str, frames: int) -> None:
    """OSError unless `path` decodes as a video of `frames` frames whose last one reads."""
    import cv2

    if frames <= 0:
        return
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        raise failure(path, "the video encoder wrote an empty file")
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    try:
        ok = cap.isOpened()
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if ok else 0
        if ok and count > 0 and count != frames:
            ok = False
        if ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, frames - 1)
            ok, frame = cap.read()
            ok = bool(ok) and frame is not None
    finally:
        cap.release()
    if not ok:
        raise failure(path, f"the video encoder wrote an incomplete file (fewer than the "
                      f"{frames} frames given)")
