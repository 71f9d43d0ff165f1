"""An embedded cache of read workbooks, keyed by file content.

Re-running ``thidua consolidate`` after one more email arrives re-reads only the new file.
The key is the file's SHA-256 plus a fingerprint of everything that can change what the
reader returns (the plan, the roster, the reader's version and the limits), so a cached
entry can never change a result: a different plan or a newer reader simply misses.

Storage is one SQLite file (stdlib ``sqlite3``) in the user's cache folder
(``THIDUA_CACHE_DIR``, else ``%LOCALAPPDATA%\\thidua`` on Windows, else
``~/.cache/thidua``). Entries are pickles of the reader's own dataclasses: the cache is
private to the user who wrote it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sqlite3
import sys
from pathlib import Path

READER_VERSION = "1"


def default_dir() -> Path:
    if os.environ.get("THIDUA_CACHE_DIR"):
        return Path(os.environ["THIDUA_CACHE_DIR"])
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "thidua" / "cache"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "thidua"


def fingerprint(*parts: object) -> str:
    """A short hash of the things a cached read depends on."""
    h = hashlib.sha256(READER_VERSION.encode())
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


class Cache:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    @classmethod
    def open(cls, folder: Path | None = None) -> Cache:
        folder = Path(folder) if folder else default_dir()
        folder.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(folder / "reads.sqlite3", timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS reads (sha TEXT, fp TEXT, blob BLOB, PRIMARY KEY (sha, fp))"
        )
        return cls(conn)

    def get_many(self, shas: list[str], fp: str) -> dict[str, object]:
        out: dict[str, object] = {}
        for i in range(0, len(shas), 500):
            chunk = shas[i : i + 500]
            q = f"SELECT sha, blob FROM reads WHERE fp = ? AND sha IN ({','.join('?' * len(chunk))})"
            for sha, blob in self.conn.execute(q, [fp, *chunk]):
                try:
                    out[sha] = pickle.loads(blob)
                except Exception:  # a stale or damaged entry is simply a miss
                    continue
        return out

    def put_many(self, items: list[tuple[str, object]], fp: str) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO reads VALUES (?, ?, ?)",
                [(sha, fp, pickle.dumps(obj, protocol=5)) for sha, obj in items],
            )

    def close(self) -> None:
        self.conn.close()
