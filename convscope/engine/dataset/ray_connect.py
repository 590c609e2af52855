"""Starting or reaching Ray for `batch --runner ray`: one line on failure, no Ray chatter.

- Ray's core (C++) writes its warnings straight to file descriptor 2 ("Failed to get
  cluster ID from GCS server ..." once a second while it retries, "Set ray log level ...").
  A CLI error must be one line, so stderr is captured at the descriptor level while
  ray.init runs; what it said is read only to name the failure.
- Token authentication (Ray >= 2.5x): `ray start --head` turns it on whenever a token
  exists (~/.ray/auth_token, written by any earlier local `ray.init()`, or RAY_AUTH_TOKEN /
  RAY_AUTH_TOKEN_PATH), but `ray.init(address=...)` with an explicit address never turns it
  on by itself, so every attempt is refused with `InvalidAuthToken`. We do what Ray's own
  CLI does (`maybe_enable_token_auth_if_token_available`): when RAY_AUTH_MODE is unset and
  a token is available, RAY_AUTH_MODE=token (a cluster without authentication accepts a
  client that sends a token). When none is available and the cluster refuses us, the error
  says what to set.
"""
from __future__ import annotations

import contextlib
import os
import tempfile

from ..errors import UserError

AUTH_HELP = ("the Ray cluster at {address} requires token authentication and {what}: set "
             "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN to the cluster's token (`ray "
             "get-auth-token` on its head node prints it), or put it in ~/.ray/auth_token")


def token_available() -> bool:
    """A token Ray would send: RAY_AUTH_TOKEN, the file at RAY_AUTH_TOKEN_PATH, or
    ~/.ray/auth_token (Ray's default place)."""
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.join(
        os.path.expanduser("~"), ".ray", "auth_token")
    try:
        return os.path.isfile(path) and os.path.getsize(path) > 0
    except OSError:
        return False


def _enable_token_auth() -> None:
    """RAY_AUTH_MODE=token for this process and its children. Ray read its configuration
    when it was imported, so it must be told to read it again (what Ray's own
    _enable_token_auth does; its private home is used when present)."""
    os.environ["RAY_AUTH_MODE"] = "token"
    try:
        from ray._private.authentication.authentication_token_setup import _enable_token_auth as ray_enable

        ray_enable()
    except (ImportError, AttributeError):
        try:
            from ray._raylet import Config

            Config.initialize("")
        except (ImportError, AttributeError):  # an older Ray: read at init
            pass


@contextlib.contextmanager
def captured_stderr():
    """Everything written to file descriptor 2 inside the block (Python's and native
    code's) goes to a temp file; box["text"] holds it after the block."""
    import sys

    box = {"text": ""}
    sink = tempfile.TemporaryFile()
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(sink.fileno(), 2)
    try:
        yield box
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)
        os.close(saved)
        sink.seek(0)
        box["text"] = sink.read().decode(errors="replace")
        sink.close()


def host_port(address: str | None) -> tuple[str, int] | None:
    """(host, port) of `HOST:PORT` or `ray://HOST:PORT`; None for auto, local, or others."""
    if not address:
        return None
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rstrip("/").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return None
    return host.strip("[]"), int(port)


def check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """A TCP connection to the cluster's port, before ray.init: Ray itself retries an
    address nobody listens on for minutes. UserError (one line) when it fails."""
    import socket

    hp = host_port(address)
    if hp is None:
        return
    try:
        with socket.create_connection(hp, timeout=timeout):
            pass
    except OSError as exc:
        why = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or str(exc))
        raise UserError(f"cannot start or reach the Ray cluster at {address} ({why}: is "
                        "`ray start --head` running there, on that port?)") from None


def connect(ray, address: str | None) -> None:
    """ray.init for `batch` (a local instance, or the cluster at `address`); UserError,
    one line, when it cannot."""
    check_reachable(address)
    if address and "RAY_AUTH_MODE" not in os.environ and token_available():
        _enable_token_auth()  # as `ray start` does when a token exists
    where = f"the Ray cluster at {address}" if address else "a local Ray instance"
    failure = None
    with captured_stderr() as said:
        try:
            ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                     logging_level="ERROR")
        except Exception as exc:  # ConnectionError, RuntimeError, AuthenticationError, ...
            failure = exc
    if failure is None:
        return
    text = f"{said['text']}\n{type(failure).__name__}: {failure}"
    if "InvalidAuthToken" in text or "Unauthenticated" in text or "AuthenticationError" in text:
        mode = os.environ.get("RAY_AUTH_MODE", "")
        what = ("refused the token given" if mode == "token" and token_available()
                else "no token was given")
        raise UserError(AUTH_HELP.format(address=address, what=what)) from None
    first = (str(failure).strip().splitlines() or [type(failure).__name__])[0][:200]
    raise UserError(f"cannot start or reach {where} ({first})") from None
