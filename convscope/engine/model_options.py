"""How a model is opened, beyond its spec: the user's code, trust, and the head's kind.

Every command that opens a model takes (add_model_options):
  --custom-objects FILE.py|pkg.module   import the user's code before loading (repeatable):
                                        every class and function it defines is offered to
                                        Keras by name, and its @register_keras_serializable
                                        decorators run. Nothing is imported unless asked.
  --trust-model                         run Python code stored in the model file (Lambda
                                        layers): Keras' safe_mode=False, the legacy HDF5
                                        loader's trust_code=True. Off by default.
  --head KIND                           how to read the output (engine.heads.KINDS).
The Python API takes the same as keywords: open_model(spec, custom_objects=...,
trust_model=..., head=...). The window offers a sidecar `MODEL.custom.py` next to a model
file through a dialog that names the file (sidecar_code), never silently.

`explain_load_error` turns Keras' refusal into one line that names what is missing and the
flag that fixes it (Keras' first line is "Functional could not be deserialized properly",
the real cause comes later in its message).
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import sys

from .errors import Remedy, UserError, first_line

CUSTOM_FLAG = "--custom-objects"
TRUST_FLAG = "--trust-model"
SIDECAR_SUFFIX = ".custom.py"

_imported: dict = {}  # (realpath, mtime) -> {name: object}: a file runs once per version


def add_model_options(parser) -> None:
    """The three options on an argparse (sub-)parser that opens a model."""
    from .heads import KINDS

    parser.add_argument(CUSTOM_FLAG, dest="custom_objects", action="append", default=None,
                        metavar="FILE.py|pkg.module",
                        help="import your code (custom layers) before loading the model; repeatable")
    parser.add_argument(TRUST_FLAG, dest="trust_model", action="store_true",
                        help="allow Python code stored in the model file (Lambda layers); "
                             "only for files you trust")
    parser.add_argument("--head", default=None, choices=KINDS,
                        help="how to read the output (default: guessed, `info` says which and why)")


def from_args(args) -> dict:
    """open_model keywords from parsed arguments (absent options: the defaults)."""
    return {"custom_objects": getattr(args, "custom_objects", None),
            "trust_model": bool(getattr(args, "trust_model", False)),
            "head": getattr(args, "head", None)}


# -- the user's code -----------------------------------------------------------------------
def load_custom_objects(spec) -> dict | None:
    """{name: class or function} from FILE.py paths / pkg.module names (a str, a list of
    them, or a dict given as it is); None for none."""
    if spec is None or spec == "" or spec == [] or spec == ():
        return None
    if isinstance(spec, dict):
        return dict(spec)
    items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    objects: dict = {}
    for item in items:
        if isinstance(item, dict):
            objects.update(item)
        else:
            objects.update(_import(os.fspath(item).strip()))
    return objects


def _import(item: str) -> dict:
    if not item:
        raise UserError(f"{CUSTOM_FLAG} is empty; give a FILE.py or a pkg.module name")
    if item.endswith(".py") or os.sep in item or os.path.exists(item):
        return _import_file(item)
    if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", item):
        raise UserError(f"{CUSTOM_FLAG} {item}: neither a .py file nor a module name like pkg.module")
    try:
        module = importlib.import_module(item)
    except Exception as exc:
        raise UserError(f"{CUSTOM_FLAG} {item}: importing it failed "
                        f"({type(exc).__name__}: {first_line(exc)})") from None
    return _objects_of(module)


def _import_file(path: str) -> dict:
    if not os.path.isfile(path):
        raise UserError(f"{CUSTOM_FLAG} {path}: no such file")
    real = os.path.realpath(path)
    key = (real, os.stat(real).st_mtime_ns)
    if key in _imported:
        return _imported[key]
    stem = re.sub(r"\W", "_", os.path.basename(real)[:-3] if real.endswith(".py") else os.path.basename(real))
    name = f"convscope_user_{stem}_{len(_imported)}"
    folder = os.path.dirname(real)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the user's file may import its neighbours
    try:
        spec = importlib.util.spec_from_file_location(name, real)
        if spec is None or spec.loader is None:
            raise UserError(f"{CUSTOM_FLAG} {path}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except UserError:
        raise
    except BaseException as exc:  # SyntaxError, ImportError, SystemExit in the user's file
        sys.modules.pop(name, None)
        where = ""
        if isinstance(exc, SyntaxError) and exc.lineno:
            where = f" line {exc.lineno}"
        raise UserError(f"{CUSTOM_FLAG} {path}{where}: running it failed "
                        f"({type(exc).__name__}: {first_line(exc)})") from None
    objects = _imported[key] = _objects_of(module)
    return objects


def _objects_of(module) -> dict:
    """Classes and functions the module defines itself, by name, plus a `custom_objects`
    (or CUSTOM_OBJECTS) dict it may export."""
    objects = {name: obj for name, obj in vars(module).items()
               if not name.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
               and getattr(obj, "__module__", None) == module.__name__}
    for attr in ("custom_objects", "CUSTOM_OBJECTS"):
        extra = getattr(module, attr, None)
        if isinstance(extra, dict):
            objects.update(extra)
    return objects


def sidecar_code(model_path: str) -> str | None:
    """`MODEL.custom.py` next to a model file (mymodel.keras -> mymodel.custom.py), if any.
    The window offers it in a dialog naming the file; it is never imported silently."""
    if not model_path or not isinstance(model_path, str) or model_path.startswith("builtin:") \
            or model_path == "demo":
        return None
    base = os.path.splitext(model_path.rstrip("/\\"))[0]
    candidate = base + SIDECAR_SUFFIX
    return candidate if os.path.isfile(candidate) else None


# -- Keras' refusals, in one line ------------------------------------------------------------
_MISSING = (re.compile(r"Could not locate (?:class|function) '([^']+)'"),
            re.compile(r"Unknown (?:layer|object|activation|loss|metric)[^:'\"]*[:]?\s*['\"]?([\w.>]+)"))


def explain_load_error(exc: BaseException, path: str, *, custom_objects=None,
                       trust_model: bool = False) -> UserError | None:
    """A UserError naming the missing class / the Lambda and the flag, or None when the
    failure is something else."""
    text = _full_text(exc)
    name = os.path.basename(path)
    if "Lambda" in text and "safe_mode" in text and not trust_model:
        return UserError(
            f"{name} holds a Lambda layer (Python code stored in the model file), which "
            f"ConvScope runs only if you trust the file: open it with {TRUST_FLAG} "
            "(Python: trust_model=True)",
            remedy=Remedy("trust_model", "Trust this file and open it", path))
    for pattern in _MISSING:
        found = pattern.search(text)
        if found:
            cls = found.group(1).split(">")[-1]
            if custom_objects:
                given = ", ".join(sorted(custom_objects)) or "nothing"
                return UserError(
                    f"{name} uses the custom class {cls!r}, which the {CUSTOM_FLAG} code does "
                    f"not define (it defines: {given[:200]}); add it to that file")
            remedy = None
            sidecar = sidecar_code(path)
            if sidecar:
                remedy = Remedy("custom_objects", f"Run {os.path.basename(sidecar)}…", path)
            return UserError(
                f"{name} uses the custom class {cls!r}, which Keras does not know: give "
                f"ConvScope the code that defines it with {CUSTOM_FLAG} FILE.py (or "
                f"pkg.module; Python: custom_objects=...)", remedy=remedy)
    return None


def _full_text(exc: BaseException) -> str:
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def active_custom_objects() -> dict | None:
    """The custom objects of the keras.saving.custom_object_scope in force (the user's,
    set by engine.loading), or None."""
    from keras.src.backend.common import global_state

    scope = global_state.get_global_attribute("custom_objects_scope_dict", None)
    return dict(scope) if scope else None
