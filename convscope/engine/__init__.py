"""ConvScope's engine: all computation, usable without a display (design §4).

    from convscope.engine import open_model, load_image
    m = open_model("demo"); img = load_image("cat.jpg"); m.predict(img, top=3)
    from convscope.engine import Recorder   # a keras Callback that records a fit (engine.learning)

TensorFlow is imported by `open_model` (lazily), so importing this package is cheap and a
GUI can show its window before TensorFlow has loaded.
"""
import os

# Quiet TensorFlow's C++ start-up chatter (must be set before TensorFlow is imported);
# the user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from .cancel import CancelToken  # noqa: E402
from .errors import Cancelled, UserError  # noqa: E402
from .images import Image, from_array, load_image  # noqa: E402


def open_model(spec, preprocess="auto", device="auto", *, custom_objects=None,
               trust_model=False, head=None):
    """See engine.model.open_model (custom_objects: FILE.py / pkg.module / {name: class};
    trust_model: run Lambda code stored in the file; head: engine.heads.KINDS)."""
    from . import tf_runtime

    tf_runtime.init(device)  # before anything imports TensorFlow
    from .model import open_model as _open

    return _open(spec, preprocess=preprocess, device=device, custom_objects=custom_objects,
                 trust_model=trust_model, head=head)


def __getattr__(name):
    if name == "Recorder":  # engine.learning: a keras Callback, so TensorFlow loads only now
        from . import tf_runtime

        tf_runtime.init("auto")
        from .learning.recorder import Recorder

        return Recorder
    raise AttributeError(f"module 'engine' has no attribute {name!r}")


__all__ = ["open_model", "Recorder", "load_image", "from_array", "Image", "UserError", "Cancelled",
           "CancelToken"]
