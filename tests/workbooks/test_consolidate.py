"""End to end: a demo inbox (emails, forwarded mail, a USB folder, a broken file) through
``thidua consolidate``; the tally's numbers are checked against sums computed here."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import sys
from pathlib import Path

import openpyxl
import pytest

from logic.numbers import parse_number
from workbooks.cli import main
from workbooks.consolidate import consolidate
from workbooks.demo import build_inbox
from workbooks.plans import load
from workbooks.rosters import load_roster

PLAN = load("thanh-hoa-2024")
ROSTER = load_roster("thanh-hoa")


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    return build_inbox(PLAN, ROSTER, root / "hop-thu", districts=2, per_district=4, seed=7)


@pytest.fixture(scope="module")
def run(inbox, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return consolidate([inbox.folder], PLAN, ROSTER, cache_dir=cache, workers=2)


def _latest(inbox):
    """The submission that should win for each (unit, phase): latest report date."""
    best = {}
    for s in inbox.submissions:
        key = (s.unit, s.phase)
        if key not in best or s.report_date >= best[key].report_date:
            best[key] = s
    return best


def _sha(path):
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _number(value):
    p = parse_number(value)
    return p.number


def test_every_input_is_accounted_for_exactly_once(inbox, run):
    counts = run.counts()
    files = [p for p in inbox.folder.rglob("*") if p.is_file()]
    # one record per attachment or file considered; the .eml files carry one workbook each
    assert len(run.inputs) == len(files)
    assert sum(counts.values()) == len(run.inputs)
    assert counts["rejected"] == 1  # the truncated download
    corrections = sum(1 for s in inbox.submissions if s.note == "bản sửa")
    assert counts["superseded"] == corrections
    assert counts["accepted"] == len(inbox.submissions) - corrections
    rejected = next(r for r in run.inputs if r.status == "rejected")
    assert Path(rejected.path).name == "bao-cao-xa-bi-loi.xlsx"
    assert run.exit_code == 1


def test_corrections_supersede_and_list_what_changed(inbox, run):
    superseded = [r for r in run.inputs if r.status == "superseded"]
    assert superseded and all("được thay bằng" in r.reason for r in superseded)
    assert run.changes, "a correction changed at least one value"
    for ch in run.changes:
        assert ch.cell and ch.old != ch.new


def test_province_figures_are_the_sums_of_the_winning_reports(inbox, run):
    latest = _latest(inbox)
    ratio = next(i for i in PLAN.reported_indicators if i.kind == "ratio")
    for phase in PLAN.phases:
        num = den = 0
        for (_unit, ph), s in latest.items():
            if ph != phase.code:
                continue
            comps = s.values[ratio.code]
            num += _number(comps["numerator"])
            den += _number(comps["denominator"])
        province = run.evaluation.get(PLAN.scope, phase.code, ratio.code)
        assert province.components == {"numerator": num, "denominator": den}
        assert province.value == pytest.approx(num / den)
        expected = "met" if ratio.target_for(phase.code).test(num / den) else "missed"
        assert province.status == expected
        reported = len({u for (u, ph) in latest if ph == phase.code})
        tree = run.evaluation.trees[phase.code]
        assert province.reported == reported
        assert province.expected == len(tree.communes_under(PLAN.scope))


def test_a_fractional_count_is_no_data_for_that_commune_not_zero(inbox, run):
    bad = next(s for s in inbox.submissions if s.note == "số đếm có phần lẻ")
    ind = next(code for code, comps in bad.values.items() if comps.get("count") == "2,5")
    r = run.evaluation.get(bad.unit, bad.phase, ind)
    assert r.status == "no_data"
    codes = {(f.code, f.unit) for f in run.findings}
    assert ("value_fractional", bad.unit) in codes


def test_a_file_named_after_another_commune_is_flagged(inbox, run):
    odd = [s for s in inbox.submissions if s.note == "tên tệp của xã khác"]
    assert odd
    flagged = {(f.unit, f.phase) for f in run.findings if f.code == "unit_claims_other"}
    assert {(s.unit, s.phase) for s in odd} <= flagged


def test_missing_units_are_listed_per_phase(inbox, run):
    last = PLAN.phases[-1].code
    silent = inbox.communes[last][-1]
    assert (silent, last) in run.evaluation.missing
    assert run.evaluation.get(silent, last, PLAN.reported_indicators[0].code).status == "no_data"


def test_cli_json_is_what_the_library_returns_and_matches_the_workbook(inbox, tmp_path, capsys):
    out, js = tmp_path / "tong-hop.xlsx", tmp_path / "tong-hop.json"
    code = main(
        [
            "consolidate",
            str(inbox.folder),
            "--plan",
            PLAN.id,
            "--out",
            str(out),
            "--json",
            str(js),
            "--no-cache",
        ]
    )
    assert code == 1
    data = json.loads(js.read_text(encoding="utf-8"))
    again = consolidate([inbox.folder], PLAN, ROSTER, use_cache=False)
    assert data == json.loads(json.dumps(again.summary(), ensure_ascii=False, default=str))
    assert data["schema"] == 1 and data["plan"]["id"] == PLAN.id
    missed = [r for r in data["results"] if r["status"] == "missed"]
    wb = openpyxl.load_workbook(out, read_only=True)
    ws = wb["Chỉ tiêu chưa đạt"]
    rows = [
        r
        for r in ws.iter_rows(values_only=True)
        if r and r[0] in ("Cấp tỉnh", "Cấp huyện", "Cấp xã")
    ]
    assert len(rows) == len(missed)
    printed = capsys.readouterr().out
    assert "Bảng tổng hợp" in printed and str(out) in printed


def test_cache_makes_a_rerun_read_only_the_new_file(inbox, tmp_path):
    cache = tmp_path / "cache"
    folder = tmp_path / "inbox"
    shutil.copytree(inbox.folder, folder)
    first = consolidate([folder], PLAN, ROSTER, cache_dir=cache)
    assert first.fresh_reads == len(inbox.submissions) + 1  # every workbook and the broken file
    # the same content under another name: nothing to read again
    extra = next(s for s in inbox.submissions if s.via == "folder")
    shutil.copy(extra.file, folder / "tu-usb" / "ban-sao.xlsx")
    second = consolidate([folder], PLAN, ROSTER, cache_dir=cache)
    assert second.fresh_reads == 0
    twins = [r for r in second.inputs if r.sha256 == _sha(extra.file)]
    assert sorted(r.status for r in twins) == ["accepted", "ignored"]
    assert "trùng" in next(r.reason for r in twins if r.status == "ignored")
    # one more commune's report arrives: only that one is read
    late = next(s for s in inbox.submissions if s.phase == "1")
    wb = openpyxl.load_workbook(late.file)
    wb.active.title = wb.active.title  # saved again by a person: new bytes, same report
    wb.save(folder / "tu-usb" / "gui-lai.xlsx")
    third = consolidate([folder], PLAN, ROSTER, cache_dir=cache)
    assert third.fresh_reads == 1
    assert len(third.inputs) == len(first.inputs) + 2
    assert [r.to_dict() for r in second.evaluation.results] == [
        r.to_dict() for r in first.evaluation.results
    ]


def test_nothing_usable_exits_2(tmp_path, capsys):
    (tmp_path / "ghi-chu.txt").write_text("không phải bảng tính", encoding="utf-8")
    code = main(
        [
            "consolidate",
            str(tmp_path),
            "--plan",
            PLAN.id,
            "--out",
            str(tmp_path / "out.xlsx"),
            "--no-cache",
        ]
    )
    assert code == 2
    assert (
        main(
            [
                "consolidate",
                str(tmp_path / "khong-co"),
                "--plan",
                PLAN.id,
                "--out",
                str(tmp_path / "o.xlsx"),
            ]
        )
        == 2
    )
    assert "không tìm thấy" in capsys.readouterr().err


def test_interim_view_before_a_phase_ends(inbox):
    from logic.aggregate import evaluate

    c = consolidate([inbox.folder], PLAN, ROSTER, use_cache=False)
    mid = PLAN.phases[0].start + dt.timedelta(days=30)
    ev = evaluate(PLAN, ROSTER, [a.sheet.to_report() for a in c.accepted], as_of=mid)
    assert {r.phase for r in ev.results} == {"1"}
    assert all(r.interim for r in ev.results)


def test_the_readme_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "thidua-demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    tally = out / "tong-hop.xlsx"
    assert f"Bảng tổng hợp: {tally}" in printed and tally.exists()
    summary = json.loads((out / "tong-hop.json").read_text(encoding="utf-8"))
    states = {i["status"] for i in summary["inputs"]}
    assert states == {"accepted", "rejected", "superseded"}
    assert {r["phase"] for r in summary["results"]} == {"1", "2", "3", "all"}
    assert list((out / "thu-tra-loi").glob("*.eml"))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _screen(text: str) -> list[str]:
    """What a terminal shows of ``text``: a carriage return goes back to the line's start."""
    lines = []
    for raw in text.split("\n"):
        line: list[str] = []
        for part in raw.split("\r"):
            line[: len(part)] = part
        lines.append("".join(line).rstrip())
    return lines


def test_a_terminal_is_told_each_step_and_left_clean(inbox, tmp_path, monkeypatch, capsys):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    out, js = tmp_path / "tong-hop.xlsx", tmp_path / "tong-hop.json"
    argv = ["consolidate", str(inbox.folder), "--plan", PLAN.id, "--out", str(out), "--json",
            str(js), "--no-cache"]  # fmt: skip
    assert main(argv) == 1
    shown = [part.strip() for part in terminal.getvalue().replace("\n", "\r").split("\r")]
    steps = [s for s in shown if s.endswith("…")]
    assert steps == [
        "Đang tổng hợp và đánh giá chỉ tiêu…",
        "Đang ghi bảng tổng hợp…",
        "Đang ghi tệp JSON…",
    ]
    files = len([p for p in inbox.folder.rglob("*") if p.is_file()])
    screen = _screen(terminal.getvalue())
    assert screen[0].startswith(f"Đã đọc {files}/{files} tệp (")
    assert screen[1:] == [""]  # the steps are gone: the summary starts on a clean line
    assert "Bảng tổng hợp" in capsys.readouterr().out


def test_no_status_line_when_stderr_is_not_a_terminal(inbox, tmp_path, capsys):
    argv = ["consolidate", str(inbox.folder), "--plan", PLAN.id, "--out",
            str(tmp_path / "t.xlsx"), "--no-cache"]  # fmt: skip
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "Đang" not in captured.err and "Đã đọc" not in captured.err
    assert "Bảng tổng hợp" in captured.out
