"""Judging a value against its target: status, value and the gap in the indicator's unit.

Pure functions over components (plain numbers). Statuses: ``met``, ``missed``,
``no_data`` (nothing reported: never counted as zero) and ``not_applicable`` (nothing to
count, e.g. 0/0 "không phát sinh", or a target the plan leaves to be set locally and
nobody has set yet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from .numbers import format_percent, format_vn
from .plan import Indicator, Target

Status = Literal["met", "missed", "no_data", "not_applicable"]

STATUS_LABELS: dict[str, str] = {
    "met": "Đạt",
    "missed": "Không đạt",
    "no_data": "Chưa có số liệu",
    "not_applicable": "Không áp dụng",
}
NOT_OCCURRED = "Không phát sinh"
TARGET_NOT_SET = "Chỉ tiêu do địa phương đặt, chưa có giá trị"
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Judgement:
    status: Status
    value: float | None
    gap: float | None = None  # shortfall in the indicator's unit (or in units for shares)
    note: str | None = None  # Vietnamese: "Không phát sinh", the gap in words, …


@lru_cache(maxsize=4096)
def _vn(x: float) -> str:
    """``format_vn(x)``, remembered: a national roll-up words the same few gaps thousands
    of times (3 and 3.0 are one key and one text)."""
    return format_vn(x)


def judge_ratio(num: float, den: float, target: Target, unit: str) -> Judgement:
    """num / den against the target; 0/0 is not applicable ("không phát sinh")."""
    if den <= 0:
        return Judgement("not_applicable", None, None, NOT_OCCURRED)
    value = num / den
    if not target.judgeable:
        return Judgement("not_applicable", value, None, TARGET_NOT_SET)
    if target.test(value):
        return Judgement("met", value)
    gap = _ratio_gap(num, den, target)
    return Judgement("missed", value, gap, f"còn thiếu {_vn(gap)} {unit}" if gap else None)


def _ratio_gap(num: float, den: float, target: Target) -> float | None:
    t = target.value
    if target.op in (">=", "=="):
        need = math.ceil(t * den - _EPS)
    elif target.op == ">":
        need = math.floor(t * den + _EPS) + 1
    else:  # an upper bound on a ratio: nothing to add
        return None
    need = min(need, den) if t <= 1 else need
    return max(need - num, 0) or None


def judge_reduction(current: float, baseline: float, target: Target, unit: str) -> Judgement:
    """(baseline − current) / baseline against the target.

    With no baseline (0 last year), 0 this year is met (nothing happened either time) and
    anything more is missed: there is no percentage to give, so ``value`` is None.
    """
    if not target.judgeable:
        value = (baseline - current) / baseline if baseline > 0 else None
        return Judgement("not_applicable", value, None, TARGET_NOT_SET)
    if baseline <= 0:
        if current <= 0:
            return Judgement("met", 0.0, None, NOT_OCCURRED)
        return Judgement("missed", None, current, f"tăng {_vn(current)} {unit} (cùng kỳ không có)")
    value = (baseline - current) / baseline
    if target.test(value):
        return Judgement("met", value)
    gap = _reduction_gap(current, baseline, target)
    note = f"cần giảm thêm {_vn(gap)} {unit}" if gap else None
    return Judgement("missed", value, gap, note)


def _reduction_gap(current: float, baseline: float, target: Target) -> float | None:
    allowed = baseline * (1 - target.value)  # the most "current" may be
    if target.op in (">=", "=="):
        best = math.floor(allowed + _EPS)
    elif target.op == ">":
        best = math.ceil(allowed - _EPS) - 1
    else:
        return None
    return max(current - max(best, 0), 0) or None


def judge_count(count: float, target: Target, unit: str) -> Judgement:
    if not target.judgeable:
        return Judgement("not_applicable", count, None, TARGET_NOT_SET)
    if target.test(count):
        return Judgement("met", count)
    gap = None
    if target.op in (">=", ">", "=="):
        gap = target.value - count + (1 if target.op == ">" else 0)
        gap = math.ceil(gap - _EPS)
    elif target.op in ("<=", "<"):
        gap = count - target.value + (1 if target.op == "<" else 0)
    note = (
        f"còn thiếu {_vn(gap)} {unit}"
        if gap and target.op in (">=", ">", "==")
        else (f"vượt {_vn(gap)} {unit}" if gap else None)
    )
    return Judgement("missed", count, gap, note)


def judge_yes_no(done: float, target: Target) -> Judgement:
    value = 1.0 if done else 0.0
    if not target.judgeable or target.test(value):
        return Judgement(
            "met" if value else "missed",
            value,
            None if value else 1,
            None if value else "chưa thực hiện",
        )
    return Judgement("missed", value, 1, "chưa thực hiện")


def judge_share(meeting: int, reported: int, target: Target, level_word: str = "xã") -> Judgement:
    """Share of child communes meeting their own target (count, minimum, yes/no)."""
    if reported <= 0:
        return Judgement("no_data", None)
    value = meeting / reported
    if not target.judgeable:
        return Judgement("not_applicable", value, None, TARGET_NOT_SET)
    if target.test(value):
        return Judgement("met", value)
    gap = _ratio_gap(meeting, reported, target)
    return Judgement("missed", value, gap, f"còn {_vn(gap)} {level_word} chưa đạt" if gap else None)


def target_text(indicator: Indicator, target: Target | None) -> str:
    """The target in words, as the report shows it: "≥ 80%", "> 95%", "giảm ≥ 7%"."""
    if target is None:
        return ""
    if not target.judgeable:
        return "Do địa phương đặt"
    from .plan import OP_WORDS

    op = OP_WORDS[target.op]
    if indicator.kind == "reduction":
        if target.value == 0 and target.op == ">=":
            return "Không tăng (kiềm chế)"
        if target.value == 0 and target.op == ">":
            return "Giảm"
        return f"Giảm {op} {_pct(target.value)}"
    if indicator.kind == "ratio":
        return f"{op} {_pct(target.value)}"
    if indicator.kind == "yes_no":
        return "Thực hiện"
    if indicator.kind == "all_of":
        return "Đạt tất cả: " + ", ".join(indicator.parts)
    return f"{op} {format_vn(target.value)} {indicator.unit}"


def _pct(x: float) -> str:
    """0.07 → "7%", 0.955 → "95,5%" (float noise in x × 100 is not a decimal)."""
    return format_percent(x, 0 if round(x * 100, 6).is_integer() else 1)
