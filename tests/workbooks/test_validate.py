"""``validate_files``: many workbooks in, findings, exit code and annotated copies out."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import openpyxl
import pytest

from logic.findings import flatten
from workbooks.plans import load
from workbooks.rosters import load_roster
from workbooks.template import write_template
from workbooks.validate import format_findings_table, validate_files

COMMUNES = ["14755", "14758", "14761", "14764", "14767", "14770"]


@pytest.fixture(scope="module")
def plan():
    return load("thanh-hoa-2024")


@pytest.fixture(scope="module")
def roster():
    return load_roster("thanh-hoa")


def values(plan, n: int = 0, **override) -> dict:
    out = {}
    for i, ind in enumerate(plan.reported_indicators):
        a, b = 3 + (i + n) % 4, 10 + (i + n) % 3
        out[ind.code] = {
            "ratio": {"numerator": a, "denominator": b},
            "reduction": {"current": a, "baseline": b},
            "count": {"count": a},
            "minimum": {"count": a},
            "yes_no": {"done": "Có"},
        }[ind.kind]
    for code, comps in override.items():
        out[code] = {**out[code], **comps}
    return out


def template(plan, roster, folder: Path, code: str, n: int = 0, **override) -> Path:
    return write_template(
        plan, roster, code, "1", folder / f"{code}.xlsx",
        report_date=dt.date(2025, 1, 25), values=values(plan, n, **override),
    )  # fmt: skip


def test_clean_files(plan, roster, tmp_path):
    files = [template(plan, roster, tmp_path, c, n) for n, c in enumerate(COMMUNES[:2])]
    result = validate_files(files)
    assert result.exit_code == 0
    assert result.findings == []
    assert [r.unit for r in result.reports] == COMMUNES[:2]
    assert result.plan.id == "thanh-hoa-2024"  # the plan every workbook carries
    assert [i["status"] for i in result.inputs] == ["accepted", "accepted"]
    assert format_findings_table(result.findings) == "Không phát hiện lỗi nào."


def test_errors_found(plan, roster, tmp_path):
    good = template(plan, roster, tmp_path, COMMUNES[0])
    bad = template(
        plan, roster, tmp_path, COMMUNES[1], CT01={"current": -1}, CT03={"numerator": "1,234"}
    )
    result = validate_files([good, bad], plan_ref="thanh-hoa-2024")
    assert result.exit_code == 1
    assert flatten(result.findings) == [
        ("value_negative", "Đông Thọ", "F17"),
        ("value_ambiguous", "Đông Thọ", "F19"),
    ]
    assert {f.path for f in result.findings} == {str(bad)}
    assert [i["status"] for i in result.inputs] == ["accepted", "rejected"]
    table = format_findings_table(result.findings, width=100)
    lines = table.splitlines()
    assert lines[0].split("│")[0].strip() == "Mức độ"
    assert "14758.xlsx" in table and "Đông Thọ" in table and "F17" in table
    assert lines[-1] == "Tổng cộng: 2 lỗi, 0 cảnh báo."
    assert all(len(line) <= 100 for line in lines)


def test_summary_is_json(plan, roster, tmp_path):
    bad = template(plan, roster, tmp_path, COMMUNES[1], CT01={"current": -1})
    summary = validate_files([bad]).summary()
    text = json.dumps(summary, ensure_ascii=False)
    data = json.loads(text)
    assert data["schema"] == 1
    assert data["inputs"][0]["unit"] == "14758"
    assert data["inputs"][0]["sha256"] == hashlib.sha256(bad.read_bytes()).hexdigest()
    f = data["findings"][0]
    assert (f["code"], f["severity"], f["cell"], f["unit"], f["phase"]) == (
        "value_negative",
        "error",
        "F17",
        "14758",
        "1",
    )


def test_feedback_copies(plan, roster, tmp_path):
    bad = template(plan, roster, tmp_path, COMMUNES[1], CT01={"current": -1})
    before = bad.read_bytes()
    result = validate_files([bad], feedback_dir=tmp_path / "phan-hoi")
    assert bad.read_bytes() == before
    assert result.feedback == [tmp_path / "phan-hoi" / "14758-kiem-tra.xlsx"]
    wb = openpyxl.load_workbook(result.feedback[0])
    assert wb.sheetnames[0] == "Kết quả kiểm tra"
    assert wb["Đông Thọ"]["F17"].comment is not None


def test_folder_and_missing_files(plan, roster, tmp_path):
    folder = tmp_path / "hop-thu"
    folder.mkdir()
    template(plan, roster, folder, COMMUNES[0])
    (folder / "ghi-chu.txt").write_text("không phải bảng tính")
    result = validate_files([folder, tmp_path / "khong-co.xlsx"])
    assert result.exit_code == 1
    assert [f.code for f in result.findings] == ["file_unreadable"]
    assert len(result.reports) == 1
    only_missing = validate_files([tmp_path / "khong-co.xlsx"])
    assert only_missing.exit_code == 2 and "khong-co.xlsx" in only_missing.message


def test_bad_plan_argument(plan, roster, tmp_path):
    result = validate_files([template(plan, roster, tmp_path, COMMUNES[0])], plan_ref="khong-co")
    assert result.exit_code == 2
    assert "khong-co" in result.message


def test_hand_made_sheet_needs_a_plan(tmp_path):
    book = openpyxl.Workbook()
    ws = book.active
    for row in (
        ["Mã đơn vị:", "14755"],
        ["Đợt:", "1"],
        [],
        ["Mã", "Kỳ này", "Cùng kỳ"],
        ["CT01", 2, 5],
    ):
        ws.append(row)
    path = tmp_path / "tu-lam.xlsx"
    book.save(path)
    result = validate_files([path])
    assert result.exit_code == 2
    assert "tu-lam.xlsx" in result.message and "--plan" in result.message
    with_plan = validate_files([path], plan_ref="thanh-hoa-2024")
    assert with_plan.reports[0].values["CT01"] == {"current": 2.0, "baseline": 5.0}
    assert with_plan.exit_code == 1  # the other indicators are missing


def test_outlier_among_communes(plan, roster, tmp_path):
    files = [
        template(plan, roster, tmp_path, code, 0, CT14={"count": 300 if code == "14764" else 4})
        for code in COMMUNES
    ]
    result = validate_files(files, plan_ref="thanh-hoa-2024")
    outliers = [f for f in result.findings if f.code == "outlier_peers"]
    assert [(f.unit, f.sheet, f.cell, f.path) for f in outliers] == [
        ("14764", outliers[0].sheet, "F33", str(files[3]))
    ]
    assert "300" in outliers[0].message
    assert result.exit_code == 0  # a warning only
