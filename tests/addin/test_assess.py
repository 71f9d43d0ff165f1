"""Judging a row as the template shows it: kinds and targets in words, verdicts, gaps."""

from __future__ import annotations

import pytest

from addin.assess import (
    BAD_TARGET,
    judge_all_of,
    judge_row,
    parse_kind,
    parse_target,
    row_spec,
)
from addin.state import bundled_plan
from logic.plan import Indicator, Target
from logic.targets import target_text


@pytest.mark.parametrize(
    ("words", "kind"),
    [("Tỷ lệ", "ratio"), ("tỉ lệ", "ratio"), ("Giảm so với cùng kỳ", "reduction"),
     ("Số lượng", "count"), ("Tối thiểu mỗi xã", "minimum"), ("Có/Không", "yes_no"),
     ("yes_no", "yes_no"), ("Đạt tất cả", "all_of"), ("bảng", None), (3, None)],
)  # fmt: skip
def test_kinds_in_words(words, kind):
    assert parse_kind(words) == kind


@pytest.mark.parametrize(
    ("text", "kind", "op", "value"),
    [
        ("≥ 80%", "ratio", ">=", 0.8),
        ("> 95%", "ratio", ">", 0.95),
        ("trên 95%", "ratio", ">", 0.95),
        ("đạt 100%", "ratio", ">=", 1.0),
        ("80", "ratio", ">=", 0.8),
        ("Giảm ≥ 7,0%", "reduction", ">=", 0.07),
        ("giảm ít nhất 10%", "reduction", ">=", 0.1),
        ("Không tăng (kiềm chế)", "reduction", ">=", 0.0),
        ("Giảm", "reduction", ">", 0.0),
        ("≥ 1 mô hình", "minimum", ">=", 1.0),
        ("ít nhất 1.234 tin báo", "count", ">=", 1234.0),
        ("tối đa 3", "count", "<=", 3.0),
        ("Thực hiện", "yes_no", ">=", 1.0),
    ],
)
def test_targets_as_the_template_and_the_sources_word_them(text, kind, op, value):
    target = parse_target(text, kind)
    assert (target.op, target.value) == (op, pytest.approx(value))


def test_every_bundled_target_text_reads_back_as_its_target():
    for plan_id in ("thanh-hoa-2024", "tra-vinh-cong-an-2024", "uong-bi-2024"):
        for ind in bundled_plan(plan_id).reported_indicators:
            shown = target_text(ind, ind.target)
            got = parse_target(shown, ind.kind)
            if ind.target.judgeable:
                assert (got.op, got.value) == (ind.target.op, pytest.approx(ind.target.value)), (
                    shown
                )
            else:
                assert not got.judgeable, shown


def test_a_local_target_typed_in_keeps_the_plan_s_operator():
    base = Target(op=">", local=True)
    assert parse_target(90, "ratio", base) == Target(op=">", value=0.9)
    assert parse_target("Do địa phương đặt", "ratio", base) == Target(op=">", local=True)
    assert parse_target(None, "ratio", base) is base
    assert parse_target("nhiều", "count") == BAD_TARGET


def test_row_verdicts_follow_logic_targets():
    plan = bundled_plan("thanh-hoa-2024")
    ct04 = row_spec("CT04", None, plan=plan, phase="1")  # ratio, > 95 %
    assert judge_row(ct04, 95, 100).word == "Không đạt"
    assert judge_row(ct04, 95, 100).gap == "còn thiếu 1 tin báo"
    assert judge_row(ct04, 96, 100).word == "Đạt"
    assert judge_row(ct04, 0, 0).word == "Không phát sinh"
    assert judge_row(ct04, None, 100).word == "Chưa có số liệu"
    assert judge_row(ct04, 101, 100).word == "Chưa có số liệu"  # numerator above denominator
    assert judge_row(ct04, "95", "100").word == "Không đạt"  # numbers typed as text
    ct01 = row_spec("CT01", None, plan=plan, phase="1")  # reduction ≥ 7 %
    assert (judge_row(ct01, 95, 100).word, judge_row(ct01, 95, 100).gap) == (
        "Không đạt",
        "cần giảm thêm 2 vụ",
    )
    assert judge_row(ct01, 0, 0).word == "Đạt"  # nothing either year
    ct16 = row_spec("CT16", None, plan=plan, phase="1")  # yes/no
    assert [judge_row(ct16, v).word for v in ("Có", "Không", 1.0, "?")] == [
        "Đạt", "Không đạt", "Đạt", "Chưa có số liệu",
    ]  # fmt: skip
    ct12 = row_spec("CT12", None, plan=plan, phase="1")  # target set locally, left blank
    assert judge_row(ct12, 8, 10).word == "Chưa có chỉ tiêu"


def test_a_count_is_paced_in_an_interim_report():
    spec = row_spec("Số lượng", 10, unit="tin báo")
    assert judge_row(spec, 4).gap == "còn thiếu 6 tin báo"
    assert judge_row(spec, 4, elapsed=0.5).gap == "còn thiếu 1 tin báo"
    assert judge_row(spec, 5, elapsed=0.5).word == "Đạt"


def test_all_of_takes_its_parts_words():
    parts = ("A", "B", "C")
    assert judge_all_of(parts, {"A": "Đạt", "B": "Không đạt", "C": "Đạt"}).gap == "chưa đạt: B"
    assert judge_all_of(parts, {"A": "Đạt", "B": "Đạt"}).word == "Chưa có số liệu"
    assert judge_all_of(parts, dict.fromkeys(parts, "Đạt")).word == "Đạt"
    assert judge_all_of(parts, dict.fromkeys(parts, "Không phát sinh")).word == "Không áp dụng"


def test_an_indicator_not_judged_at_the_level_is_not_applicable():
    ind = Indicator(code="X", name="X", kind="count", target=Target(value=1), levels=("district",))
    plan = bundled_plan("uong-bi-2024").model_copy(update={"indicators": (ind,)})
    spec = row_spec("X", None, plan=plan, phase="1")
    assert judge_row(spec, 3).word == "Không áp dụng"
    assert judge_row(spec, None).word == "Chưa có số liệu"
