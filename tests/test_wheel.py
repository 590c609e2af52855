"""The wheel as a user installs it (issue 22): built from the checkout's files, installed
into a fresh virtual environment, run from another directory with the checkout nowhere on
the path. Marked slow (about a minute); CI runs it.

To keep CI short the venv sees the CI's own site-packages (--system-site-packages: the
dependencies, TensorFlow above all, are not installed twice) and the wheel goes in with
--no-deps. That same site-packages holds the developer's editable install of the checkout,
so every run here asserts that `convscope` is imported from the venv, never the checkout.
`pip install .` with its dependencies into an empty venv is measured once by hand (README).
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _sources(dest):
    """The checkout's tracked files (what a clone holds): no build/, no caches, no egg-info
    that could leak stale modules into the wheel."""
    try:
        names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                               check=True).stdout.decode().split("\0")
        names = [n for n in names if n and os.path.isfile(os.path.join(ROOT, n))]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: the tree
        names = []
        for d, dirs, files in os.walk(ROOT):
            dirs[:] = [x for x in dirs if x not in (".git", "build", "dist", "__pycache__",
                                                    ".hypothesis", ".pytest_cache")
                       and not x.endswith(".egg-info")]
            names += [os.path.relpath(os.path.join(d, f), ROOT) for f in files]
    for n in names:
        os.makedirs(os.path.join(dest, os.path.dirname(n)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, n), os.path.join(dest, n))
    return names


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")}
    env.update(PYTHONNOUSERSITE="1", QT_QPA_PLATFORM="offscreen", **extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("wheel")
    src, dist, venv, elsewhere = (base / n for n in ("src", "dist", "venv", "elsewhere"))
    names = _sources(src)
    elsewhere.mkdir()
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                        "--no-build-isolation", "-w", str(dist), "-q"],
                       capture_output=True, text=True, timeout=600, env=_clean_env())
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    (wheel,) = dist.glob("convscope-*.whl")
    r = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                        str(venv)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    py = str(venv / "bin" / "python")
    # the CI's pip, run by the venv's interpreter, installs into the venv
    r = subprocess.run([py, "-m", "pip", "install", "--no-deps", "--no-index",
                        "--ignore-installed", "-q", str(wheel)],
                       capture_output=True, text=True, timeout=600, env=_clean_env(),
                       cwd=str(elsewhere))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return {"wheel": wheel, "venv": venv, "py": py, "bin": str(venv / "bin" / "convscope"),
            "cwd": str(elsewhere), "names": names}


def _run(inst, *args, timeout=600):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                          cwd=inst["cwd"], env=_clean_env())


def _site(inst):
    r = _run(inst, inst["py"], "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    return r.stdout.strip()


def test_the_wheel_holds_one_package_and_every_resource(installed):
    with zipfile.ZipFile(installed["wheel"]) as z:
        names = z.namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"convscope", os.path.basename(str(installed["wheel"])).split("-py3")[0]
                    + ".dist-info"}, tops
    for generic in ("main.py", "engine", "gui", "resources", "tests", "scripts"):
        assert generic not in tops
    wanted = {n for n in installed["names"] if n.startswith("convscope/")
              and not n.endswith(".pyc")}
    assert wanted <= set(names), sorted(wanted - set(names))
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    with zipfile.ZipFile(installed["wheel"]) as z:
        meta = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "convscope = convscope.cli_entry:main" in meta


def test_the_venv_imports_convscope_from_the_venv_not_the_checkout(installed):
    code = ("import json, sys, convscope, convscope.engine, convscope.gui.app; "
            "from convscope import resources; "
            "print(json.dumps({'file': convscope.__file__, 'engine': convscope.engine.__file__, "
            "'version': convscope.__version__, 'listing': resources.listing(), "
            "'files': [resources.files().joinpath(*n.split('/')).is_file() "
            "for n in resources.listing()], 'path': sys.path}))")
    r = _run(installed, installed["py"], "-c", code)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    site = _site(installed)
    assert site.startswith(str(installed["venv"]))
    for key in ("file", "engine"):
        assert doc[key].startswith(site + os.sep), (doc[key], site)
        assert not doc[key].startswith(ROOT + os.sep)
    data = sorted(n[len("convscope/resources/"):] for n in installed["names"]
                  if n.startswith("convscope/resources/") and not n.endswith(".py"))
    assert doc["listing"] == data and all(doc["files"])  # importlib.resources finds them all
    assert not any(os.path.exists(os.path.join(site, g)) for g in ("main.py", "engine", "gui"))
    import convscope

    assert doc["version"] == convscope.__version__


def test_the_installed_command_predicts_and_makes_a_figure_on_the_demo(installed, tmp_path):
    site = _site(installed)
    star = os.path.join(site, "convscope", "resources", "samples", "demo_star.png")
    assert os.path.isfile(star)
    r = _run(installed, installed["bin"], "--version")
    assert r.returncode == 0 and r.stdout.strip().startswith("convscope "), r.stderr[-2000:]
    r = _run(installed, installed["bin"], "predict", "--model", "demo", "--image", star,
             "--json", "--top", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    assert doc["predictions"][0]["label"] == "star", doc  # the bundled model and labels
    assert doc["predictions"][0]["score"] > 0.5
    out = tmp_path / "fig.png"
    r = _run(installed, installed["bin"], "figure", "--model", "demo", "--image", star,
             "--kind", "cam", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 1000
    r = _run(installed, installed["py"], "-m", "convscope", "info", "--model", "demo", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads(r.stdout)
    assert info["convscope_version"] == r_version(installed)


def r_version(inst):
    r = _run(inst, inst["py"], "-c", "import convscope; print(convscope.__version__)")
    return r.stdout.strip()
