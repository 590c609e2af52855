"""A run folder that survives kill -9: results committed in chunks, resumable, then merged.

Layout of RUN_DIR:
  run.json              the recipe (settings, model and file-list hashes, versions); written
                        first, completed at the end
  chunks/NNNNNN/        one committed chunk: rows.parquet (results) and errors.parquet.
                        A chunk is written under chunks/.tmp-*/ and renamed into place: a
                        rename is atomic, so after a crash a chunk is either whole or absent
                        (leftover .tmp-* folders are removed on resume)
  results.parquet/.csv  every row, one per image x method, in the list's order
  errors.csv            every file that could not be used, with the reason
  summary.csv/.md/.pdf  engine.dataset.summary
  maps/                 saved maps (--save-maps)

A path is done when it appears in a committed chunk (as rows or as an error); a resumed run
skips exactly those, so the merged results hold each image x method once.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UserError

ROW_SCHEMA = pa.schema([
    ("_i", pa.int64()), ("path", pa.string()), ("sha256", pa.string()), ("method", pa.string()),
    ("layer", pa.string()), ("predicted_class", pa.int64()), ("predicted_label", pa.string()),
    ("explained_class", pa.int64()), ("explained_label", pa.string()), ("score", pa.float64()),
    ("logit", pa.float64()), ("deletion_auc", pa.float64()), ("insertion_auc", pa.float64()),
    ("average_drop", pa.float64()), ("increase_in_confidence", pa.float64()),
    ("pointing_game", pa.float64()), ("energy_pointing_game", pa.float64()),
    ("map_file", pa.string()),
    ("deletion_curve", pa.list_(pa.float32())), ("insertion_curve", pa.list_(pa.float32())),
])
ERROR_SCHEMA = pa.schema([("_i", pa.int64()), ("path", pa.string()), ("sha256", pa.string()),
                          ("error", pa.string())])
INTERNAL = ("_i", "deletion_curve", "insertion_curve")  # kept in chunks, not in results.*
RECIPE_KEYS = ("settings", "model", "images")  # what must match for --resume


class RunStore:
    def __init__(self, run_dir: str):
        self.run_dir = os.path.abspath(run_dir)
        self.chunks = os.path.join(self.run_dir, "chunks")
        self.maps_dir = os.path.join(self.run_dir, "maps")
        self._next = 0
        self._made: str | None = None  # what open() created: "folder", "files" or None

    # -- opening ---------------------------------------------------------------------------
    def open(self, recipe: dict, resume: bool) -> set[str]:
        """Create or reopen the run; returns the paths already done. UserError when the
        folder holds another run (or a run without --resume)."""
        path = os.path.join(self.run_dir, "run.json")
        if os.path.exists(self.run_dir) and not os.path.isdir(self.run_dir):
            raise UserError(f"--out {self.run_dir} is a file; give a folder for the run")
        existing = None
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as f:
                    existing = json.load(f)
            except (OSError, ValueError):
                raise UserError(f"{path} is unreadable; give another --out folder") from None
        if existing is not None and not resume:
            raise UserError(f"{self.run_dir} already holds a run; add --resume to finish it, "
                            "or give another --out folder")
        if existing is None and os.path.isdir(self.run_dir) and set(os.listdir(self.run_dir)) - {".lock"}:
            raise UserError(f"{self.run_dir} is not empty and holds no run; give a new or empty --out folder")
        if existing is not None:
            diff = [k for k in RECIPE_KEYS if _comparable(existing.get(k)) != _comparable(recipe.get(k))]
            if diff:
                raise UserError(f"{self.run_dir} was made with different {_describe(existing, recipe, diff)}; "
                                "resume it with the same settings, or give another --out folder")
        if existing is None:
            self._made = "files" if os.path.isdir(self.run_dir) else "folder"
        try:
            os.makedirs(self.chunks, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create {self.run_dir} ({exc.strerror or exc})") from None
        self._lock()
        for name in os.listdir(self.chunks):
            if name.startswith(".tmp-"):
                shutil.rmtree(os.path.join(self.chunks, name), ignore_errors=True)
        if existing is None:
            recipe = dict(recipe, started=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
            self.write_json("run.json", recipe)
        names = self._chunk_names()
        self._next = (int(names[-1]) + 1) if names else 0
        return self.done_paths()

    def _lock(self) -> None:
        """One writer per run folder: an advisory lock held while this store lives (the OS
        drops it when the process dies, kill -9 included)."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return
        self._lock_file = open(os.path.join(self.run_dir, ".lock"), "a")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise UserError(f"another ConvScope run is writing to {self.run_dir}; wait for it "
                            "to finish (or stop it) before resuming") from None

    def discard_if_unused(self) -> None:
        """After a refusal (the cluster unreachable, a setting that cannot work): remove
        what open() created for a NEW run while no chunk was committed, so the same
        command can simply be run again. A resumed run and committed work are kept."""
        if self._made is None or self._chunk_names():
            return
        self.close()
        if self._made == "folder":
            shutil.rmtree(self.run_dir, ignore_errors=True)
        else:  # an empty folder the user gave: empty it again
            for name in ("chunks", "maps", "run.json", ".lock"):
                p = os.path.join(self.run_dir, name)
                shutil.rmtree(p, ignore_errors=True) if os.path.isdir(p) else _unlink(p)
        self._made = None

    def close(self) -> None:
        lock = getattr(self, "_lock_file", None)
        if lock is not None:
            lock.close()
            self._lock_file = None

    def _chunk_names(self) -> list[str]:
        if not os.path.isdir(self.chunks):
            return []
        return sorted(n for n in os.listdir(self.chunks) if n.isdigit())

    def done_paths(self) -> set[str]:
        done: set[str] = set()
        for name in self._chunk_names():
            for f in ("rows.parquet", "errors.parquet"):
                t = self._read_chunk(name, f, columns=["path"])
                done.update(t.column("path").to_pylist())
        return done

    def _read_chunk(self, name: str, f: str, **kw) -> pa.Table:
        """One file of a committed chunk; UserError (one line) when it is missing or damaged
        (chunks are renamed into place whole, so only something outside ConvScope can have
        truncated or emptied one)."""
        path = os.path.join(self.chunks, name, f)
        try:
            return pq.read_table(path, **kw)
        except (OSError, pa.ArrowException) as exc:
            why = "is missing" if not os.path.exists(path) else f"is damaged ({str(exc).splitlines()[0][:120]})"
            raise UserError(f"{path} {why}; delete the folder {os.path.join(self.chunks, name)} and "
                            "run again with --resume to compute its images again") from None

    # -- committing ------------------------------------------------------------------------
    def commit(self, rows: list[dict], errors: list[dict]) -> None:
        """Write one chunk atomically (both files, then one rename)."""
        if not rows and not errors:
            return
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=self.chunks)
        pq.write_table(_table(rows, ROW_SCHEMA), os.path.join(tmp, "rows.parquet"))
        pq.write_table(_table(errors, ERROR_SCHEMA), os.path.join(tmp, "errors.parquet"))
        for f in ("rows.parquet", "errors.parquet"):
            fd = os.open(os.path.join(tmp, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(tmp, 0o755)
        os.rename(tmp, os.path.join(self.chunks, f"{self._next:06d}"))
        self._next += 1

    # -- reading ---------------------------------------------------------------------------
    def read(self, what: str = "rows") -> pa.Table:
        """Every committed row (or error), ordered by the item's position (then method)."""
        schema = ROW_SCHEMA if what == "rows" else ERROR_SCHEMA
        tables = [self._read_chunk(n, f"{what}.parquet", schema=schema) for n in self._chunk_names()]
        if not tables:
            return schema.empty_table()
        return pa.concat_tables(tables)

    def write_json(self, name: str, data: dict) -> None:
        from ..outputs import write_file

        def write(tmp):
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, sort_keys=True)
                f.write("\n")

        write_file(os.path.join(self.run_dir, name), write)

    def read_json(self, name: str = "run.json") -> dict:
        with open(os.path.join(self.run_dir, name), encoding="utf-8") as f:
            return json.load(f)


def _unlink(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _table(records: list[dict], schema: pa.Schema) -> pa.Table:
    cols = {f.name: [r.get(f.name) for r in records] for f in schema}
    return pa.table(cols, schema=schema)


def _comparable(v):
    return json.loads(json.dumps(v, sort_keys=True)) if v is not None else None


def _describe(old: dict, new: dict, keys: list[str]) -> str:
    parts = []
    for k in keys:
        a, b = old.get(k) or {}, new.get(k) or {}
        if isinstance(a, dict) and isinstance(b, dict):
            sub = [s for s in sorted(set(a) | set(b)) if a.get(s) != b.get(s)]
            parts += [f"{k}.{s} ({a.get(s)!r} then, {b.get(s)!r} now)" for s in sub[:3]]
        else:
            parts.append(k)
    return ", ".join(parts) or "settings"
