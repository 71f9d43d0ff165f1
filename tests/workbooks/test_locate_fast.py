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
