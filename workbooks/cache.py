"""An embedded cache of read workbooks, keyed by file content, and of files' hashes by path.

Re-running ``thidua consolidate`` after one more email arrives re-reads only the new file.
The key is the file's SHA-256 plus a fingerprint of everything that can change what the
reader returns (the plan, the roster, the reader's version, the fields of its results and
the limits), so a cached entry can never change a result: a different plan or a newer
reader simply misses.

Hashing every file again on each run would cost more than the rest of a re-run, so the
hashes are remembered too (:class:`FileHashes`): by absolute path, trusted only while the
file's size, modification and change times and inode are those seen when it was hashed,
and only when it had not been modified in the two seconds before it was seen (a change
within the same tick of a coarse file-system clock, FAT's 2 s, would keep its time).

Storage is one SQLite file (stdlib ``sqlite3``) in the user's cache folder
(``THIDUA_CACHE_DIR``, else ``%LOCALAPPDATA%\\thidua`` on Windows, else
``~/.cache/thidua``). Entries are pickles of the reader's own dataclasses (:func:`encode`,
done by the worker that read the file): the cache is private to the user who wrote it.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import os
import pickle
import sqlite3
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

READER_VERSION = "1"
# A file modified this shortly before it was seen may change again within the same tick of
# its file system's clock (FAT: 2 s) without its time changing: its hash is not kept.
_RACY_NS = 2_000_000_000
_CHUNK = 500  # SQLite's limit on bound parameters is 999 in old builds


def default_dir() -> Path:
    if os.environ.get("THIDUA_CACHE_DIR"):
        return Path(os.environ["THIDUA_CACHE_DIR"])
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "thidua" / "cache"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "thidua"


def fingerprint(*parts: object) -> str:
    """A short hash of the things a cached read depends on (and of the entries' shape)."""
    h = hashlib.sha256(READER_VERSION.encode())
    h.update(_shape().encode())
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def _shape() -> str:
    """The field names of the cached dataclasses: an entry of an older shape must miss."""
    from logic.findings import Finding

    from .reader import SheetReport, WorkbookRead

    return ";".join(
        f"{cls.__name__}:{','.join(f.name for f in dataclasses.fields(cls))}"
        for cls in (WorkbookRead, SheetReport, Finding)
    )


def encode(entry: object) -> bytes:
    """An entry as stored (a pickle, protocol 5)."""
    return pickle.dumps(entry, protocol=5)


def decode(blob: bytes) -> object:
    return pickle.loads(blob)


def decode_many(
    blobs: Iterable[tuple[str, bytes]], each: Callable[[Any], object] | None = None
) -> dict[str, object]:
    """``{sha: entry}`` from stored ``(sha, blob)`` pairs; a damaged entry is left out.

    ``each`` is applied to every entry as it is decoded (and its result kept).
    """
    out: dict[str, object] = {}
    # Unpickling creates many small objects and no cycles: the cyclic collector would
    # only rescan the growing heap again and again (a quarter of the time at 10,000).
    enabled = gc.isenabled()
    gc.disable()
    try:
        for sha, blob in blobs:
            try:
                entry = decode(blob)
            except Exception:  # a stale or damaged entry is simply a miss
                continue
            out[sha] = entry if each is None else each(entry)
    finally:
        if enabled:
            gc.enable()
    return out


class Cache:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    @classmethod
    def open(cls, folder: Path | None = None) -> Cache:
        folder = Path(folder) if folder else default_dir()
        folder.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(folder / "reads.sqlite3", timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        # A cache: losing the last entries to a power cut is fine, one disk sync per commit
        # is not (WAL keeps the file consistent either way).
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS reads (sha TEXT, fp TEXT, blob BLOB, PRIMARY KEY (sha, fp))"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER,"
            " mtime_ns INTEGER, ctime_ns INTEGER, ino INTEGER, sha TEXT, seen_ns INTEGER)"
        )
        return cls(conn)

    def get_many(
        self, shas: list[str], fp: str, each: Callable[[Any], object] | None = None
    ) -> dict[str, object]:
        """The cached entries among ``shas`` (a damaged entry is a miss); ``each`` as in
        :func:`decode_many`."""
        return decode_many(self.blobs(shas, fp), each)

    def blobs(self, shas: list[str], fp: str) -> list[tuple[str, bytes]]:
        """The stored ``(sha, blob)`` among ``shas``, not yet decoded (:func:`decode_many`)."""
        out: list[tuple[str, bytes]] = []
        for i in range(0, len(shas), _CHUNK):
            chunk = shas[i : i + _CHUNK]
            q = f"SELECT sha, blob FROM reads WHERE fp = ? AND sha IN ({','.join('?' * len(chunk))})"
            out.extend(self.conn.execute(q, [fp, *chunk]))
        return out

    def shas(self, fp: str) -> frozenset[str]:
        """Every content hash with an entry under ``fp``."""
        return frozenset(
            sha for (sha,) in self.conn.execute("SELECT sha FROM reads WHERE fp = ?", [fp])
        )

    def put_many(self, items: list[tuple[str, bytes]], fp: str) -> None:
        """Store ``(sha, blob)`` pairs, the blobs made by :func:`encode`."""
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO reads VALUES (?, ?, ?)",
                [(sha, fp, blob) for sha, blob in items],
            )

    def file_hashes(self, inputs: Iterable[str | os.PathLike]) -> FileHashes:
        """The remembered hashes of files under ``inputs`` (paths of files or folders)."""
        rows = {row[0]: row[1:] for row in self._files_under(inputs, "*", "")}
        return FileHashes(self, rows)

    def knows_files_under(self, inputs: Iterable[str | os.PathLike]) -> bool:
        """Whether a hash is remembered for any file under ``inputs``: a re-run."""
        return bool(self._files_under(inputs, "1", " LIMIT 1"))

    def _files_under(self, inputs: Iterable[str | os.PathLike], what: str, limit: str) -> list:
        roots = [os.path.abspath(os.fspath(p)) for p in inputs]
        if not roots:
            return []
        # Every path under any input starts with the inputs' common folder (that of the
        # smallest and the largest path is every one's): one range on the key.
        try:
            prefix = os.path.commonpath([min(roots), max(roots)])
        except ValueError:  # different drives
            prefix = ""
        q = f"SELECT {what} FROM files WHERE path >= ? AND path < ?{limit}"
        try:
            return self.conn.execute(q, [prefix, prefix + "\U0010ffff"]).fetchall()
        except UnicodeEncodeError:  # a name undecodable on this system: none kept
            return []

    def close(self) -> None:
        self.conn.close()


def seen_before(inputs: Iterable[str | os.PathLike], folder: Path | None = None) -> bool:
    """Whether the cache in ``folder`` (default :func:`default_dir`) remembers files under
    ``inputs``: this run is a re-run. False when there is no cache; never raises."""
    if not ((Path(folder) if folder else default_dir()) / "reads.sqlite3").exists():
        return False
    try:
        cache = Cache.open(folder)
    except (OSError, sqlite3.Error):
        return False
    try:
        return cache.knows_files_under(inputs)
    except sqlite3.Error:
        return False
    finally:
        cache.close()


class FileHashes:
    """SHA-256 of files by absolute path, valid while the file's stat says it is unchanged.

    ``lookup`` at collection time; ``remember`` each hash computed this run together with
    the stat taken before its bytes were read, then ``save`` once.
    """

    def __init__(self, cache: Cache, rows: dict[str, tuple]):
        self.cache = cache
        self.rows = rows
        self.new: list[tuple] = []
        self._folders: dict[str, str] = {}  # folder as named → its absolute path

    def _key(self, path: str) -> str:
        """``os.path.abspath(path)``, the folder's part computed once per folder."""
        folder, sep, name = path.rpartition(os.sep)
        odd = name in ("", ".", "..") or path.startswith(os.sep * 2)  # "//x" stays "//x"
        if not sep or odd or (os.altsep and os.altsep in name):
            return os.path.abspath(path)
        absolute = self._folders.get(folder)
        if absolute is None:
            absolute = self._folders[folder] = os.path.join(os.path.abspath(folder or os.sep), "")
        return absolute + name

    def lookup(self, path: str, st: os.stat_result) -> str | None:
        row = self.rows.get(self._key(path))
        if row is None:
            return None
        size, mtime_ns, ctime_ns, ino, sha, seen_ns = row
        same = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) == (
            size,
            mtime_ns,
            ctime_ns,
            ino,
        )
        return sha if same and mtime_ns + _RACY_NS <= seen_ns else None

    def remember(self, path: str, st: os.stat_result, sha: str, seen_ns: int) -> None:
        """``seen_ns``: wall-clock time (``time.time_ns()``) before ``st`` was taken."""
        if st.st_mtime_ns + _RACY_NS > seen_ns:
            return  # modified just before it was seen: could change again unnoticed
        key = self._key(path)
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes in the name: SQLite cannot hold it
            return
        self.new.append(
            (
                key,
                st.st_size,
                st.st_mtime_ns,
                st.st_ctime_ns,
                st.st_ino,
                sha,
                seen_ns,
            )
        )

    def save(self) -> None:
        if not self.new:
            return
        with self.cache.conn:
            self.cache.conn.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", self.new
            )
        self.new.clear()
