"""A report sheet checked from a grid of values, as the add-in receives it from Excel."""

from __future__ import annotations

import datetime as dt

import pytest

from addin.report import check_grid, is_report_candidate
from logic.findings import flatten
from logic.text import to_tcvn3
from workbooks.template import write_template

PLAN_ID = "uong-bi-2024"


@pytest.fixture(scope="module")
def grid(tmp_path_factory, plan_and_roster, grid_of):
    plan, roster = plan_and_roster(PLAN_ID)
    values = {i.code: dict.fromkeys(i.components, 1) for i in plan.reported_indicators}
    values["CT03"] = {"numerator": 2, "denominator": "một"}
    path = write_template(
        plan, roster, "06808", "1", tmp_path_factory.mktemp("report") / "r.xlsx",
        report_date=dt.date(2025, 2, 3), values=values,
    )  # fmt: skip
    return grid_of(path)


def test_cells_are_named_as_the_sheet_names_them_from_any_origin(grid, plan_and_roster):
    plan, roster = plan_and_roster(PLAN_ID)
    whole = check_grid(grid, plan, roster, sheet="Vàng Danh")
    assert flatten(whole.findings) == [("value_not_number", "Vàng Danh", "G21")]
    part = [row[:] for row in grid[2:]]  # the used range starts at A3
    cut = check_grid(part, plan, roster, sheet="Vàng Danh", origin=(2, 0))
    assert flatten(cut.findings) == flatten(whole.findings)
    # a column inserted at the left: the same cell is now one column further right
    shifted = [[None, *row] for row in grid]
    moved = check_grid(shifted[2:], plan, roster, sheet="Vàng Danh", origin=(2, 0))
    assert flatten(moved.findings) == [("value_not_number", "Vàng Danh", "H21")]
    assert cut.identity == whole.identity
    assert whole.usable and whole.to_report().values["CT01"] == {
        "numerator": 1.0,
        "denominator": 1.0,
    }


def test_text_in_the_old_tcvn3_encoding_is_read_and_reported(grid, plan_and_roster):
    plan, roster = plan_and_roster(PLAN_ID)
    old = [list(row) for row in grid]
    old[9][6] = to_tcvn3("Phường Vàng Danh")  # G10, the unit's name
    checked = check_grid(old, plan, roster, sheet="Vàng Danh")
    assert checked.identity.unit_name == "Phường Vàng Danh"
    assert ("legacy_encoding", "Vàng Danh", "G10") in flatten(checked.findings)
    assert old[9][6] != "Phường Vàng Danh"  # the caller's grid is left as it was


def test_a_grid_without_the_plan_s_table_is_not_a_report(plan_and_roster):
    plan, roster = plan_and_roster(PLAN_ID)
    checked = check_grid([["Chỉ tiêu", "Số liệu"], ["Tỷ lệ", 0.8]], plan, roster)
    assert not checked.found and checked.reason == "không có bảng chỉ tiêu của kế hoạch"


@pytest.mark.parametrize(
    ("name", "visible", "expected"),
    [("Vàng Danh", True, True), ("Hướng dẫn", True, False), ("KẾT QUẢ KIỂM TRA", True, False),
     ("_thidua", False, False), ("Bản cũ", False, False), ("Tong hop", True, False)],
)  # fmt: skip
def test_which_sheets_may_hold_a_report(name, visible, expected):
    assert is_report_candidate(name, visible) is expected
