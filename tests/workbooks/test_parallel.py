"""Reading many workbooks through isolated workers, end to end with real files: a file that
kills its worker costs only itself, the workers hash what they read, copies of one content
are found after reading, and progress reaches the end."""

from __future__ import annotations

import hashlib
import os
import random
import sys
import time
from pathlib import Path

import openpyxl
import pytest

from tests import hostile
from workbooks.consolidate import consolidate
from workbooks.demo import figures
from workbooks.plans import load
from workbooks.reader import read_workbook
from workbooks.rosters import load_roster
from workbooks.settings import get_settings
from workbooks.template import write_template

PLAN = load("thanh-hoa-2024")
ROSTER = load_roster("thanh-hoa")


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> list[Path]:
    """Forty communes' filled reports, each for another commune (none supersedes another)."""
    folder = tmp_path_factory.mktemp("bao-cao")
    communes = ROSTER.tree(PLAN.phases[0].end).communes_under(PLAN.scope)[:40]
    rnd = random.Random(7)
    paths = []
    for c in communes:
        values = {i.code: figures(i, rnd, "1") for i in PLAN.reported_indicators}
        paths.append(write_template(PLAN, ROSTER, c, "1", folder / f"xa-{c}.xlsx", values=values))
    return paths


@pytest.fixture
def memory_budget_64mb(monkeypatch):
    monkeypatch.setenv("THIDUA_PARSE_MEMORY_MB", "64")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.skipif(sys.platform != "linux", reason="the memory budget is RLIMIT_AS (Linux)")
def test_a_file_that_kills_its_worker_costs_only_that_file(reports, tmp_path, memory_budget_64mb):
    # 1.6 KB that pass every pre-check (4 million cells) but make python-calamine ask for
    # 128 MB: under a 64 MB budget the reader process aborts in the middle of a batch
    heavy = hostile.write_zip(
        tmp_path / "nang.xlsx",
        hostile.xlsx_parts({"Báo cáo": hostile.sheet_xml([("A1", "Mã"), ("ALL4000", 1)])}),
    )
    inputs = [*reports[:25], heavy, *reports[25:]]
    run = consolidate(inputs, PLAN, ROSTER, use_cache=False, workers=2)
    rejected = [(Path(r.path).name, r.reason) for r in run.inputs if r.status != "accepted"]
    assert rejected == [
        (
            "nang.xlsx",
            "Trình đọc gặp lỗi khi đọc tệp: trình đọc dừng đột ngột (SIGABRT), thường do hết"
            " bộ nhớ (giới hạn 64 MB).",
        )
    ]
    assert run.counts()["accepted"] == len(reports)
    assert run.fresh_reads == len(inputs)
    # its record still names its content
    record = next(r for r in run.inputs if r.path == str(heavy))
    assert record.sha256 == hashlib.sha256(heavy.read_bytes()).hexdigest()


def test_workers_hash_what_they_read_and_copies_are_set_aside_after(reports, tmp_path):
    folder = tmp_path / "hop-thu"
    folder.mkdir()
    for p in reports[:5]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "zz-ban-sao.xlsx").write_bytes(reports[1].read_bytes())  # a copy, sorted last
    run = consolidate([folder], PLAN, ROSTER, cache_dir=tmp_path / "cache", workers=2)
    records = [(Path(r.path).name, r.status, r.reason) for r in run.inputs]
    original = folder / reports[1].name
    assert records == [
        ("zz-ban-sao.xlsx", "ignored", f"trùng với tệp đã nhận: {original}"),
        *[(p.name, "accepted", None) for p in reports[:5]],
    ]
    for r in run.inputs:
        assert r.sha256 == hashlib.sha256(Path(r.path).read_bytes()).hexdigest()
    # read again: the copy is known by its content, nothing is read
    again = consolidate([folder], PLAN, ROSTER, cache_dir=tmp_path / "cache", workers=2)
    assert again.fresh_reads == 0
    assert [(Path(r.path).name, r.status) for r in again.inputs] == [(n, s) for n, s, _r in records]


def test_progress_moves_and_reaches_the_end(reports):
    seen: list[tuple[int, int]] = []
    consolidate(
        reports, PLAN, ROSTER, use_cache=False, workers=2, progress=lambda d, t: seen.append((d, t))
    )
    assert seen[-1] == (len(reports), len(reports))
    assert [d for d, _t in seen] == sorted(d for d, _t in seen)
    assert len(seen) >= 2


def test_consolidate_with_spawned_workers_as_on_windows(reports, tmp_path, monkeypatch):
    """Windows spawns its workers (no fork server): the same reads, hashes and results."""
    forked = consolidate(reports[:8], PLAN, ROSTER, use_cache=False, workers=2)
    monkeypatch.setenv("THIDUA_START_METHOD", "spawn")
    spawned = consolidate(reports[:8], PLAN, ROSTER, cache_dir=tmp_path / "cache", workers=2)
    assert [(r.status, r.unit, r.sha256) for r in spawned.inputs] == [
        (r.status, r.unit, r.sha256) for r in forked.inputs
    ]
    assert {r.status for r in spawned.inputs} == {"accepted"} and spawned.fresh_reads == 8
    assert [r.to_dict() for r in spawned.evaluation.results] == [
        r.to_dict() for r in forked.evaluation.results
    ]


def test_reads_hold_a_layout_once_and_nothing_read_changes(reports, tmp_path):
    # one commune inserted two rows above its table: its cells are elsewhere
    edited = tmp_path / "xa-sua.xlsx"
    wb = openpyxl.load_workbook(reports[3])
    wb.worksheets[0].insert_rows(3, amount=2)
    wb.save(edited)
    inputs = [*reports[:3], edited, *reports[4:12]]
    alone = {
        Path(p).name: read_workbook(Path(p), name=Path(p).name, plan=PLAN, roster=ROSTER).sheets[0]
        for p in [*inputs, reports[12]]
    }
    for p in [*inputs, reports[12]]:  # saved an hour ago: a re-run trusts their size and time
        os.utime(p, (time.time() - 3600,) * 2)
    cache = tmp_path / "cache"
    # read afresh; all from the cache; from the cache while a new report is read
    for run, batch in (("first", inputs), ("cached", inputs), ("mixed", [*inputs, reports[12]])):
        c = consolidate(batch, PLAN, ROSTER, cache_dir=cache, workers=2)
        sheets = {Path(a.sheet.path).name: a.sheet for a in c.accepted}
        assert set(sheets) == {Path(p).name for p in batch}, run
        for name, s in sheets.items():  # the same figures and cells as a file read alone
            assert (s.values, s.cells) == (alone[name].values, alone[name].cells), (run, name)
        layouts = {id(s.cells) for name, s in sheets.items() if name != edited.name}
        # the reports of the template hold one layout (two when some came from the cache
        # while the new one was read: each side keeps its own)
        assert len(layouts) == (2 if run == "mixed" else 1), run
        assert id(sheets[edited.name].cells) not in layouts, run
        assert sheets[edited.name].cells != sheets[Path(reports[0]).name].cells
