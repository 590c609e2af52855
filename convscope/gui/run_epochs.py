"""A folder of checkpoints without a recording (File ▸ Open run…): the small multiples are
computed on demand. When an epoch is chosen, the window opens its checkpoint (every view
follows) and the engine computes the maps and top predictions of the window's images at
that epoch (engine.learning.jobs.EpochMaps, right after the checkpoint is loaded, so it
uses that model); the row of the small multiples fills in.

What is cached: per (epoch, method), the engine's EpochMapsReady — each image's map at the
target layer's resolution (float32, h x w) and its prediction — so returning to an epoch
sends no job and computes nothing (the checkpoint itself is re-opened as the window's
model: the views need it). Bound: MAX_BYTES of maps (least recently used first out; a
dropped epoch is computed again when chosen). The strip keeps one small pixmap per cell
(gui/run_strip.py). The columns: the window's current image and the ones after it (then
from the first), MAX_IMAGES at most, as they are when the folder is opened.
"""
from __future__ import annotations

from collections import OrderedDict

from convscope.engine.learning.jobs import EpochMaps, EpochMapsReady

from .run_strip import rows_for

MAX_IMAGES = 8  # columns: as many images as the Recorder's default probes
MAX_BYTES = 32 * 2 ** 20  # of cached maps


class EpochCache:
    """LRU of EpochMapsReady by (epoch, method), bounded by the bytes of their maps."""

    def __init__(self, max_bytes: int = MAX_BYTES):
        self.max_bytes = max_bytes
        self.items: OrderedDict = OrderedDict()
        self.bytes = 0

    @staticmethod
    def size(r: EpochMapsReady) -> int:
        return int(sum(m.nbytes for m in r.maps))

    def get(self, key):
        r = self.items.get(key)
        if r is not None:
            self.items.move_to_end(key)
        return r

    def put(self, key, r: EpochMapsReady) -> None:
        if key in self.items:
            self.bytes -= self.size(self.items.pop(key))
        self.items[key] = r
        self.bytes += self.size(r)
        while self.bytes > self.max_bytes and len(self.items) > 1:
            _, old = self.items.popitem(last=False)
            self.bytes -= self.size(old)

    def clear(self) -> None:
        self.items.clear()
        self.bytes = 0


class CheckpointEpochs:
    """The on-demand side of a RunTimeline showing a folder of checkpoints."""

    def __init__(self, timeline):
        self.t = timeline
        self.w = timeline.w
        self.cache = EpochCache()
        self.images: list = []  # the columns (engine.images.Image)
        self.files: dict[int, str] = {}
        self.method = "gradcam"
        self.sent = 0  # EpochMaps jobs sent (tests count them)
        self.w.client.subscribe(EpochMapsReady, self._on_result, channel=EpochMaps.channel)

    def start(self, files: dict) -> None:
        """A new folder: the columns are the window's images now; nothing is computed yet."""
        self.cache.clear()
        self.files = dict(files)
        images, current = list(self.w.session.images), self.w.session.image
        i = images.index(current) if current in images else 0
        self.images = (images[i:] + images[:i])[:MAX_IMAGES]
        self.method = self.w.cam_view.current_method() or "gradcam"
        self.t.strip.setup(rows_for(sorted(self.files)), [im.name for im in self.images])
        for epoch in self.t.strip.epochs:
            for i in range(len(self.images)):
                self.t.strip.fill(epoch, i, None, "not computed yet")

    def request(self, epoch: int) -> None:
        """After the window was asked to open `epoch`'s checkpoint: its maps, from the cache
        or from the engine."""
        if not self.images or epoch not in self.files:
            return
        if self.cache.get((epoch, self.method)) is not None:
            return  # drawn when it was computed
        self.sent += 1
        self.w.client.send(EpochMaps(checkpoint=self.files[epoch], epoch=epoch,
                                     images=tuple(self.images), method=self.method))

    def _on_result(self, r: EpochMapsReady) -> None:
        from convscope.engine.cam import overlay

        if self.files.get(r.epoch) != r.checkpoint or r.method != self.method:
            return  # another folder's (or method's) epoch
        self.cache.put((r.epoch, r.method), r)
        for i, image in enumerate(self.images[:len(r.maps)]):
            self.t.strip.fill(r.epoch, i, overlay.blend(image.pixels, r.maps[i]),
                              f"{r.labels[i]} {r.scores[i]:.2f}")
