"""The engine thread's side of figures (the window's Export figure dialog).

The arrays of a figure are kept between jobs: a preview that changes only how the figure
looks (width, fonts, colour map, alpha, …) redraws without computing anything again.
"""
from __future__ import annotations

import time

from .. import jobs as J
from . import draw, write
from .data import compute, image_key


class FigureMaker:
    def __init__(self) -> None:
        self._key = None
        self._data = None

    def run(self, model, job: J.MakeFigure, emit, cancel, base) -> None:
        t0 = time.perf_counter()
        spec = job.spec
        key = (id(model), spec, tuple(image_key(im) for im in job.images))
        if key != self._key:
            self._key, self._data = None, None

            def progress(done, total=None, *_):
                if total:
                    emit(J.Progress(**base, done=done, total=total, text=f"figure: {done}/{total}"))
                cancel.check()

            self._data = compute(model, spec, list(job.images), known=job.known,
                                 progress=progress, cancel=cancel)
            self._key = key
        cancel.check()
        made = draw(model, self._data, job.options, job.fmt)
        written = tuple(write(made, job.out, self._data)) if job.out else ()
        emit(J.FigureReady(**base, content=made.content, fmt=made.fmt,
                           size_px=tuple(made.layout.get("size_px", ())), written=written,
                           recipe=made.recipe, seconds=time.perf_counter() - t0))
