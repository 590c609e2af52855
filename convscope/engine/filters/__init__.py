"""Filter patterns: the input each channel (or class) responds to most, by gradient ascent
(design §5, seed 003 §5.4.2).

Entry point: `filter_patterns(model, layer, filters, size, steps, mode=...)` -> (N, H, W, 3)
uint8 (also `Model.filter_patterns`).

Modules: `spec` (defaults and the filter-range parser; light, no TensorFlow: the window and
the CLI read it before TensorFlow loads), `plan` (what a run targets and whether it fits in
memory), `params` (start images, parametrisations, transforms, penalties), `ascent` (the
compiled, batched ascent), `animation` (the ascent forming, as GIF or MP4).

The entry point is loaded on first use, so `import convscope.engine.filters.spec` stays light.
"""
_LAZY = {"filter_patterns": ".ascent"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["filter_patterns"]
