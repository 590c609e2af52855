"""Video: files and cameras through the network (no Qt).

Entry point: `explain_video(model, source, out, options)` — a whole file explained frame by
frame, none dropped (`convscope video`, the window's Export video).

Modules: `io` (OpenCV frame sources and sinks, GIF through Pillow), `explain` (CAMs of frame
batches, temporal smoothing, overlay and caption), `pipeline` (decode, explain and encode
overlapped on threads), `live` (the engine's side of the Live view: one frame in, what to
show out), `demo_clip` (a generated test clip whose object pixels are known).

The entry point is loaded on first use, so `import convscope.engine.video.io` does not import the CAM
machinery.
"""
_LAZY = {"explain_video": ".pipeline", "VideoOptions": ".pipeline"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["explain_video", "VideoOptions"]
