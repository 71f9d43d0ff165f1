"""Read many workbooks in isolated worker processes, with the content-keyed cache.

Workers get a small context once, through a file (the plan, the roster, and which contents
the cache already holds), so an item is a path and a few names; items travel in batches
(:func:`workbooks.isolate.map_isolated`). Plain files are read by the worker from their
path; attachments travel as bytes. Encrypted files are decrypted in the worker when a
password is known (``--password``/``--passwords``).

A worker hashes the bytes it reads, so the parent never reads a plain file: a source
collected without its ``sha256`` gets it from the worker. When that hash is already in the
cache, the worker stops there and the parent takes the cached read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

from logic.findings import finding
from logic.plan import Plan
from logic.roster import Roster

from .cache import Cache, decode, decode_many, encode, fingerprint
from .intake import Source
from .isolate import map_isolated
from .isolate import warm_up as _warm_up
from .precheck import decrypt, precheck
from .reader import SharedLayouts, WorkbookRead, read_workbook
from .settings import get_settings

# Progress is shown at most this often: a batch's results arrive together.
_PROGRESS_EVERY_S = 0.1


@dataclass(frozen=True)
class _Context:
    """What every worker needs, sent once: a file holding the plan, the roster and the
    content hashes already cached.

    Items carry only this file's path; a worker loads it once and keeps it (pickling a
    national roster with every item cost more than reading the workbook)."""

    path: str


def warm_up() -> None:
    """Start what the reading workers come from, in the background (returns at once)."""
    _warm_up(_read_item)


def read_many(
    sources: list[Source],
    plan: Plan,
    roster: Roster,
    *,
    store: Cache | None,
    workers: int | None,
    passwords: dict[str, str],
    progress: Callable[[int, int], None] | None,
) -> tuple[list[WorkbookRead], int]:
    """One ``WorkbookRead`` per source, in order, and how many were read afresh.

    A dead or overrunning read is a finding. Every source has its ``sha256`` afterwards
    (filled in from the worker, or hashed here when the worker died on the file).
    """
    settings = get_settings()
    plan_json = json.dumps(plan.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
    ref = plan.roster if roster.name == plan.roster else None
    fp = fingerprint(plan_json, ref or roster.to_rows(), settings.model_dump(), sorted(passwords))
    results: list[WorkbookRead | None] = [None] * len(sources)
    known = store.shas(fp) if store is not None else frozenset()
    cached = [i for i, s in enumerate(sources) if s.sha256 is not None and s.sha256 in known]
    todo = [i for i, s in enumerate(sources) if s.sha256 is None or s.sha256 not in known]

    def take(entries: dict[str, object]) -> None:
        for i in cached:
            results[i] = entries.get(sources[i].sha256)  # type: ignore[arg-type,assignment]

    if store is not None and cached and not todo:
        take(store.get_many([sources[i].sha256 for i in cached], fp, SharedLayouts().share))
        todo = [i for i in cached if results[i] is None]  # damaged entries: read again
        cached = []
    fresh = 0
    if todo:
        warm_up()
        # The cached reads are unpickled in a thread while this one starts the workers
        # (waiting for the fork server) and takes their results: a re-run after a few
        # new reports hides the workers' start behind the unpickling.
        taking = None
        if store is not None and cached:
            taking = _Taking(store.blobs([sources[i].sha256 for i in cached], fp))  # type: ignore[misc]
        try:
            with tempfile.TemporaryDirectory(prefix="thidua-") as tmp:
                ctx = _Context(str(Path(tmp) / "context.pickle"))
                Path(ctx.path).write_bytes(pickle.dumps((plan, roster, known), protocol=5))
                run = _Run(sources, results, fp, store, progress, len(sources) - len(todo))
                fresh = run.read(ctx, todo, workers, passwords)
                if taking is not None:
                    take(taking.result())
                    taking = None
                again = [i for i in cached if results[i] is None]  # damaged entries
                # A hash the worker found cached: take the entry (a damaged one is read again).
                if run.hashed_only and store is not None:
                    shas = [sources[i].sha256 for i in run.hashed_only]
                    hits = store.get_many(shas, fp, run.layouts.share)  # type: ignore[arg-type]
                    for i in run.hashed_only:
                        results[i] = hits.get(sources[i].sha256)  # type: ignore[arg-type]
                        if results[i] is None:
                            again.append(i)
                if again:
                    Path(ctx.path).write_bytes(pickle.dumps((plan, roster, frozenset())))
                    fresh += run.read(ctx, again, workers, passwords)
        finally:
            if taking is not None:
                taking.thread.join()
    elif progress and sources:
        progress(len(sources), len(sources))
    for s in sources:
        if s.sha256 is None:  # the worker died on it before hashing: the record needs it
            s.sha256 = _hash_of(s)
    return results, fresh  # type: ignore[return-value]


class _Taking:
    """Cached entries decoded in a background thread (:func:`workbooks.cache.decode_many`)."""

    def __init__(self, blobs: list[tuple[str, bytes]]):
        self.entries: dict[str, object] = {}
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(blobs,), daemon=True)
        self.thread.start()

    def _run(self, blobs: list[tuple[str, bytes]]) -> None:
        try:
            self.entries = decode_many(blobs, SharedLayouts().share)
        except BaseException as exc:  # MemoryError, say: raised again in the caller's thread
            self.error = exc

    def result(self) -> dict[str, object]:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.entries


def _hash_of(s: Source) -> str | None:
    try:
        return hashlib.sha256(s.read_bytes()).hexdigest()
    except OSError:
        return None  # unreadable: the read says so


class _Run:
    """Reading the sources that need it; results are stored as they arrive."""

    def __init__(self, sources, results, fp, store, progress, done):
        self.sources: list[Source] = sources
        self.results: list[WorkbookRead | None] = results
        self.fp = fp
        self.store: Cache | None = store
        self.progress = progress
        self.done = done
        self.hashed_only: list[int] = []
        self.layouts = SharedLayouts()

    def read(self, ctx: _Context, todo: list[int], workers: int | None, passwords) -> int:
        settings = get_settings()
        sources = self.sources
        items = [
            (
                ctx,
                sources[i].path if sources[i].data is None else None,
                sources[i].data,
                _name(sources[i]),
                _password_for(sources[i], passwords),
                sources[i].sha256 is None,
            )
            for i in todo
        ]
        fresh: list[tuple[str, bytes]] = []
        count = 0
        shown = time.monotonic()
        if self.progress:
            self.progress(self.done, len(sources))
        for k, res in map_isolated(
            _read_item,
            items,
            workers=workers,
            timeout_s=settings.parse_timeout_s,
            memory_mb=settings.parse_memory_mb,
        ):
            i = todo[k]
            if res.ok:
                sha, blob = res.value
                if sha is not None:
                    sources[i].sha256 = sha
                if blob is None:
                    self.hashed_only.append(i)
                else:
                    read = self.layouts.share(decode(blob))  # type: ignore[arg-type]
                    self.results[i] = read
                    count += 1
                    # A refusal for want of the right password is not cached: the key holds
                    # the passwords' names, not the passwords, so the right one given later
                    # would hit it.
                    if read.kind != "encrypted" and sources[i].sha256:  # type: ignore[attr-defined]
                        fresh.append((sources[i].sha256, blob))  # type: ignore[arg-type]
            else:
                count += 1
                self.results[i] = WorkbookRead(
                    kind="unknown",
                    sheets=[],
                    findings=list(res.findings),
                    ignored_sheets=[],
                    plan_id=None,
                )
            self.done += 1
            now = time.monotonic()
            if self.progress and (now - shown >= _PROGRESS_EVERY_S or self.done == len(sources)):
                self.progress(self.done, len(sources))
                shown = now
            if self.store is not None and len(fresh) >= 500:
                self.store.put_many(fresh, self.fp)
                fresh.clear()
        if self.store is not None and fresh:
            self.store.put_many(fresh, self.fp)
        return count


def _name(s: Source) -> str:
    return s.member or os.path.basename(s.path)


def _password_for(s: Source, passwords: dict[str, str]) -> tuple[str, ...]:
    if not passwords:
        return ()
    # NFC both sides: a file from a Mac keeps its NFD name on disk; people type NFC
    names = {_nfc(n) for n in (_name(s), s.path, PurePath(s.path).name)}
    own = [
        pw
        for key, pw in passwords.items()
        if key not in ("*",) and not key.startswith("*") and _nfc(key) in names
    ]
    general = [pw for key, pw in passwords.items() if key.startswith("*")]
    return tuple(dict.fromkeys(own + general))


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@functools.lru_cache(maxsize=2)
def _context(path: str) -> tuple[Plan, Roster, frozenset[str]]:
    return pickle.loads(Path(path).read_bytes())


def _read_item(item) -> tuple[str | None, bytes | None]:
    """Worker side: bytes (or path) → hash → pre-check → decrypt if possible → read.

    Returns ``(sha256, entry)``: the hash when asked for, and the read as a cache entry
    (:func:`workbooks.cache.encode`), or None when the hash is one the cache already holds.
    """
    ctx, path, data, name, passwords, want_sha = item
    plan, roster, known = _context(ctx.path)
    sha = None
    try:
        if data is None:
            limit = get_settings().max_file_bytes
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
                if want_sha:
                    digest = hashlib.sha256(data)
                    if len(data) > limit:  # refused as too large, but its hash is the file's
                        for chunk in iter(lambda: fh.read(1 << 20), b""):
                            digest.update(chunk)
                    sha = digest.hexdigest()
    except OSError as e:
        found = finding("file_unreadable", why=str(e))
        return None, encode(_refused("unknown", found))
    if sha is not None and sha in known:
        return sha, None
    if passwords and precheck(data, name).kind == "encrypted":
        opened = None
        for pw in passwords:
            dec = decrypt(data, pw, name=name)
            if dec.ok:
                opened = dec.data
                break
        if opened is None:
            return sha, encode(_refused("encrypted", finding("file_bad_password")))
        data = opened
    return sha, encode(read_workbook(data, name=name, plan=plan, roster=roster))


def _refused(kind: str, found) -> WorkbookRead:
    return WorkbookRead(kind=kind, sheets=[], ignored_sheets=[], plan_id=None, findings=[found])
