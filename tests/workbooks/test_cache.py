"""The read cache and the remembered file hashes: a re-run reads only what changed.

Real workbooks written by the project's template into ``tmp_path``, real stat results, a
real SQLite cache; a change is a real edit of the file's bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import time
import zipfile
from pathlib import Path

import pytest

from workbooks.cache import Cache
from workbooks.consolidate import consolidate
from workbooks.plans import load
from workbooks.rosters import load_roster
from workbooks.template import write_template

PLAN = load("thanh-hoa-2024")
ROSTER = load_roster("thanh-hoa")
RATIO = next(i for i in PLAN.reported_indicators if i.kind == "ratio")
HOUR_AGO = time.time() - 3600


def _write_stored(path: Path, parts: list[tuple[str, bytes]]) -> Path:
    """A zip without compression and with fixed member times: its size is that of its parts."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, data in parts:
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    path.write_bytes(out.getvalue())
    return path


def _parts(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def _edit(path: Path, old: bytes, new: bytes) -> None:
    """Replace one value in the report's sheet; the file keeps its size."""
    size = path.stat().st_size
    parts = [(n, d.replace(old, new) if n.endswith("sheet1.xml") else d) for n, d in _parts(path)]
    assert sum(d.count(new) for _n, d in parts) == 1
    _write_stored(path, parts)
    assert path.stat().st_size == size


@pytest.fixture
def inbox(tmp_path) -> list[Path]:
    """Six communes' reports, saved an hour ago; the first holds 1234/5678 for a ratio."""
    folder = tmp_path / "hop-thu"
    communes = ROSTER.tree(PLAN.phases[0].end).communes_under(PLAN.scope)[:6]
    paths = []
    for n, code in enumerate(communes):
        values = {RATIO.code: {"numerator": 1234 if n == 0 else 10 + n, "denominator": 5678}}
        path = write_template(PLAN, ROSTER, code, "1", folder / f"xa-{code}.xlsx", values=values)
        paths.append(_write_stored(path, _parts(path)))
        os.utime(path, (HOUR_AGO, HOUR_AGO))
    return paths


def _run(inbox: list[Path], cache: Path):
    return consolidate([inbox[0].parent], PLAN, ROSTER, cache_dir=cache, workers=2)


def _numerator(run, unit: str) -> float:
    return run.evaluation.get(unit, "1", RATIO.code).components["numerator"]


def test_a_rerun_reads_nothing_when_nothing_changed(inbox, tmp_path):
    first = _run(inbox, tmp_path / "cache")
    again = _run(inbox, tmp_path / "cache")
    assert (first.fresh_reads, again.fresh_reads) == (6, 0)
    assert [r.to_dict() for r in again.inputs] == [r.to_dict() for r in first.inputs]
    shas = [hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox]
    assert [r.sha256 for r in again.inputs] == shas
    # the second run took each file's hash from what the first remembered
    assert [_lookup(tmp_path / "cache", p) for p in inbox] == shas


def test_a_touched_file_is_not_read_again(inbox, tmp_path):
    _run(inbox, tmp_path / "cache")
    os.utime(inbox[2])  # opened and closed again, content the same
    again = _run(inbox, tmp_path / "cache")
    assert again.fresh_reads == 0
    assert {r.status for r in again.inputs} == {"accepted"}


def test_a_same_size_change_with_a_new_time_is_read(inbox, tmp_path):
    unit = ROSTER.tree(PLAN.phases[0].end).communes_under(PLAN.scope)[0]
    first = _run(inbox, tmp_path / "cache")
    assert _numerator(first, unit) == 1234
    _edit(inbox[0], b"<v>1234</v>", b"<v>4321</v>")
    os.utime(inbox[0], (HOUR_AGO + 60, HOUR_AGO + 60))
    again = _run(inbox, tmp_path / "cache")
    assert again.fresh_reads == 1
    assert _numerator(again, unit) == 4321


@pytest.mark.skipif(sys.platform == "win32", reason="st_ctime is the creation time on Windows")
def test_a_same_size_change_with_its_old_time_put_back_is_read(inbox, tmp_path):
    unit = ROSTER.tree(PLAN.phases[0].end).communes_under(PLAN.scope)[0]
    _run(inbox, tmp_path / "cache")
    _edit(inbox[0], b"<v>1234</v>", b"<v>4321</v>")
    os.utime(inbox[0], (HOUR_AGO, HOUR_AGO))  # as a careless copy tool leaves it
    again = _run(inbox, tmp_path / "cache")
    assert again.fresh_reads == 1
    assert _numerator(again, unit) == 4321


def test_a_new_file_alone_is_read(inbox, tmp_path):
    _run(inbox, tmp_path / "cache")
    code = ROSTER.tree(PLAN.phases[0].end).communes_under(PLAN.scope)[6]
    write_template(PLAN, ROSTER, code, "1", inbox[0].parent / f"xa-{code}.xlsx")
    again = _run(inbox, tmp_path / "cache")
    assert again.fresh_reads == 1
    assert len(again.inputs) == 7


def test_a_changed_file_and_a_damaged_entry_are_both_read_again(inbox, tmp_path):
    # The cached reads are unpickled (in a thread) while the worker reads the changed
    # file; a damaged entry found then is read afresh, after.
    import sqlite3

    units = ROSTER.tree(PLAN.phases[0].end).communes_under(PLAN.scope)
    first = _run(inbox, tmp_path / "cache")
    damaged = first.inputs[3].sha256
    with sqlite3.connect(tmp_path / "cache" / "reads.sqlite3") as conn:
        conn.execute("UPDATE reads SET blob = ? WHERE sha = ?", [b"not a pickle", damaged])
    conn.close()
    _edit(inbox[0], b"<v>1234</v>", b"<v>4321</v>")
    os.utime(inbox[0], (HOUR_AGO + 60, HOUR_AGO + 60))
    again = _run(inbox, tmp_path / "cache")
    assert again.fresh_reads == 2
    assert _numerator(again, units[0]) == 4321
    assert [r.status for r in again.inputs] == ["accepted"] * 6
    assert [r.unit for r in again.inputs] == [r.unit for r in first.inputs]
    third = _run(inbox, tmp_path / "cache")  # the damaged entry was replaced
    assert third.fresh_reads == 0
    assert [r.to_dict() for r in third.inputs] == [r.to_dict() for r in again.inputs]


# --- the remembered hashes themselves ----------------------------------------------------


def _remember(cache_dir: Path, path: Path, seen_ns: int) -> None:
    store = Cache.open(cache_dir)
    try:
        hashes = store.file_hashes([path.parent])
        hashes.remember(str(path), path.stat(), "ab" * 32, seen_ns)
        hashes.save()
    finally:
        store.close()


def _lookup(cache_dir: Path, path: Path, under: Path | None = None) -> str | None:
    store = Cache.open(cache_dir)
    try:
        return store.file_hashes([under or path.parent]).lookup(str(path), path.stat())
    finally:
        store.close()


def test_a_remembered_hash_holds_while_the_file_is_unchanged(tmp_path):
    path = tmp_path / "in" / "a.xlsx"
    path.parent.mkdir()
    path.write_bytes(b"workbook")
    os.utime(path, (HOUR_AGO, HOUR_AGO))
    _remember(tmp_path / "cache", path, time.time_ns())
    assert _lookup(tmp_path / "cache", path) == "ab" * 32
    assert _lookup(tmp_path / "cache", path, under=tmp_path) == "ab" * 32  # a parent folder
    assert _lookup(tmp_path / "cache", path, under=tmp_path / "other") is None
    path.write_bytes(b"workbooK")  # same size, new content
    os.utime(path, (HOUR_AGO, HOUR_AGO))
    if sys.platform != "win32":
        assert _lookup(tmp_path / "cache", path) is None  # its change time moved
    path.write_bytes(b"workbook, longer")
    os.utime(path, (HOUR_AGO, HOUR_AGO))
    assert _lookup(tmp_path / "cache", path) is None


def test_a_file_modified_just_before_it_was_seen_is_not_remembered(tmp_path):
    path = tmp_path / "in" / "a.xlsx"
    path.parent.mkdir()
    path.write_bytes(b"workbook")  # now: a coarse clock could hide a second change
    _remember(tmp_path / "cache", path, time.time_ns())
    assert _lookup(tmp_path / "cache", path) is None


def test_a_rerun_is_known_before_collecting_so_windows_starts_one_worker_ahead(
    inbox, tmp_path, monkeypatch
):
    """``thidua consolidate`` starts its workers before it collects the inputs; where each
    imports the readers itself (Windows), a re-run gets one, a first run all of them."""
    from workbooks.cache import seen_before
    from workbooks.cli import _parser, _workers_ahead

    cache = tmp_path / "cache"
    monkeypatch.setenv("THIDUA_CACHE_DIR", str(cache))
    argv = [
        "consolidate",
        str(inbox[0].parent),
        "--out",
        str(tmp_path / "t.xlsx"),
        "--workers",
        "3",
    ]

    def ahead(*extra: str) -> int:
        return _workers_ahead(_parser().parse_args([*argv, *extra]))

    assert not seen_before([inbox[0].parent]) and ahead() == 3  # no cache yet
    _run(inbox, cache)
    assert seen_before([inbox[0].parent]) and seen_before([inbox[2]])
    assert ahead() == 1
    assert ahead("--no-cache") == 3  # the cache is not used: nothing read is reused
    assert not seen_before([tmp_path / "thu-khac"])  # another folder: a first run there
