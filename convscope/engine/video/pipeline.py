"""A whole video explained, frame by frame, none dropped: `convscope video` and the Live
view's Export video.

Three stages overlap so the model is never waiting on the codecs: a reader thread decodes
batches of frames ahead, the calling thread computes their maps (engine.video.explain,
one compute_cam call per batch), a writer thread draws the overlays and encodes them.
Queues between them are short (two batches), so memory stays bounded on long videos.
With `every` = N, maps are computed for frames 0, N, 2N, … and each is shown on the
frames up to the next one (the output keeps every frame and the source's frame rate).
The file appears only when complete (engine.outputs.write_file): an error, a
truncated input or a cancellation leaves nothing behind.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from .. import cancel as cancel_mod
from ..errors import UserError
from ..outputs import write_file
from .explain import Smoother, caption_text, check_smooth, explain_frames, render
from .io import VideoSink, VideoSource, check_output

_END = object()


@dataclass(frozen=True)
class VideoOptions:
    method: str = "gradcam"
    layer: str | None = None
    class_index: int | None = None  # None: each frame's top prediction
    target: str | None = None  # a target instead of a class (engine.targets)
    alpha: float = 0.4
    colormap: str = "jet"
    smooth: float = 0.0
    every: int = 1
    max_frames: int | None = None
    side_by_side: bool = False
    caption: bool = True
    batch_size: int = 8


@dataclass(frozen=True)
class VideoSummary:
    frames: int  # written
    explained: int  # frames whose map was computed
    fps: float
    size: tuple  # (height, width) written
    seconds: float
    classes: dict  # label -> frames captioned with it


def check_options(o: VideoOptions) -> None:
    check_smooth(o.smooth)
    if o.every < 1:
        raise UserError(f"--every must be at least 1, not {o.every}")
    if o.max_frames is not None and o.max_frames < 1:
        raise UserError(f"--max-frames must be at least 1, not {o.max_frames}")
    if o.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, not {o.batch_size}")
    if not 0.0 <= o.alpha <= 1.0:
        raise UserError(f"--alpha must be between 0 and 1, not {o.alpha:g}")


def explain_video(model, source: str, out: str, options: VideoOptions = VideoOptions(),
                  progress=None, cancel=None) -> VideoSummary:
    """Write the explained video of `source` to `out`; progress(done, total) per batch
    (total None when the file does not say how many frames it holds)."""
    check_options(options)
    ext = check_output(out)
    from ..colormaps import lut

    lut(options.colormap)  # an unknown colour map fails before any work
    t0 = time.perf_counter()
    with VideoSource.open_file(source) as src:
        info = src.info
        total = info.frame_count
        if options.max_frames is not None:
            total = options.max_frames if total is None else min(total, options.max_frames)
        box: dict = {}

        def write(tmp):
            box["summary"] = _run(model, src, tmp, ext, total, options, progress, cancel)

        write_file(out, write)
    s = box["summary"]
    return VideoSummary(s["frames"], s["explained"], info.fps, s["size"],
                        time.perf_counter() - t0, s["classes"])


def _run(model, src: VideoSource, tmp: str, ext: str, total, o: VideoOptions, progress, cancel):
    info = src.info
    width = info.width * (2 if o.side_by_side else 1)
    sink = VideoSink(tmp, info.fps, (info.height, width), ext)
    stop = threading.Event()
    chunk = o.batch_size * o.every  # frames read per batch of maps
    decoded: queue.Queue = queue.Queue(maxsize=2)
    drawn: queue.Queue = queue.Queue(maxsize=2)
    errors: list = []
    stats = {"frames": 0, "explained": 0, "classes": {}}

    def put(q, item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(q):
        while True:
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                if stop.is_set():
                    return _END

    def reader():
        try:
            n = 0
            while total is None or n < total:
                batch = []
                while len(batch) < chunk and (total is None or n < total):
                    frame = src.read()
                    if frame is None:
                        break
                    batch.append(frame)
                    n += 1
                if not batch or not put(decoded, batch):
                    break
                if len(batch) < chunk:
                    break
        except BaseException as exc:
            errors.append(exc)
        put(decoded, _END)

    def writer():
        try:
            while True:
                item = get(drawn)
                if item is _END:
                    break
                for frame, heat, text, label in item:
                    sink.write(render(frame, heat, o.alpha, o.colormap, text, o.side_by_side))
                    stats["frames"] += 1
                    stats["classes"][label] = stats["classes"].get(label, 0) + 1
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=reader, name="convscope-video-read", daemon=True),
               threading.Thread(target=writer, name="convscope-video-write", daemon=True)]
    for t in threads:
        t.start()
    smoother = Smoother(o.smooth)
    done, finished = 0, False
    try:
        while True:
            batch = get(decoded)
            if batch is _END or errors:
                break
            cancel_mod.check(cancel)
            keys = batch[::o.every]  # frames 0, N, 2N, ... (a batch holds a multiple of N)
            maps = explain_frames(model, keys, o.method, o.layer, o.class_index, cancel=cancel,
                                  target=o.target)
            stats["explained"] += len(maps)
            item = []
            for i, frame in enumerate(batch):
                if i % o.every == 0:
                    fm = maps[i // o.every]
                    heat = smoother(fm.heatmap)
                    text = caption_text(fm.label, fm.probability) if o.caption else None
                item.append((frame, heat, text, fm.label))
            if not put(drawn, item):
                break
            done += len(batch)
            if progress is not None:
                progress(done, total)
        finished = put(drawn, _END)
    finally:
        if not finished:
            stop.set()  # an error or a cancellation here: the other stages end too
        threads[1].join()  # the writer drains what is queued, then ends
        stop.set()
        threads[0].join()
        sink.close()
    if errors:
        raise errors[0]
    cancel_mod.check(cancel)
    if stats["frames"] == 0:
        raise UserError(f"{info.name} holds no frame OpenCV can decode")
    stats["size"] = (info.height, width)
    return stats
