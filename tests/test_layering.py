"""House rules, checked on the source (design §1): engine/ imports no Qt except the one
bridge module; gui/ imports no TensorFlow or Keras (it sends jobs to the engine thread);
no GUI module over 400 lines. Also runs import-linter's contracts from pyproject.toml."""
import ast
import os
import shutil
import subprocess
import sys


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QT = ("PySide6", "PyQt5", "PyQt6", "PySide2", "qtpy", "pyqtgraph", "gui")
TF = ("tensorflow", "keras", "tf_keras")


def _modules(package):
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def _top(name):
    """The top-level name, with ConvScope's own packages as `engine` / `gui` (the folders
    inside the `convscope` package)."""
    parts = name.split(".")
    return parts[1] if parts[0] == "convscope" and len(parts) > 1 else parts[0]


def _imports(path):
    """Top-level names imported anywhere in the file (lazy imports in functions too);
    relative imports resolved against the file's package (`from ..gui import x` in
    convscope/engine/ is `gui`)."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    package = os.path.relpath(os.path.dirname(path), ROOT).split(os.sep)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield _top(alias.name), node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield _top(node.module), node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - (node.level - 1)]
            for alias in ([None] if node.module else node.names):
                full = base + (node.module.split(".") if node.module else [alias.name])
                yield _top(".".join(full)), node.lineno


def _rel(path):
    return os.path.relpath(path, ROOT)


def test_engine_imports_qt_only_in_the_bridge():
    offenders = [f"{_rel(p)}:{line} imports {name}" for p in _modules("convscope/engine")
                 for name, line in _imports(p)
                 if name in QT and _rel(p) != os.path.join("convscope", "engine", "qt_bridge.py")]
    assert not offenders, offenders


def test_bridge_uses_qtcore_only():
    path = os.path.join(ROOT, "convscope", "engine", "qt_bridge.py")
    tree = ast.parse(open(path, encoding="utf-8").read())
    qt = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
          and n.module and n.module.startswith("PySide6")]
    assert qt and set(qt) == {"PySide6.QtCore"}


def test_gui_imports_no_tensorflow_or_keras():
    offenders = [f"{_rel(p)}:{line} imports {name}" for p in _modules("convscope/gui")
                 for name, line in _imports(p) if name in TF]
    assert not offenders, offenders


def test_gui_never_imports_engine_modules_that_pull_in_keras():
    # engine.model, engine.layers, engine.hooks, engine.cam and engine.filters.ascent import Keras
    # at module level: the GUI receives their objects but must not import them.
    heavy = {"convscope.engine.model", "convscope.engine.layers", "convscope.engine.hooks", "convscope.engine.cam", "convscope.engine.filters.ascent",
             "convscope.engine.filters.params", "convscope.engine.legacy_h5", "convscope.engine.tf_runtime", "convscope.engine.cli"}
    offenders = []
    for p in _modules("convscope/gui"):
        tree = ast.parse(open(p, encoding="utf-8").read())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            hits = [n for n in names if any(n == h or n.startswith(h + ".") for h in heavy)
                    and n not in LIGHT and not (n == "convscope.engine.cam" and isinstance(node, ast.ImportFrom)
                                                and all(a.name in ("registry", "overlay")
                                                        for a in node.names))]
            offenders += [f"{_rel(p)}:{node.lineno} imports {h}" for h in hits]
    assert not offenders, offenders


# Light modules inside heavy packages: what the GUI and CLI share with the engine.
LIGHT = {"convscope.engine.cam.registry", "convscope.engine.cam.overlay"}
SPEC_MODULES = ("convscope.engine.cam.registry", "convscope.engine.cam.overlay", "convscope.engine.filters.spec",
                "convscope.engine.builtin_models", "convscope.engine.summary", "convscope.engine.jobs", "convscope.engine.cli")


def test_importing_the_spec_modules_does_not_import_tensorflow():
    # The GUI reads method names, filter defaults and the built-in table from these before
    # TensorFlow has loaded; the CLI checks its input with them before paying for it.
    code = (f"import sys; import {', '.join(SPEC_MODULES)}; "
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; print(bad); "
            "sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=ROOT), timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]


def test_gui_holds_no_copy_of_an_engine_constant():
    # The constants the GUI shows are the engine's own objects, not equal copies.
    from convscope.engine import builtin_models
    from convscope.engine.filters import spec as filter_spec
    from convscope.engine.cam import registry
    from convscope.gui import model_dialogs, settings
    from convscope.gui.views import filters as filters_view

    assert filters_view.DEFAULT_STEPS is filter_spec.DEFAULT_STEPS
    assert filters_view.MODES is filter_spec.MODES
    assert model_dialogs.BUILTINS is builtin_models.BUILTINS
    assert settings.DEFAULTS["cam/method"] == registry.DEFAULT_METHOD
    assert settings.DEFAULTS["filters/steps"] == filter_spec.DEFAULT_STEPS["regularized"]
    import convscope.gui.views.cam_options as cam_options
    for copy in ("METHOD_NAMES", "METHOD_TIPS", "match_method", "method_title"):
        assert not hasattr(cam_options, copy), copy


def test_importing_the_gui_does_not_import_tensorflow():
    code = ("import sys; import convscope.gui.app, convscope.gui.main_window, convscope.engine.qt_bridge, convscope.engine.worker; "
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; print(bad); "
            "sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=ROOT),
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]


def test_gui_modules_stay_small():
    big = [f"{_rel(p)} ({n} lines)" for p in _modules("convscope/gui")
           if (n := sum(1 for _ in open(p, encoding="utf-8"))) > 400]
    assert not big, big


def test_import_linter_contracts_pass():
    assert shutil.which("lint-imports"), "import-linter (in the [dev] extra) is not installed"
    r = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]


def _module_name(path):
    parts = _rel(path)[:-3].split(os.sep)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def engine_import_graph():
    """module -> the engine modules it imports (anywhere in the file, lazy imports too);
    `from X import name` counts as importing X.name when that is a module, else X."""
    modules = {_module_name(p): p for p in _modules("convscope/engine")}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
        package = name.split(".") if path.endswith("__init__.py") else name.split(".")[:-1]
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[:len(package) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for a in node.names:
                    full = f"{target}.{a.name}"
                    edges.add(full if full in modules else target)
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def import_cycles(graph):
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_planted_circle():
    graph = engine_import_graph()
    assert graph["convscope.engine.cli.dispatch"] >= {"convscope.engine.cli.commands", "convscope.engine.cli.common"}
    graph["convscope.engine.cam.registry"] = graph["convscope.engine.cam.registry"] | {"convscope.engine.attribution.entries"}
    assert ["convscope.engine.attribution.entries", "convscope.engine.cam.registry"] in import_cycles(graph)


def test_no_import_circle_among_engine_modules():
    # A registry names the modules that register into it (engine.cam.registry.ENTRY_MODULES)
    # instead of importing them; sub-commands import convscope.engine.cli.common, never the dispatcher.
    assert import_cycles(engine_import_graph()) == []


def test_capabilities_live_in_their_packages():
    # filters, video, exploration and the command line each have a folder (README "For
    # developers"); a new module of theirs goes there, not at engine/'s top level.
    top = [n for n in os.listdir(os.path.join(ROOT, "convscope", "engine")) if n.endswith(".py")]
    strays = [n for n in top if n.startswith(("filter", "video", "explore", "cli", "live",
                                               "animation", "prefetch", "activation_view",
                                               "fast_grid", "demo_clip"))]
    assert strays == [], strays
    for package in ("filters", "video", "explore", "cli"):
        doc = ast.get_docstring(ast.parse(open(os.path.join(ROOT, "convscope", "engine", package, "__init__.py"),
                                               encoding="utf-8").read()))
        assert doc and "Entry point" in doc, package


def test_every_relative_import_names_a_module_that_exists():
    # Lazy imports inside functions run only when their path runs: a module moved to a
    # package (or a typo) would fail there, late. Each `from .x import y` must name a module.
    missing = []
    for top in ("engine", "gui"):
        for path in _modules(top):
            package = _module_name(path).split(".")
            if not path.endswith("__init__.py"):
                package = package[:-1]
            for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
                if isinstance(node, ast.ImportFrom) and node.level and node.module:
                    base = package[:len(package) - (node.level - 1)] + node.module.split(".")
                    where = os.path.join(ROOT, *base)
                    if not (os.path.isfile(where + ".py") or os.path.isfile(os.path.join(where, "__init__.py"))):
                        missing.append(f"{_rel(path)}:{node.lineno} {'.' * node.level}{node.module}")
    assert not missing, missing
