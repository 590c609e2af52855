"""Progress of a long CLI run (`batch`, `examples`) on stderr, whatever stderr is.

On a terminal: tqdm's bar. Otherwise (a log file, a pipe, a CI job, `nohup`), where a bar
is either hidden or a mess of carriage returns: plain lines, one each time another tenth of
the work is done or EVERY_S seconds have passed, and one at the end, e.g.
    batch: 12/40 images (30%), 3.1 images/s, ~9 s left
"""
from __future__ import annotations

import sys
import time

EVERY_S = 30.0  # at least one line this often on a slow run


class Progress:
    def __init__(self, total: int, initial: int = 0, desc: str = "batch", unit: str = "images",
                 stream=None):
        self.total, self.n, self.desc, self.unit = int(total), int(initial), desc, unit
        self.stream = stream or sys.stderr
        self._bar = None
        try:
            tty = self.stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        if tty:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, unit="img", file=self.stream,
                             dynamic_ncols=True, desc=desc, smoothing=0.1)
            return
        self._start_n, self._t0 = self.n, time.monotonic()
        self._last_t, self._last_tenth = self._t0, self._tenth(self.n)
        self._closed, self._printed = False, self.n

    def _tenth(self, n: int) -> int:
        return (10 * n) // self.total if self.total else 10

    def update(self, k: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(k)
            return
        self.n += int(k)
        now = time.monotonic()
        if self._tenth(self.n) > self._last_tenth or now - self._last_t >= EVERY_S:
            self._line(now)

    def _line(self, now: float) -> None:
        self._last_t, self._last_tenth, self._printed = now, self._tenth(self.n), self.n
        pct = 100 * self.n // self.total if self.total else 100
        text = f"{self.desc}: {self.n}/{self.total} {self.unit} ({pct}%)"
        done, spent = self.n - self._start_n, now - self._t0
        if done > 0 and spent > 0:
            rate = done / spent
            text += f", {rate:.3g} {self.unit}/s"
            if self.n < self.total:
                text += f", ~{(self.total - self.n) / rate:.0f} s left"
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """The bar closed, or a last line if the last one printed is not the final count."""
        if self._bar is not None:
            self._bar.close()
            return
        if not self._closed:
            self._closed = True
            if self._printed != self.n:
                self._line(time.monotonic())
