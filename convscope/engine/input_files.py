"""Refusing input paths that are not regular files, before anything opens them.

Opening a FIFO (named pipe) with no writer blocks forever, and reading a character device
(/dev/zero, /dev/urandom) never ends: both must be refused from `os.stat`, which never
blocks, before a decoder or a model loader gets the path.
"""
from __future__ import annotations

import os
import stat

from .errors import UserError


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def regular_file(path, what: str = "file") -> str:
    """`path` as a str if it names a readable regular file; UserError saying what it is."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UserError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"{path} is a folder, not {_article(what)}")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{path} is {_kind(st.st_mode)}, not {_article(what)}; "
                        "give a regular file")
    if not os.access(path, os.R_OK):
        raise UserError(f"cannot read {path}: permission denied")
    return path


def _article(what: str) -> str:
    noun = what.replace(" file", "") + " file" if not what.endswith("file") else what
    return ("an " if noun[:1] in "aeiou" else "a ") + noun
