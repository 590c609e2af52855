"""Installing like an application (issue 22): one version everywhere, `convscope doctor`,
the package data through importlib.resources, and the first-run check of Qt's X11
libraries (one line and exit 2 instead of Qt's abort). The wheel itself: test_wheel.py."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

import convscope
from convscope import resources
from convscope.gui import qt_libraries

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.update(extra)
    return env


def _main(*args, timeout=300, **env):
    return subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=_env(**env))


# -- version ------------------------------------------------------------------------------
def test_version_is_one_number_everywhere(capsys):
    from convscope.engine.cli import main as cli
    from convscope.engine.dataset.runner import versions as run_versions
    from convscope.engine.figures.recipe import versions as recipe_versions

    v = convscope.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", v)
    r = _main("--version", timeout=60)
    assert (r.returncode, r.stdout.strip()) == (0, f"convscope {v}")
    assert recipe_versions()["convscope"] == v  # figure recipes
    assert run_versions()["convscope"] == v  # run.json
    assert cli(["info", "--model", "demo", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["convscope_version"] == v


def test_recipes_runs_and_sessions_take_the_running_package_version(monkeypatch):
    # not importlib.metadata: that describes whichever convscope is installed (here the
    # shared env's editable install of another checkout), not the code that is running
    from convscope.engine.dataset import runner
    from convscope.engine.figures import recipe

    monkeypatch.setattr(convscope, "__version__", "9.8.7")
    assert recipe.app_version() == "9.8.7"  # figure recipes' and session files' app_version
    assert recipe.versions()["convscope"] == "9.8.7"
    assert runner.versions()["convscope"] == "9.8.7"  # run.json


def test_pyproject_reads_the_version_from_the_package():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        doc = tomllib.load(f)
    assert "version" not in doc["project"] and "version" in doc["project"]["dynamic"]
    assert doc["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "convscope.__version__"}


# -- the package and its data -------------------------------------------------------------
def test_import_convscope_is_cheap_and_reexports_the_api():
    code = ("import sys, convscope; assert 'tensorflow' not in sys.modules; "
            "assert 'PySide6' not in sys.modules; f = convscope.load_image; "
            "import convscope.engine as e; assert f is e.load_image; "
            "assert convscope.open_model is e.open_model; print(convscope.__file__)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, env=_env())
    assert r.returncode == 0, r.stderr[-2000:]
    assert os.path.dirname(r.stdout.strip()) == os.path.join(ROOT, "convscope")


def test_every_resource_is_found_through_importlib_resources():
    folder = os.path.join(ROOT, "convscope", "resources")
    on_disk = sorted(os.path.relpath(os.path.join(d, n), folder).replace(os.sep, "/")
                     for d, dirs, files in os.walk(folder) for n in files
                     if "__pycache__" not in d and not n.endswith((".py", ".pyc")))
    assert resources.listing() == on_disk
    assert {"models/demo.keras", "models/demo.labels.json", "imagenet_classes.json",
            "samples/demo_star.png"} <= set(on_disk)
    for name in on_disk:
        assert resources.files().joinpath(*name.split("/")).is_file(), name
    assert convscope.sample("cat.jpg") == os.path.join(folder, "samples", "cat.jpg")


def test_engine_and_gui_hold_no_path_relative_to_the_checkout():
    offenders = []
    for package in ("engine", "gui"):
        for d, _, files in os.walk(os.path.join(ROOT, "convscope", package)):
            for n in files:
                if n.endswith(".py"):
                    text = open(os.path.join(d, n), encoding="utf-8").read()
                    if "__file__" in text or re.search(r"""["']resources["']""", text):
                        offenders.append(os.path.join(d, n))
    assert not offenders, offenders


# -- convscope doctor ---------------------------------------------------------------------
def test_doctor_reports_what_it_found():
    r = _main("doctor", "--json", timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(r.stdout)
    assert list(doc) == ["Python", "ConvScope", "TensorFlow", "Qt", "OpenCV", "Ray",
                         "Folders", "Memory"]
    assert doc["Python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert doc["ConvScope"]["version"] == convscope.__version__
    assert doc["ConvScope"]["location"] == os.path.join(ROOT, "convscope")
    assert doc["ConvScope"]["resources"] == len(resources.listing())
    import tensorflow as tf

    assert doc["TensorFlow"]["version"] == tf.__version__
    assert "CPU:0" in doc["TensorFlow"]["devices"]
    import PySide6

    assert doc["Qt"]["pyside6"] == PySide6.__version__
    assert doc["Qt"]["platform"] == qt_libraries.platform_name()  # offscreen in the tests
    assert doc["OpenCV"]["video_write"], doc["OpenCV"]  # every build writes MJPEG at least
    assert set(doc["Folders"]) == {"keras_weights", "examples_index", "settings",
                                   "sessions_autosave"}
    assert re.fullmatch(r"[\d.]+ (GiB|MiB|KiB)", doc["Memory"]["available"])
    r = _main("doctor", timeout=300)  # the human-readable form: one "key value" a line
    assert r.returncode == 0 and "TensorFlow:\n  version" in r.stdout, r.stderr[-2000:]


def test_doctor_refuses_unknown_options():
    r = _main("doctor", "--bogus", timeout=60)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: doctor takes only --json, not --bogus"]


# -- Qt's X11 libraries, checked before Qt loads its platform plugin ----------------------
def test_platform_qt_will_pick():
    assert qt_libraries.platform_name({"QT_QPA_PLATFORM": "offscreen"}, "linux") == "offscreen"
    assert qt_libraries.platform_name({"QT_QPA_PLATFORM": "xcb:dpi=96;wayland"}, "linux") == "xcb"
    assert qt_libraries.platform_name({"DISPLAY": ":0"}, "linux") == "xcb"
    assert qt_libraries.platform_name({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "w-0",
                                       "DISPLAY": ":0"}, "linux") == "wayland"
    assert qt_libraries.platform_name({}, "darwin") is None
    assert qt_libraries.problem({"QT_QPA_PLATFORM": "offscreen",
                                 "CONVSCOPE_HIDE_LIBS": "libxcb-cursor.so.0"}) is None


def test_debian_package_names():
    assert qt_libraries.package_for("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert qt_libraries.package_for("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert qt_libraries.package_for("libxcb-render-util.so.0") == "libxcb-render-util0"
    # Debian's rule for the rest: a name ending in a digit takes a hyphen
    assert qt_libraries.package_for("libfoo.so.3") == "libfoo3"
    assert qt_libraries.package_for("libfoo2.so.3.1") == "libfoo2-3"


def test_the_loader_resolution_is_read_from_a_plugin_that_loads():
    # The offscreen plugin runs every window test, so all its libraries are present; hiding
    # one of its real dependencies must name exactly that one.
    plugin = qt_libraries.plugin_path("offscreen")
    assert plugin and qt_libraries.missing_libraries(plugin, {}) == []
    found, _ = qt_libraries._dependencies(plugin)
    assert "libfontconfig.so.1" in found
    assert qt_libraries.missing_libraries(plugin, {"CONVSCOPE_HIDE_LIBS": "libfontconfig.so.1"}) \
        == ["libfontconfig.so.1"]
    assert qt_libraries.missing_libraries(plugin, {"CONVSCOPE_HIDE_LIBS": "libnothere.so.9"}) == []


def _assert_one_line_naming_cursor(r):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "libxcb-cursor0" in lines[0] and "apt-get install" in lines[0], lines
    assert re.search(r"apt-get install [\w .+-]*libxcb-cursor0", lines[0]), lines
    assert "Reinstalling" not in r.stderr and "could not load" not in r.stderr.lower()


def test_window_with_libxcb_cursor_hidden_prints_one_line_and_exits_2():
    r = _main(timeout=120, QT_QPA_PLATFORM="xcb", DISPLAY=":99",
              CONVSCOPE_HIDE_LIBS="libxcb-cursor.so.0")
    _assert_one_line_naming_cursor(r)


def _resolved(soname):
    plugin = qt_libraries.plugin_path("xcb")
    if not plugin or not shutil.which("ldd"):
        return None
    out = subprocess.run(["ldd", plugin], capture_output=True, text=True).stdout
    m = re.search(rf"^\s*{re.escape(soname)}\s+=>\s+(/\S+)", out, re.M)
    return os.path.realpath(m.group(1)) if m else None


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="a private mount namespace needs root and unshare")
def test_window_with_libxcb_cursor_bound_over_in_a_mount_namespace():
    """As a machine without Debian's libxcb-cursor0: /dev/null bound over the library in a
    private mount namespace (nothing outside this process tree sees it)."""
    lib = _resolved("libxcb-cursor.so.0")
    if lib is None:
        pytest.skip("libxcb-cursor0 is not installed here (the env-var test covers it)")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -m is not allowed here: {probe.stderr.decode()[-200:]}")
    script = (f"mount --bind /dev/null {lib} && exec {sys.executable} "
              f"{os.path.join(ROOT, 'main.py')}")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=ROOT, capture_output=True,
                       text=True, timeout=120, env=_env(QT_QPA_PLATFORM="xcb", DISPLAY=":99"))
    _assert_one_line_naming_cursor(r)
    assert os.path.getsize(lib) > 0  # the real library was never touched


# -- the desktop entry ---------------------------------------------------------------------
def test_desktop_entry_installs_with_the_command_it_should_run(tmp_path):
    script = os.path.join(ROOT, "packaging", "install-desktop.sh")
    r = subprocess.run(["sh", script, "/opt/convscope/convscope"], capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, XDG_DATA_HOME=str(tmp_path)))
    assert r.returncode == 0, r.stderr
    entry = (tmp_path / "applications" / "convscope.desktop").read_text()
    lines = entry.splitlines()
    assert lines[0] == "[Desktop Entry]" and "Exec=/opt/convscope/convscope %F" in lines
    assert "Icon=convscope" in lines and "Type=Application" in lines
    icon = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "convscope.svg"
    assert icon.read_bytes() == open(os.path.join(ROOT, "packaging", "convscope.svg"), "rb").read()


# -- the base install is the whole app ------------------------------------------------------
OPTIONAL = {"ray": "distributed"}  # imported only by `batch --runner ray`, with a clear error


def test_every_module_the_app_imports_is_a_base_dependency():
    """`pip install .` must carry everything convscope/ imports (figure --recipe FIG.pdf
    needed pypdf, once only in [dev]); the only exception is an extra's own feature."""
    import ast
    from importlib import metadata

    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]

    def names(reqs):
        return {re.split(r"[\s\[<>=!~;]", r, 1)[0].lower().replace("_", "-") for r in reqs}

    base = names(project["dependencies"])
    imported = set()
    for d, _, files in os.walk(os.path.join(ROOT, "convscope")):
        for n in files:
            if n.endswith(".py"):
                tree = ast.parse(open(os.path.join(d, n), encoding="utf-8").read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        imported |= {a.name.split(".")[0] for a in node.names}
                    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                        imported.add(node.module.split(".")[0])
    third_party = sorted(m for m in imported - set(sys.stdlib_module_names) - {"convscope"}
                         if m not in ("__future__",))
    dists = metadata.packages_distributions()
    missing = []
    for module in third_party:
        if module in OPTIONAL:
            assert module in names(project["optional-dependencies"][OPTIONAL[module]]), module
            continue
        provided = {d.lower().replace("_", "-") for d in dists.get(module, [])}
        if not provided & base:
            missing.append(f"{module} (from {sorted(provided) or '?'})")
    assert not missing, missing
