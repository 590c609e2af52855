"""Before Qt loads its platform plugin: are the system libraries of the xcb plugin there?

Qt >= 6.5's xcb plugin (the X11 window system, Qt's default on Linux) links against
libxcb-cursor0 and about a dozen other X libraries a minimal Debian or Ubuntu does not
install. Without one of them Qt prints "Could not load the Qt platform plugin "xcb"" and
aborts the process (exit 134, "Reinstalling the application may fix this problem"), which
tells the user nothing they can act on. `problem()` finds the missing libraries first and
returns the one line to print instead (the caller exits 2).

How: the dynamic loader's own view of the plugin, `ldd libqxcb.so` (it follows the Qt
libraries' RPATHs and every transitive dependency): a library is missing when ldd says
"=> not found" or fails with "error while loading shared libraries: LIB: ..." (a file that
is there but is no library, e.g. /dev/null bound over it). Without ldd, the plugin is
opened with ctypes, which names the first library that fails. Sonames map to Debian
package names through a table (and Debian's naming rule for the rest).

No Qt is imported here (the point is to run before Qt loads anything). For tests,
CONVSCOPE_HIDE_LIBS=libxcb-cursor.so.0[,other.so.N] treats those libraries as missing when
the plugin needs them.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys

HIDE_ENV = "CONVSCOPE_HIDE_LIBS"

# soname -> Debian/Ubuntu package (Debian 12, Ubuntu 22.04/24.04 names)
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libpng16.so.16": "libpng16-16",
}

# The whole set a minimal Debian/Ubuntu needs for the window (README's apt-get line).
WINDOW_PACKAGES = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
                   "libxcb-randr0", "libxcb-render-util0", "libxcb-shape0", "libxcb-sync1",
                   "libxcb-xfixes0", "libxcb-xkb1", "libx11-xcb1", "libxkbcommon-x11-0",
                   "libegl1", "libgl1", "libfontconfig1", "libglib2.0-0", "libdbus-1-3")

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.M)
_LOAD_ERROR = re.compile(r"error while loading shared libraries:\s*(\S+?):")
_CTYPES_ERROR = re.compile(r"(lib[\w.+-]+\.so[\w.]*)\s*:\s*cannot open shared object")


def platform_name(env=None, system: str = sys.platform) -> str | None:
    """The platform plugin Qt will try first: QT_QPA_PLATFORM's first entry, else wayland
    in a Wayland session, else xcb (Qt's default on Linux). None off Linux."""
    env = os.environ if env is None else env
    chosen = (env.get("QT_QPA_PLATFORM") or "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen
    if not system.startswith("linux"):
        return None
    if env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY"):
        return "wayland"
    return "xcb"


def plugin_path(name: str = "xcb") -> str | None:
    """PySide6's platform plugin file (found without importing PySide6), or None."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, "Qt", "plugins", "platforms", f"libq{name}.so")
        if os.path.isfile(path):
            return path
    return None


def package_for(soname: str) -> str:
    """Debian's package of a library: the table, else Debian's rule (libfoo.so.N ->
    libfooN, libfoo2.so.N -> libfoo2-N), lower-case."""
    if soname in PACKAGES:
        return PACKAGES[soname]
    m = re.fullmatch(r"(lib[\w+-]+?)\.so\.(\d+)(?:\.\d+)*", soname)
    if not m:
        return soname
    stem, major = m.group(1).lower(), m.group(2)
    return f"{stem}-{major}" if stem[-1].isdigit() else f"{stem}{major}"


def _dependencies(plugin: str) -> tuple[set[str], list[str]]:
    """(every library the plugin needs that the loader resolved, the ones it could not)."""
    ldd = shutil.which("ldd")
    if ldd:
        try:
            r = subprocess.run([ldd, plugin], capture_output=True, text=True, timeout=20)
            text = r.stdout + "\n" + r.stderr
        except (OSError, subprocess.SubprocessError):
            text = None
        if text is not None:
            missing = _NOT_FOUND.findall(text) + [os.path.basename(p) for p in _LOAD_ERROR.findall(text)]
            found = set(re.findall(r"^\s*(\S+\.so[\w.]*)\s+=>\s+/", text, re.M))
            return found, list(dict.fromkeys(missing))
    import ctypes  # no ldd (a very small image): the loader names the first failure

    try:
        ctypes.CDLL(plugin, mode=os.RTLD_LAZY)
        return set(), []
    except OSError as exc:
        return set(), _CTYPES_ERROR.findall(str(exc))[:1]


def missing_libraries(plugin: str, env=None) -> list[str]:
    """Sonames the plugin needs that cannot be loaded (CONVSCOPE_HIDE_LIBS included)."""
    env = os.environ if env is None else env
    found, missing = _dependencies(plugin)
    hidden = [n.strip() for n in env.get(HIDE_ENV, "").split(",") if n.strip()]
    missing += [n for n in hidden if n in found and n not in missing]
    return missing


def problem(env=None, system: str = sys.platform) -> str | None:
    """The one line to print (without "error: ") when the window cannot start on the
    platform Qt will pick because system libraries are missing; None when all is well or
    the platform is not xcb."""
    if platform_name(env, system) != "xcb":
        return None
    plugin = plugin_path("xcb")
    if plugin is None:
        return None  # not a PySide6 wheel layout: let Qt speak for itself
    missing = missing_libraries(plugin, env)
    if not missing:
        return None
    packages = list(dict.fromkeys(package_for(n) for n in missing))
    return (f"the window cannot start: Qt's X11 (xcb) platform needs system libraries that "
            f"are missing: {', '.join(f'{n} ({p})' for n, p in zip(missing, map(package_for, missing)))}. "
            f"Install them with: sudo apt-get install {' '.join(packages)}  "
            f"(Debian/Ubuntu; the command-line sub-commands work without them)")
