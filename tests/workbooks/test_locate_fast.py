"""The code search of ``locate`` takes a short way on rectangular grids (a column's values
compared once, values met in earlier sheets remembered): it must find what the cell-by-cell
way finds, sheet after sheet."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbooks.locate import locate
from workbooks.plans import load

CELLS = st.sampled_from(
    [
        "", None, "CT01", "CT02", " ct03 ", "CT04\u00a0", "ct\u200b05", "CT99", "Mã chỉ tiêu",
        "Kỳ này / Số thực hiện", "Tổng số / Cùng kỳ năm trước", "vụ", "Có", "Mã đơn vị:",
        "14755", "Đợt thi đua:", 1.0, 0.0, 3, True, float("nan"), dt.date(2025, 1, 28),
        "x" * 30, "CT01 ",
    ]
)  # fmt: skip


@pytest.fixture(scope="module")
def plan():
    return load("thanh-hoa-2024")


def ragged(grid: list[list]) -> list[list]:
    """The same sheet with one more blank cell on its last row: not rectangular, so the
    code search goes cell by cell."""
    out = [list(row) for row in grid]
    out[-1].append("")
    return out


def same(a, b) -> bool:
    # NaN cells are never equal to themselves: compare what a reader reports
    fields = ("found", "code_column", "header_row", "columns", "rows", "cells", "code_cells")
    more = ("missing_indicators", "missing_columns", "unknown", "duplicates")
    return all(getattr(a, f) == getattr(b, f) for f in fields + more) and {
        k: (m.cell, m.label_cell) for k, m in a.meta.items()
    } == {k: (m.cell, m.label_cell) for k, m in b.meta.items()}


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 8).flatmap(lambda w: st.lists(st.lists(CELLS, min_size=w, max_size=w), min_size=1, max_size=12)))  # fmt: skip
def test_rectangular_grids_are_searched_as_cell_by_cell(plan, grid):
    assert same(locate(grid, plan), locate(ragged(grid), plan))


def test_a_value_seen_in_an_earlier_sheet_is_still_found(plan):
    # first met where it is no code column, then as the code column of the next sheet
    header = ["STT", "Mã chỉ tiêu", "Kỳ này / Số thực hiện", "Tổng số / Cùng kỳ năm trước"]
    first = [header, [1.0, "ghi chú", 5.0, 6.0], ["CT01", "", "", ""]]
    second = [header, [1.0, " ct01 ", 5.0, 6.0], [2.0, "CT02", 7.0, 8.0]]
    for grid in (first, second, first, second):
        assert same(locate(grid, plan), locate(ragged(grid), plan))
    loc = locate(second, plan)
    assert (loc.code_column, loc.rows) == (1, {"CT01": 2, "CT02": 3})
    assert loc.cells[("CT02", "current")] == "C3"


# --- the same layout again ----------------------------------------------------------------


@pytest.fixture(scope="module")
def template_grid(plan):
    """The template's report sheet as calamine gives it, filled."""
    from workbooks.layout import report_layout
    from workbooks.rosters import load_roster

    unit = load_roster("thanh-hoa").find("14755")
    layout = report_layout(plan, "1", unit, report_date=dt.date(2025, 1, 20))
    rows = max(c.row for c in layout.cells)
    cols = max(c.col for c in layout.cells)
    out = [[""] * cols for _ in range(rows)]
    for c in layout.cells:
        out[c.row - 1][c.col - 1] = "" if c.value is None else c.value
    for (_code, _comp), ref in layout.inputs.items():
        col = ord(ref[0]) - 65
        out[int(ref[1:]) - 1][col] = 7.0
    return out


def fresh(grid, plan):
    from workbooks import locate as module

    module._LAYOUTS.clear()
    return locate(grid, plan)


EDITS = st.sampled_from(
    [
        "", None, 5.0, 12.0, "CT03", " ct07", "Mã đơn vị:", "Đợt thi đua:", "Kỳ này", "Cùng kỳ",
        "Mã chỉ tiêu", "STT", "ghi chú", "Phường Đông Thọ", "14758", dt.date(2025, 2, 1), "XX1",
        "Người lập biểu: Lê Văn A", True, float("nan"),
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 12), EDITS), max_size=6))
def test_a_sheet_like_the_last_one_is_located_as_if_searched_afresh(plan, template_grid, edits):
    grid = [list(row) for row in template_grid]
    for i, j, value in edits:
        if i < len(grid) and j < len(grid[0]):
            grid[i][j] = value
    expected = fresh(grid, plan)
    fresh(template_grid, plan)  # the layout of the template is now the one kept
    again = locate(grid, plan)
    assert same(again, expected)
    assert again.values.keys() == expected.values.keys()
    assert all(
        again.values[k] == expected.values[k] or again.values[k] != again.values[k]
        for k in expected.values
    )
    assert {k: m.value for k, m in again.meta.items()} == {
        k: m.value for k, m in expected.meta.items()
    } or any(m.value != m.value for m in expected.meta.values())


def test_the_kept_layout_gives_each_sheet_its_own_values(plan, template_grid):
    fresh(template_grid, plan)
    grid = [list(row) for row in template_grid]
    loc = locate(grid, plan)
    (code, comp), ref = next(iter(loc.cells.items()))
    row, col = int(ref[1:]) - 1, ord(ref[0]) - 65
    unit = loc.meta["unit"]
    urow, ucol = int(unit.cell[1:]) - 1, ord(unit.cell[0]) - 65
    grid[row][col], grid[urow][ucol] = 123.0, "14758"
    loc.values.clear()  # what a caller does with its result never reaches the next one
    again = locate(grid, plan)
    assert (again.values[(code, comp)], again.meta_value("unit")) == (123.0, "14758")
    assert locate(template_grid, plan).values[(code, comp)] == 7.0


def test_a_figure_next_to_an_unknown_code_is_seen_in_the_next_sheet(plan, template_grid):
    # a row whose code cell holds a text that is no code: reported once a figure is there
    grid = [list(row) for row in template_grid]
    loc = fresh(grid, plan)
    # a group row among the indicators ("B", "C" …: nothing in the code column)
    row = next(i for i in range(len(grid)) if grid[i][1] == "" and i + 1 > min(loc.rows.values()))
    value_col = (
        loc.columns["v1"]
        if "v1" in loc.columns
        else min(j for role, j in loc.columns.items() if role in ("current", "numerator", "count"))
    )
    grid[row][1] = "XX1"
    assert fresh(grid, plan).unknown == []  # no figure beside it yet
    filled = [list(r) for r in grid]
    filled[row][value_col] = 4.0
    assert locate(filled, plan).unknown == [("XX1", f"B{row + 1}")]
