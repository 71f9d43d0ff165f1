"""The plan and roster a workbook carries, read from grids of real templates."""

from __future__ import annotations

import base64
import datetime as dt
import zlib

import pytest

from addin.state import StateError, bundled_plan, plan_from_arg, plan_id_in_grid, read_state
from workbooks.template import write_template

PLAN_ID = "uong-bi-2024"


@pytest.fixture(scope="module")
def template(tmp_path_factory, plan_and_roster):
    plan, roster = plan_and_roster(PLAN_ID)
    return write_template(
        plan, roster, "06808", "1", tmp_path_factory.mktemp("state") / "t.xlsx",
        report_date=dt.date(2025, 2, 3),
    )  # fmt: skip


def test_the_hidden_sheet_gives_the_plan_and_the_scope_s_roster(template, grid_of, plan_and_roster):
    plan, roster = plan_and_roster(PLAN_ID)
    state = read_state(grid_of(template, "_thidua"))
    assert state.plan_id == PLAN_ID
    assert state.plan() == plan
    carried = state.roster()
    # the template carries the district, its communes, their successors and the province
    tree = carried.tree(plan.phase("1").end)
    assert tree.roots() == ["22"]
    assert sorted(tree.communes_under("196")) == sorted(
        roster.tree(plan.phase("1").end).communes_under("196")
    )
    after = carried.scoped_tree(plan.phase("2").end, plan.scope)
    assert len(after.communes_under("196")) == 3  # the three new wards of Uông Bí


@pytest.mark.parametrize(
    "arg",
    [
        "whole-sheet",  # _thidua!A1:Z5
        "plan-row",  # _thidua!B4:Z4
        [["uong-bi-2024"]],
        [[" UONG-BI-2024 "]],
    ],
)
def test_a_function_argument_names_the_plan(arg, template, grid_of):
    grid = grid_of(template, "_thidua")
    if arg == "whole-sheet":
        arg = grid
    elif arg == "plan-row":
        arg = [grid[3][1:]]
    plan, _roster = plan_from_arg(arg)
    assert plan.id == PLAN_ID


def test_a_report_sheet_names_its_plan(template, grid_of):
    assert plan_id_in_grid(grid_of(template)) == PLAN_ID
    assert plan_id_in_grid([["Mã kế hoạch: thanh-hoa-2024"]]) == "thanh-hoa-2024"
    assert plan_id_in_grid([["Tên đơn vị:", "Xã A"]]) is None


BOMB = "zlib+base64:" + base64.b64encode(zlib.compress(b"[" + b" " * 64 * 2**20)).decode()


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        (None, "Chưa có kế hoạch thi đua: chọn vùng _thidua!A1:Z5"),
        ([[None, ""]], "Chưa có kế hoạch thi đua"),
        ([["ha-noi-2030"]], "Không có kế hoạch có sẵn mã “ha-noi-2030”. Các kế hoạch có sẵn: "),
        ([["plan_json", "{không phải json"]], "Kế hoạch lưu trong trang _thidua bị hỏng"),
        ([["plan_json", '{"id": "x"}']], "Kế hoạch không hợp lệ (_thidua)"),
        # a packed plan cut short (a cell lost its end), and one that would inflate to 64 MB
        (
            [["plan_json", "zlib+base64:eJyrVspMUbJSUKpQqg=="]],
            "Kế hoạch lưu trong trang _thidua bị hỏng",
        ),
        ([["plan_json", BOMB]], "Kế hoạch lưu trong trang _thidua bị hỏng"),
        ([["plan_id", PLAN_ID], ["roster_json", BOMB]], "Danh mục đơn vị lưu trong trang"),
        ([["plan_id", PLAN_ID], ["roster_json", "[1, 2]"]], "Danh mục đơn vị lưu trong trang"),
    ],
)
def test_what_cannot_be_used_is_said_in_vietnamese(arg, message):
    with pytest.raises(StateError) as e:
        plan_from_arg(arg)
    assert message in str(e.value)


def test_bundled_plans_are_parsed_once():
    assert bundled_plan(PLAN_ID) is bundled_plan(PLAN_ID.upper())
