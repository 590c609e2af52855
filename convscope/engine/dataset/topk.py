"""The top-k images of every channel, in one streaming pass: a bounded min-heap per channel.

Each heap holds at most k entries (score, -order, ...), so memory is O(channels x k)
whatever the number of images. Its root is the weakest kept entry: a new image enters
only if it beats the root (a vectorised test over the whole batch first, so after the
first batches almost nothing reaches Python). Ties go to the earlier file (smaller order),
which is what sorting all images by (-score, order) and keeping k would give.
"""
from __future__ import annotations

import heapq

import numpy as np


class TopK:
    def __init__(self, channels: int, k: int):
        self.k = max(1, int(k))
        self.heaps: list[list] = [[] for _ in range(int(channels))]
        self._floor = np.full(int(channels), -np.inf)  # root score of each full heap

    def push(self, scores: np.ndarray, orders, extras) -> None:
        """scores (B, C) for B images (file orders `orders`, increasing across calls);
        extras[b][c] or a callable (b, c) -> the payload kept with an entry."""
        scores = np.asarray(scores, np.float64)
        # later files lose ties, so a full heap only takes strictly better scores
        cand = scores > self._floor[None, :]
        for b, c in zip(*np.nonzero(cand)):
            heap = self.heaps[c]
            entry = (float(scores[b, c]), -int(orders[b]),
                     extras(b, c) if callable(extras) else extras[b][c])
            if len(heap) < self.k:
                heapq.heappush(heap, entry)
            elif entry[:2] > heap[0][:2]:
                heapq.heapreplace(heap, entry)
            if len(heap) == self.k:
                self._floor[c] = heap[0][0]

    def result(self) -> list[list[tuple]]:
        """Per channel: [(score, order, payload), ...] best first."""
        out = []
        for heap in self.heaps:
            ranked = sorted(heap, key=lambda e: (-e[0], -e[1]))
            out.append([(s, -o, p) for s, o, p in ranked])
        return out
