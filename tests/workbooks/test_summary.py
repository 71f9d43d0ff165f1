"""Finding the plan when ``--plan`` is left out: workbooks from ``thidua template`` carry it."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from logic.errors import ThiduaError
from logic.plan import load_plan
from logic.roster import Roster, Unit
from workbooks.summary import resolve_plan
from workbooks.template import write_template

D = dt.date


def _plan(pid: str, version: str = "1"):
    return load_plan(
        {
            "id": pid,
            "version": version,
            "name": f"Kế hoạch {pid}",
            "start": D(2024, 8, 19),
            "end": D(2025, 8, 19),
            "phases": [{"code": "1", "name": "Đợt 1", "start": D(2024, 8, 19), "end": D(2025, 8, 19)}],
            "indicators": [
                {"code": "TIN", "name": "Tin báo", "unit": "tin báo", "kind": "ratio",
                 "target": {"op": ">=", "value": 0.8}},
            ],
        }
    )  # fmt: skip


ROSTER = Roster(
    [
        Unit("P", "Tỉnh Thử", "province"),
        Unit("C1", "Xã Một", "commune", "P"),
        Unit("C2", "Xã Hai", "commune", "P"),
    ]
)


def test_the_plan_embedded_in_templates(tmp_path):
    plan = _plan("rieng-tinh")  # not a bundled plan: only the embedded JSON can give it
    write_template(plan, ROSTER, "C1", "1", tmp_path / "a.xlsx")
    write_template(plan, ROSTER, "C2", "1", tmp_path / "b.xlsx")
    (tmp_path / "ghi-chu.txt").write_text("không phải bảng tính", encoding="utf-8")
    (tmp_path / "hong.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    found = resolve_plan([tmp_path])
    assert found == plan


def test_different_plans_are_named(tmp_path):
    write_template(_plan("ke-hoach-a"), ROSTER, "C1", "1", tmp_path / "a.xlsx")
    write_template(_plan("ke-hoach-b", "2"), ROSTER, "C2", "1", tmp_path / "b.xlsx")
    with pytest.raises(ThiduaError) as err:
        resolve_plan([tmp_path])
    text = str(err.value)
    assert "nhiều kế hoạch khác nhau" in text
    assert "“ke-hoach-a” phiên bản 1" in text and "“ke-hoach-b” phiên bản 2" in text
    assert "--plan" in text


def test_no_plan_anywhere(tmp_path):
    wb = openpyxl.Workbook()
    wb.active["A1"] = "Báo cáo tự làm"
    wb.save(tmp_path / "tu-lam.xlsx")
    assert resolve_plan([tmp_path]) is None
    assert resolve_plan([tmp_path / "khong-co.xlsx"]) is None
