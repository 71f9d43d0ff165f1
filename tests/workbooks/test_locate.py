"""Finding the report in a grid, the way sheets arrive: edited, moved, hand-made."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils import range_boundaries

from logic.plan import load_plan
from workbooks.layout import report_layout
from workbooks.locate import a1, locate
from workbooks.plans import load
from workbooks.rosters import load_roster


@pytest.fixture(scope="module")
def plan():
    return load("thanh-hoa-2024")


@pytest.fixture(scope="module")
def layout(plan):
    unit = load_roster("thanh-hoa").find("14755")
    return report_layout(plan, "1", unit, report_date=dt.date(2025, 1, 20))


@pytest.fixture
def grid(layout):
    """The template's report sheet as calamine gives it: "" for blanks, formulas as text."""
    rows = max(c.row for c in layout.cells)
    cols = max(c.col for c in layout.cells)
    out = [[""] * cols for _ in range(rows)]
    for c in layout.cells:
        out[c.row - 1][c.col - 1] = "" if c.value is None else c.value
    return out


@pytest.fixture
def merged(layout):
    """The layout's merged ranges as calamine gives them: 0-based ((row, col), (row, col))."""
    out = []
    for ref in layout.merges:
        c1, r1, c2, r2 = range_boundaries(ref)
        out.append(((r1 - 1, c1 - 1), (r2 - 1, c2 - 1)))
    return out


def component_inputs(layout):
    return {k: v for k, v in layout.inputs.items() if k[1] not in ("target", "note")}


def test_a1():
    # a 0-based column: what calamine's grids count from
    assert [a1(1, i) for i in (0, 25, 26, 701, 702)] == ["A1", "Z1", "AA1", "ZZ1", "AAA1"]
    assert a1(17, 5) == "F17"


def test_template_grid(plan, layout, grid, merged):
    loc = locate(grid, plan, merged=merged)
    assert loc.found
    assert loc.cells == component_inputs(layout)
    assert loc.rows == layout.rows
    assert loc.header_row == layout.header_row
    assert {k: m.cell for k, m in loc.meta.items()} == layout.meta
    assert loc.meta_value("unit") == "14755"
    assert loc.meta_value("phase") == "1"
    assert (loc.missing_indicators, loc.missing_columns, loc.unknown, loc.duplicates) == (
        [],
        [],
        [],
        {},
    )


def test_blank_metadata_value_is_placed_after_the_merged_label(plan, layout, grid):
    assert layout.meta["prepared_by"] == "C13"
    # the label "Người lập biểu:" is merged over A:B, its value in C
    loc = locate(grid, plan, merged=[((12, 0), (12, 1))])
    assert loc.meta["prepared_by"].value is None
    assert loc.meta["prepared_by"].cell == "C13"
    # without merge information, the cell right of the label
    assert locate(grid, plan).meta["prepared_by"].cell == "B13"


def test_rows_inserted_above_and_inside_the_table(plan, layout, grid):
    first = layout.rows["CT01"] - 1
    ct05 = layout.rows["CT05"] - 1
    grid.insert(ct05, ["", "", "dòng chèn thêm", "", "", 7, "", "", "", ""])
    grid.insert(first, [""] * 10)
    for _ in range(3):
        grid.insert(0, [""] * 10)
    loc = locate(grid, plan)
    assert loc.cells[("CT01", "current")] == f"F{layout.rows['CT01'] + 4}"
    assert loc.cells[("CT05", "numerator")] == f"F{layout.rows['CT05'] + 5}"
    assert loc.meta["unit"].cell == "C13"
    assert loc.unknown == []  # the inserted row has no code


def test_row_deleted(plan, grid, layout):
    del grid[layout.rows["CT05"] - 1]
    loc = locate(grid, plan)
    assert loc.missing_indicators == ["CT05"]
    assert loc.cells[("CT06", "numerator")] == f"F{layout.rows['CT06'] - 1}"


def test_columns_moved_and_inserted(plan, grid, layout):
    for row in grid:
        row[5], row[6] = row[6], row[5]  # V2 before V1
        row.insert(2, "")  # a new column C
    grid[layout.header_row - 1][2] = "Ghi chú thêm"
    loc = locate(grid, plan)
    r = layout.rows["CT03"]
    assert loc.cells[("CT03", "numerator")] == f"H{r}"
    assert loc.cells[("CT03", "denominator")] == f"G{r}"
    assert loc.cells[("CT13", "count")] == f"H{layout.rows['CT13']}"


def test_changed_header_wording(plan, grid, layout):
    header = grid[layout.header_row - 1]
    header[5] = "Số thực hiện\nkỳ báo cáo"
    header[6] = "Cùng kỳ"
    header[7] = "Tỷ lệ (%)"
    loc = locate(grid, plan)
    assert loc.cells == component_inputs(layout)


def test_header_column_missing(plan, grid, layout):
    for row in grid:
        del row[6]
    loc = locate(grid, plan)
    assert loc.missing_columns == ["baseline", "denominator"]
    assert ("CT13", "count") in loc.cells


def test_unknown_and_duplicate_codes(plan, grid, layout):
    r = layout.rows["CT18"]
    extra = copy.copy(grid[r - 1])
    extra[1], extra[5] = "CT99", 3
    grid.insert(r, extra)
    dup = copy.copy(grid[layout.rows["CT03"] - 1])
    grid.insert(r + 1, dup)
    grid.append(["", "NGƯỜI LẬP BIỂU", "", "", "", "", "", "THỦ TRƯỞNG ĐƠN VỊ"])
    grid.append(["", "ghi-chu-khong-co-so", "", "", "", "", "", ""])
    loc = locate(grid, plan)
    assert loc.unknown == [("CT99", f"B{r + 1}")]
    assert loc.duplicates == {"CT03": [layout.rows["CT03"], r + 2]}
    assert loc.rows["CT03"] == layout.rows["CT03"]  # the first row is used


def test_code_cells_with_odd_spaces_and_case(plan, grid, layout):
    grid[layout.rows["CT01"] - 1][1] = " ct01\xa0"
    grid[layout.rows["CT02"] - 1][1] = "CT\u200b02"
    loc = locate(grid, plan)
    assert ("CT01", "current") in loc.cells
    assert ("CT02", "current") in loc.cells


def test_xlwings_grid_with_an_origin(plan, grid, layout):
    """xlwings' used_range starts at the first used cell and gives None for blanks."""
    shifted = [[None if v == "" else v for v in row] + [None] for row in grid[2:]]
    loc = locate(shifted, plan, origin=(2, 0))
    assert loc.cells == component_inputs(layout)
    assert {k: m.cell for k, m in loc.meta.items() if m.value is not None} == {
        k: v for k, v in layout.meta.items() if k not in ("prepared_by",)
    }


def test_no_report(plan):
    assert not locate([["Hướng dẫn điền báo cáo"], ["1. Điền số liệu"]], plan).found
    assert not locate([], plan).found
    assert not locate(None, plan).found
    assert not locate("CT", plan).found


def test_hand_made_sheet(plan):
    grid = [
        ["BÁO CÁO THI ĐUA", None, None, None, None],
        ["Mã đơn vị: 14755", None, None, None, None],
        ["Đợt:", 1, None, "Ngày:", dt.datetime(2025, 1, 25)],
        [None, None, None, None, None],
        ["Mã", "Chỉ tiêu", "Tử số", "Mẫu số", "Số lượng"],
        ["CT03", "Tin báo", 8, 10, None],
        ["CT07", "TNGT", 2, 3, None],
        ["CT13", "Mô hình", None, None, 1],
    ]
    loc = locate(grid, plan)
    assert loc.meta_value("unit") == "14755"
    assert loc.meta_value("phase") == 1
    assert loc.meta_value("report_date") == dt.datetime(2025, 1, 25)
    assert loc.cells[("CT03", "numerator")] == "C6"
    assert loc.cells[("CT03", "denominator")] == "D6"
    # a reduction on a sheet with only Tử số / Mẫu số: the same positions
    assert loc.cells[("CT07", "current")] == "C7"
    assert loc.cells[("CT07", "baseline")] == "D7"
    assert loc.cells[("CT13", "count")] == "E8"
    assert loc.values[("CT13", "count")] == 1
    assert "CT01" in loc.missing_indicators


def test_two_level_header_and_column_numbers(plan):
    grid = [
        ["STT", "Mã chỉ tiêu", "Nội dung", "Kết quả thực hiện", ""],
        ["", "", "", "Kỳ này", "Cùng kỳ năm trước"],
        ["(1)", "(2)", "(3)", "(4)", "(5)"],
        [1, "CT01", "Tội phạm", 4, 6],
    ]
    loc = locate(grid, plan)
    assert loc.header_row == 2
    assert loc.cells[("CT01", "current")] == "D4"
    assert loc.cells[("CT01", "baseline")] == "E4"
    assert loc.columns["stt"] == 0


def test_numeric_codes_do_not_mistake_the_phase_cell_for_the_table():
    plan = load_plan(
        {
            "id": "so",
            "name": "Mã số",
            "start": dt.date(2024, 1, 1),
            "end": dt.date(2024, 12, 31),
            "phases": [
                {
                    "code": "1",
                    "name": "Đợt 1",
                    "start": dt.date(2024, 1, 1),
                    "end": dt.date(2024, 12, 31),
                }
            ],
            "indicators": [
                {"code": "1", "name": "A", "kind": "count", "target": {"value": 1}},
                {"code": "2", "name": "B", "kind": "count", "target": {"value": 1}},
            ],
        }
    )
    grid = [
        ["Đợt thi đua:", "1", ""],
        ["", "", ""],
        ["STT", "Mã chỉ tiêu", "Số lượng"],
        [1.0, "1", 3],
        [2.0, 2.0, 4],
    ]
    loc = locate(grid, plan)
    assert loc.header_row == 3
    assert loc.code_column == 1
    assert loc.cells == {("1", "count"): "C4", ("2", "count"): "C5"}
    assert loc.meta_value("phase") == "1"


cell_values = st.one_of(
    st.none(),
    st.just(""),
    st.sampled_from(
        ["CT01", "ct03 ", "CT99", "Mã chỉ tiêu", "Kỳ này", "Cùng kỳ", "Mã đơn vị:", "Đợt: 2"]
    ),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 5),
    st.booleans(),
    st.dates().map(lambda d: dt.datetime(d.year, d.month, d.day)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(cell_values, max_size=8), max_size=12), st.integers(0, 3))
def test_any_grid_is_located_without_raising(plan, rows, shift):
    loc = locate(rows, plan, origin=(shift, shift))
    for (ind, comp), ref in loc.cells.items():
        assert ind in loc.rows and comp and ref[0].isalpha()
    assert set(loc.rows) <= {i.code for i in plan.indicators}
