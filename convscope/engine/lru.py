"""One small least-recently-used cache (the CAM caches, compiled ascents, the Filters view)."""
from __future__ import annotations

from collections import OrderedDict


class Lru(OrderedDict):
    """A dict that keeps at most `size` entries, dropping the least recently used first.

    `get` and `put` count as uses; plain `[]` reads do not reorder."""

    def __init__(self, size: int):
        super().__init__()
        self.size = int(size)

    def get(self, key, default=None):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return default

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
