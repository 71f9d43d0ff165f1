"""The plan model: targets read the way the sources word them, and broken plans explained."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from logic.errors import PlanError
from logic.plan import Target, load_plan

D = dt.date


def base_plan() -> dict:
    """A small valid plan: two phases back to back, one indicator of each kind."""
    return {
        "id": "mau",
        "name": "Kế hoạch mẫu",
        "start": D(2024, 8, 19),
        "end": D(2025, 8, 19),
        "phases": [
            {"code": "1", "name": "Đợt 1", "start": D(2024, 8, 19), "end": D(2025, 2, 3)},
            {"code": "2", "name": "Đợt 2", "start": D(2025, 2, 4), "end": D(2025, 8, 19)},
        ],
        "groups": [{"code": "A", "name": "Nhóm A"}],
        "indicators": [
            {"code": "R", "group": "A", "name": "Tỷ lệ", "kind": "ratio",
             "target": {"op": ">", "value": 0.95}},
            {"code": "G1", "name": "Giảm 1", "kind": "reduction", "target": {"op": ">", "value": 0}},
            {"code": "G2", "name": "Giảm 2", "kind": "reduction", "target": {"op": ">", "value": 0}},
            {"code": "ALL", "name": "Cả hai", "kind": "all_of", "parts": ["G1", "G2"],
             "target": {"value": 1}},
            {"code": "M", "name": "Mô hình", "kind": "minimum", "unit": "mô hình",
             "target": {"value": 1}, "targets_by_phase": {"2": {"value": 2}}},
            {"code": "L", "name": "Tại chỗ", "kind": "count", "target": {"local": True}},
        ],
    }  # fmt: skip


def problems_of(data: dict) -> list[str]:
    """Every problem line the user is shown (whole-plan checks come as one multi-line entry)."""
    with pytest.raises(PlanError) as info:
        load_plan(data, source="mau.toml")
    assert str(info.value).startswith("Kế hoạch không hợp lệ (mau.toml):")
    lines = [line for p in info.value.problems for line in p.splitlines()]
    assert all(line in str(info.value) for line in lines)
    return lines


# --- targets ----------------------------------------------------------------------------


def test_above_is_strict_and_at_least_is_not():
    above, at_least = Target(op=">", value=0.95), Target(op=">=", value=0.95)
    assert not above.test(19 / 20)  # "trên 95%": exactly 95% misses
    assert above.test(20 / 21)
    assert at_least.test(19 / 20)
    assert not at_least.test(18 / 20)


def test_float_noise_does_not_flip_a_boundary():
    assert Target(op=">=", value=0.3).test(0.1 + 0.2)
    assert Target(op="==", value=0.3).test(0.1 + 0.2)
    assert not Target(op=">", value=0.3).test(0.1 + 0.2)


def test_curb_means_no_increase():
    curb = Target(op=">=", value=0)  # "kiềm chế": reduction of at least zero
    assert curb.test((5 - 5) / 5)
    assert not curb.test((5 - 6) / 5)


def test_a_local_target_has_no_value_to_judge():
    t = Target(local=True)
    assert not t.judgeable
    assert Target(value=0.8).judgeable


def test_a_target_needs_a_value_or_to_be_local():
    data = base_plan()
    data["indicators"][0]["target"] = {"op": ">="}
    [problem] = problems_of(data)
    assert problem.startswith("các chỉ tiêu › 1 › chỉ tiêu:")
    assert "chỉ tiêu chưa có giá trị" in problem and "local = true" in problem


# --- indicators -------------------------------------------------------------------------


def test_all_of_needs_two_parts_and_only_all_of_has_parts():
    data = base_plan()
    data["indicators"][3]["parts"] = ["G1"]
    data["indicators"][1]["parts"] = ["G2"]
    problems = problems_of(data)
    assert any("chỉ tiêu ALL loại “Đạt tất cả” cần ít nhất 2" in p for p in problems)
    assert any(
        "chỉ tiêu G1: chỉ loại “Đạt tất cả” mới có chỉ tiêu thành phần" in p for p in problems
    )


def test_unknown_part_and_nested_all_of_are_reported():
    data = base_plan()
    data["indicators"][3]["parts"] = ["G1", "G9"]
    assert problems_of(data) == ["chỉ tiêu ALL: chỉ tiêu thành phần “G9” không có trong kế hoạch"]
    data = base_plan()
    data["indicators"].append(
        {
            "code": "ALL2",
            "name": "x",
            "kind": "all_of",
            "parts": ["ALL", "G1"],
            "target": {"value": 1},
        }
    )
    assert problems_of(data) == ["chỉ tiêu ALL2: thành phần ALL không được là loại “Đạt tất cả”"]


def test_labels_must_be_components_of_the_kind():
    data = base_plan()
    data["indicators"][0]["labels"] = {"numerator": "Số đạt", "current": "Kỳ này"}
    [problem] = problems_of(data)
    assert "chỉ tiêu R: thành phần current không thuộc loại ratio" in problem


def test_unknown_kind_and_misspelt_field_are_named():
    data = base_plan()
    data["indicators"][0]["kind"] = "percent"
    data["indicators"][1]["taget"] = {"value": 1}
    problems = problems_of(data)
    assert any(
        p.startswith("các chỉ tiêu › 1 › loại chỉ tiêu: giá trị 'percent' không hợp lệ")
        for p in problems
    )
    assert "các chỉ tiêu › 2 › taget: trường không được hỗ trợ (kiểm tra chính tả)" in problems


def test_component_labels_default_and_phase_targets_override():
    plan = load_plan(base_plan())
    ratio, models = plan.indicator("R"), plan.indicator("M")
    assert ratio.components == ("numerator", "denominator")
    assert ratio.label("numerator") == "Số đạt"
    assert models.target_for("1").value == 1
    assert models.target_for("2").value == 2
    assert models.target_for(None).value == 1
    assert [i.code for i in plan.reported_indicators] == ["R", "G1", "G2", "M", "L"]
    assert plan.group_name("A") == "Nhóm A"
    assert ratio.is_percent and not models.is_percent


# --- phases and the whole plan ----------------------------------------------------------


def test_phase_lookup_by_day():
    plan = load_plan(base_plan())
    assert plan.phase_on(D(2025, 2, 3)).code == "1"
    assert plan.phase_on(D(2025, 2, 4)).code == "2"
    assert plan.phase_on(D(2025, 8, 20)) is None
    assert plan.phase("1").days == 169


def test_overlapping_phases_are_named_with_their_dates():
    data = base_plan()
    data["phases"][1]["start"] = D(2025, 2, 1)
    assert problems_of(data) == [
        "đợt 1 (19/08/2024–03/02/2025) chồng lên đợt 2 (01/02/2025–19/08/2025)"
    ]


def test_a_gap_between_phases_needs_allow_gaps():
    data = base_plan()
    data["phases"][1]["start"] = D(2025, 2, 10)
    [problem] = problems_of(data)
    assert problem.startswith("giữa đợt 1 và đợt 2 có khoảng trống (03/02/2025 → 10/02/2025)")
    data["allow_gaps"] = True
    assert load_plan(data).phase_on(D(2025, 2, 5)) is None


def test_phase_outside_the_plan_and_reversed_phase():
    data = base_plan()
    data["phases"][1]["end"] = D(2025, 9, 2)
    assert problems_of(data) == ["đợt 2 nằm ngoài thời gian của kế hoạch (19/08/2024–19/08/2025)"]
    data = base_plan()
    data["phases"][0]["end"] = D(2024, 8, 1)
    [problem] = problems_of(data)
    assert "đợt 1: ngày kết thúc 01/08/2024 trước ngày bắt đầu 19/08/2024" in problem


def test_duplicates_unknown_group_and_unknown_phase_target():
    data = base_plan()
    data["indicators"][1]["code"] = "R"
    data["indicators"][0]["group"] = "Z"
    data["indicators"][4]["targets_by_phase"] = {"3": {"value": 1}}
    problems = problems_of(data)
    assert "mã chỉ tiêu “R” bị trùng" in problems
    assert "chỉ tiêu R: nhóm “Z” không có trong danh sách nhóm nội dung" in problems
    assert "chỉ tiêu M: chỉ tiêu riêng cho đợt “3” nhưng kế hoạch không có đợt này" in problems


def test_empty_plan_lists_every_problem():
    data = copy.deepcopy(base_plan())
    data["phases"], data["indicators"] = [], []
    problems = problems_of(data)
    assert "kế hoạch phải có ít nhất một đợt" in problems
    assert "kế hoạch phải có ít nhất một chỉ tiêu" in problems


def test_missing_required_field():
    data = base_plan()
    del data["name"]
    assert problems_of(data) == ["tên: thiếu (bắt buộc)"]
