"""PySide6's `from __feature__` import hook, taken off `builtins.__import__` for the window.

Importing PySide6 replaces `builtins.__import__` with its `__feature_import__`, which exists
for `from __feature__ import snake_case, true_property` (opt-in Qt API variants ConvScope
does not use). For every `import` statement run afterwards, on any thread, it calls two
Python functions, and for every new module it reads the module's whole source back
(`inspect.getsource`, kept in `linecache`) to see whether it mentions PySide6.

In the window TensorFlow imports its ~2,600 modules while the window builds, so this cost
lands on the way to the first map: measured here, TensorFlow's import took 4.0-5.1 s of CPU
with the hook against 3.8-4.2 s without it, and kept 55 MB of source text in memory.

PySide6 keeps the import it replaced in `builtins.__orig_import__` and documents it as the
one to use for import changes; putting it back leaves Qt's own lazy loading of its types
(`__lazy_import__`) in place and only drops the `__feature__` bookkeeping: a module that is
not in that bookkeeping gets Qt's default API, which is what every ConvScope module uses.
"""
from __future__ import annotations

import builtins


def drop_feature_import() -> bool:
    """Put PySide6's saved import back in place of its `__feature__` hook; True if done.
    Anything else installed as `__import__` (a debugger's, a test tool's) is left alone."""
    import PySide6.QtCore  # noqa: F401  (installs the hook, if this PySide6 has one)

    hook = getattr(builtins, "__feature_import__", None)
    saved = getattr(builtins, "__orig_import__", None)
    if hook is None or saved is None or builtins.__import__ is not hook:
        return False
    builtins.__import__ = saved
    return True
