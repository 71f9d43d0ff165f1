"""Read many workbooks in isolated worker processes, with the content-keyed cache.

Workers get a small context (the plan as JSON and the roster's reference) and cache the
loaded plan and roster themselves, so each item costs one pipe round trip. Plain files are
read by the worker from their path; attachments travel as bytes. Encrypted files are
decrypted in the worker when a password is known (``--password``/``--passwords``).
"""

from __future__ import annotations

import functools
import json
import pickle
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

from logic.findings import finding
from logic.plan import Plan
from logic.roster import Roster

from .cache import Cache, fingerprint
from .intake import Source
from .isolate import map_isolated
from .precheck import decrypt, precheck
from .reader import WorkbookRead, read_workbook
from .settings import get_settings


@dataclass(frozen=True)
class _Context:
    """What every worker needs, sent once: a file holding the plan and the roster.

    Items carry only this file's path; a worker loads it once and keeps it (pickling a
    national roster with every item cost more than reading the workbook)."""

    path: str


def read_many(
    sources: list[Source],
    plan: Plan,
    roster: Roster,
    *,
    store: Cache | None,
    workers: int | None,
    passwords: dict[str, str],
    progress: Callable[[int, int], None] | None,
) -> list[WorkbookRead]:
    """One ``WorkbookRead`` per source, in order; a dead or overrunning read is a finding."""
    settings = get_settings()
    plan_json = json.dumps(plan.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
    ref = plan.roster if roster.name == plan.roster else None
    fp = fingerprint(plan_json, ref or roster.to_rows(), settings.model_dump(), sorted(passwords))
    results: list[WorkbookRead | None] = [None] * len(sources)
    if store is not None:
        cached = store.get_many([s.sha256 for s in sources], fp)
        for i, s in enumerate(sources):
            results[i] = cached.get(s.sha256)
    todo = [i for i, r in enumerate(results) if r is None]
    done = len(sources) - len(todo)
    if progress and sources:
        progress(done, len(sources))
    if not todo:
        return results, 0  # type: ignore[return-value]
    with tempfile.TemporaryDirectory(prefix="thidua-") as tmp:
        ctx = _Context(str(Path(tmp) / "context.pickle"))
        Path(ctx.path).write_bytes(pickle.dumps((plan, roster), protocol=5))
        _read_todo(sources, todo, results, ctx, fp, store, workers, passwords, progress, done)
    return results, len(todo)  # type: ignore[return-value]


def _read_todo(sources, todo, results, ctx, fp, store, workers, passwords, progress, done):
    settings = get_settings()
    items = (
        (
            ctx,
            sources[i].path if sources[i].data is None else None,
            sources[i].data,
            _name(sources[i]),
            _password_for(sources[i], passwords),
        )
        for i in todo
    )
    fresh: list[tuple[str, WorkbookRead]] = []
    for k, res in map_isolated(
        _read_item,
        items,
        workers=workers,
        timeout_s=settings.parse_timeout_s,
        memory_mb=settings.parse_memory_mb,
    ):
        i = todo[k]
        if res.ok:
            results[i] = res.value
            # A refusal for want of the right password is not cached: the key holds the
            # passwords' names, not the passwords, so the right one given later would hit it.
            if res.value.kind != "encrypted":
                fresh.append((sources[i].sha256, res.value))
        else:
            results[i] = WorkbookRead(
                kind="unknown",
                sheets=[],
                findings=list(res.findings),
                ignored_sheets=[],
                plan_id=None,
            )
        done += 1
        if progress:
            progress(done, len(sources))
        if store is not None and len(fresh) >= 500:
            store.put_many(fresh, fp)
            fresh.clear()
    if store is not None and fresh:
        store.put_many(fresh, fp)


def _name(s: Source) -> str:
    return s.member or PurePath(s.path).name


def _password_for(s: Source, passwords: dict[str, str]) -> tuple[str, ...]:
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
def _context(path: str) -> tuple[Plan, Roster]:
    return pickle.loads(Path(path).read_bytes())


def _read_item(item) -> WorkbookRead:
    """Worker side: bytes (or path) → pre-check → decrypt if possible → read."""
    ctx, path, data, name, passwords = item
    try:
        if data is None:
            with open(path, "rb") as fh:
                data = fh.read(get_settings().max_file_bytes + 1)
    except OSError as e:
        return WorkbookRead(
            kind="unknown",
            sheets=[],
            ignored_sheets=[],
            plan_id=None,
            findings=[finding("file_unreadable", why=str(e))],
        )
    if passwords and precheck(data, name).kind == "encrypted":
        opened = None
        for pw in passwords:
            dec = decrypt(data, pw, name=name)
            if dec.ok:
                opened = dec.data
                break
        if opened is None:
            return WorkbookRead(
                kind="encrypted",
                sheets=[],
                ignored_sheets=[],
                plan_id=None,
                findings=[finding("file_bad_password")],
            )
        data = opened
    return read_workbook(data, name=name, plan=_context(ctx.path)[0], roster=_context(ctx.path)[1])
