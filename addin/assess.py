"""Judging one row of a report: the status word and the gap, as the template shows them.

Pure (no xlwings). The functions ``TD_DANH_GIA``/``TD_CON_THIEU`` and the button
"Đánh giá chỉ tiêu" judge rows with :func:`judge_row`; the numbers go through
``logic.checks.check_value`` (so "1.234" is 1234 and a rate typed for a count is unusable)
and the verdict through ``logic.targets``. The words are the template's
(``workbooks.layout``): Đạt, Không đạt, Không phát sinh (a ratio with nothing to count),
Chưa có số liệu, Chưa có chỉ tiêu (a target to be set locally, still blank), Không áp
dụng (not judged at this level).

A row is described by a :class:`RowSpec`: its kind, target, unit and, when the plan is
known, its indicator. :func:`row_spec` builds one from what a sheet shows: the kind in
words ("Tỷ lệ", "Giảm so với cùng kỳ", "ratio" …) or an indicator code of the plan, and
the target as the template writes it ("≥ 80%", "> 95%", "Giảm ≥ 7,0%", "Không tăng (kiềm
chế)", "≥ 1 mô hình", "Thực hiện"), as words ("trên 95%", "ít nhất 3"), or as a number
(0.8 or 80 for 80 %, 3 for a count).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from logic.checks import check_components, check_value
from logic.numbers import parse_number
from logic.plan import COMPONENTS, KIND_LABELS, Indicator, Plan, Target
from logic.targets import (
    NOT_OCCURRED,
    STATUS_LABELS,
    TARGET_NOT_SET,
    Judgement,
    judge_count,
    judge_ratio,
    judge_reduction,
    judge_yes_no,
    target_text,
)
from logic.text import clean_text, fold
from workbooks.layout import STATUS_NO_TARGET, STATUS_NOT_OCCURRED

__all__ = [
    "BAD_KIND",
    "BAD_TARGET",
    "MET",
    "MISSED",
    "NOT_APPLICABLE",
    "NO_DATA",
    "RowSpec",
    "Verdict",
    "components",
    "elapsed_share",
    "judge_all_of",
    "judge_row",
    "level_target",
    "parse_kind",
    "parse_target",
    "read_number",
    "row_spec",
]

MET, MISSED = STATUS_LABELS["met"], STATUS_LABELS["missed"]
NO_DATA, NOT_APPLICABLE = STATUS_LABELS["no_data"], STATUS_LABELS["not_applicable"]
BAD_KIND = "Không rõ loại chỉ tiêu"
BAD_TARGET = "Chỉ tiêu không đọc được"
DEFAULT_UNIT = "trường hợp"
_LEVEL = "commune"

_KIND_WORDS: dict[str, str] = {
    fold(word): kind
    for kind, words in {
        "ratio": ("ratio", "tỷ lệ", "tỉ lệ"),
        "reduction": ("reduction", "giảm", "giảm so với cùng kỳ", "so với cùng kỳ", "cùng kỳ"),
        "count": ("count", "số lượng", "đếm", "số"),
        "minimum": ("minimum", "tối thiểu", "tối thiểu mỗi xã"),
        "yes_no": ("yes_no", "yes/no", "có/không", "có không", "có-không"),
        "all_of": ("all_of", "đạt tất cả", "tất cả"),
    }.items()
    for word in words
} | {fold(label): kind for kind, label in KIND_LABELS.items()}

# Operators: symbols first, then words as the sources write them (folded).
_SYMBOLS = (
    (">=", ">="), ("=>", ">="), ("≥", ">="), ("<=", "<="), ("=<", "<="), ("≤", "<="),
    ("==", "=="), (">", ">"), ("<", "<"), ("=", "=="),
)  # fmt: skip
_OP_WORDS = (
    ("khong thap hon", ">="), ("khong duoi", ">="), ("it nhat", ">="), ("toi thieu", ">="),
    ("khong vuot qua", "<="), ("khong qua", "<="), ("toi da", "<="),
    ("lon hon", ">"), ("nho hon", "<"), ("tren", ">"), ("duoi", "<"),
    ("dat", ">="), ("tu", ">="), ("bang", "=="),
)  # fmt: skip
_NUMBER = re.compile(r"[0-9][0-9.,]*\s*%?")
_LOCAL_WORDS = ("do dia phuong dat", "chua co chi tieu", "dia phuong dat")


@dataclass(frozen=True, slots=True)
class RowSpec:
    """How to judge one row. ``target`` None: not judged at this level (Không áp dụng);
    a target with no value: set locally and still blank (Chưa có chỉ tiêu). ``word`` is
    set when the row cannot be judged at all (unknown kind, unreadable target)."""

    kind: str | None
    target: Target | None
    unit: str = DEFAULT_UNIT
    indicator: Indicator | None = None
    word: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The status word, the gap in words ("còn thiếu 12 tin báo", "" if none) and the
    judgement behind them (None when nothing was judged)."""

    word: str
    gap: str = ""
    judgement: Judgement | None = None


# --- reading what a row says ---------------------------------------------------------------


def parse_kind(value: Any) -> str | None:
    """An indicator kind from words ("Tỷ lệ", "Giảm", "ratio" …); None if not one."""
    if not isinstance(value, str):
        return None
    return _KIND_WORDS.get(fold(value))


def parse_target(value: Any, kind: str, base: Target | None = None) -> Target | str | None:
    """The target a cell states, for an indicator of ``kind``.

    Blank: ``base`` (the plan's target), or a target still to be set when there is none.
    A number replaces the value of ``base`` and keeps its operator (a local target typed
    into the template): for ratios and reductions 80 and 0.8 both mean 80 %. Text is read
    as the template and the sources word targets. Returns :data:`BAD_TARGET` for text
    that says no target.
    """
    unset = Target(op=base.op if base else ">=", local=True)
    if value is None or (isinstance(value, str) and not clean_text(value)):
        return base if base is not None else unset
    if isinstance(value, bool):
        return BAD_TARGET
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            return BAD_TARGET
        return Target(op=base.op if base else ">=", value=_share(float(value), kind))
    if not isinstance(value, str):
        return BAD_TARGET
    text = clean_text(value)
    if base is not None and base.judgeable and text == _shown(kind, base):
        return base
    return _parse_target_text(text, kind, base) or BAD_TARGET


@lru_cache(maxsize=4096)
def _parse_target_text(text: str, kind: str, base: Target | None) -> Target | None:
    key = fold(text)
    if any(key.startswith(w) for w in _LOCAL_WORDS):
        return Target(op=base.op if base else ">=", local=True)
    if kind == "yes_no":
        if key in ("thuc hien", "co", "da thuc hien", "hoan thanh", "1"):
            return base if base is not None else Target(op=">=", value=1.0)
        return None
    if kind == "all_of":
        return Target(op=">=", value=1.0) if key.startswith("dat tat ca") else None
    rest = text.strip()
    if kind == "reduction":
        if key in ("khong tang", "khong tang kiem che", "kiem che"):
            return Target(op=">=", value=0.0)
        if key == "giam":
            return Target(op=">", value=0.0)
        if key.startswith("giam "):
            rest = rest[len("giảm") :] if fold(rest[:4]) == "giam" else rest
            rest = rest.strip()
    op = None
    for symbol, name in _SYMBOLS:
        if rest.startswith(symbol):
            op, rest = name, rest[len(symbol) :].strip()
            break
    if op is None:
        folded = fold(rest)
        for word, name in _OP_WORDS:
            if folded == word or folded.startswith(word + " "):
                op = name
                rest = _drop_words(rest, len(word.split()))
                break
    match = _NUMBER.match(rest)
    if match is None:
        return None
    number = parse_number(match.group(0).replace(" ", ""))
    if number.number is None:
        return None
    x = number.number if number.kind == "percent" else _share(number.number, kind)
    if number.kind == "percent" and kind not in ("ratio", "reduction"):
        return None
    return Target(op=op or (base.op if base else ">="), value=x)


def _drop_words(text: str, n: int) -> str:
    return " ".join(text.split()[n:])


def _share(x: float, kind: str) -> float:
    """A share typed as a percentage number (80) or a fraction (0.8): as a fraction."""
    return x / 100 if kind in ("ratio", "reduction") and x > 1 else x


def _shown(kind: str, target: Target) -> str:
    return target_text(_synthetic(kind), target)


@lru_cache(maxsize=16)
def _synthetic(kind: str, unit: str = DEFAULT_UNIT) -> Indicator:
    """A stand-in indicator for rows that name only a kind (no plan)."""
    parts = ("A", "B") if kind == "all_of" else ()
    return Indicator(
        code="?", name="?", kind=kind, unit=unit, target=Target(local=True), parts=parts
    )


def level_target(ind: Indicator, phase: str | None, level: str = _LEVEL) -> Target | None:
    """The target ``ind`` is judged on at ``level`` (``workbooks.layout._level_target``)."""
    if level not in ind.levels:
        return None
    if level != "commune" and level in ind.level_targets:
        return ind.level_targets[level]
    return ind.target_for(phase)


def row_spec(
    kind_or_code: Any,
    target: Any,
    *,
    unit: Any = None,
    plan: Plan | None = None,
    phase: str | None = None,
    level: str = _LEVEL,
) -> RowSpec | None:
    """What one row says; None for a blank row (a group heading, a spacer).

    ``kind_or_code`` is a kind in words, or an indicator code of ``plan``; then the
    plan gives the kind, the unit and the target of ``phase`` at ``level``, and a number
    in ``target`` replaces the target's value.
    """
    if kind_or_code is None or (isinstance(kind_or_code, str) and not clean_text(kind_or_code)):
        return None
    ind = _indicator(plan, kind_or_code) if plan is not None else None
    unit_text = clean_text(str(unit)) if unit not in (None, "") else None
    if ind is not None:
        base = level_target(ind, phase, level)
        if base is None:
            return RowSpec(ind.kind, None, unit_text or ind.unit, ind)
        got = parse_target(target, ind.kind, base) if ind.kind != "all_of" else base
        if isinstance(got, str):
            return RowSpec(ind.kind, None, unit_text or ind.unit, ind, word=got)
        return RowSpec(ind.kind, got, unit_text or ind.unit, ind)
    kind = parse_kind(kind_or_code)
    if kind is None:
        return RowSpec(None, None, word=BAD_KIND)
    got = parse_target(target, kind)
    if isinstance(got, str):
        return RowSpec(kind, None, unit_text or DEFAULT_UNIT, word=got)
    return RowSpec(kind, got, unit_text or DEFAULT_UNIT)


def _indicator(plan: Plan, code: Any) -> Indicator | None:
    codes = _codes(plan)
    if isinstance(code, str):
        found = codes.get(code.casefold())  # the common case: the code as the template wrote it
        if found is not None:
            return found
    elif isinstance(code, float) and code.is_integer():
        code = int(code)
    return codes.get(clean_text(str(code)).casefold())


_code_cache: dict[int, tuple[Plan, dict[str, Indicator]]] = {}


def _codes(plan: Plan) -> dict[str, Indicator]:
    """Indicator by case-folded code, cached per plan object (plans are not hashable)."""
    hit = _code_cache.get(id(plan))
    if hit is None or hit[0] is not plan:
        if len(_code_cache) >= 16:
            _code_cache.clear()
        hit = (plan, {i.code.casefold(): i for i in plan.indicators})
        _code_cache[id(plan)] = hit
    return hit[1]


# --- judging ---------------------------------------------------------------------------


def components(spec: RowSpec, v1: Any, v2: Any) -> dict[str, float | None]:
    """The row's components read from its two value cells (None: blank or unusable)."""
    kind = spec.kind
    assert kind is not None and kind != "all_of"
    ind = spec.indicator or _synthetic(kind)
    names = COMPONENTS[kind]
    out: dict[str, float | None] = {}
    for name, raw in zip(names, (v1, v2), strict=False):
        out[name] = _number(ind, name, raw)
    if kind == "ratio" and check_components(ind, out):
        return dict.fromkeys(out)  # numerator above denominator: which one is wrong?
    return out


def read_number(kind: str, component: str, raw: Any) -> float | None:
    """One component cell as ``logic.checks`` reads it (None: blank or unusable)."""
    return _number(_synthetic(kind), component, raw)


def _number(ind: Indicator, name: str, raw: Any) -> float | None:
    if ind.kind != "yes_no":  # the common cases, without building findings
        t = type(raw)
        if t is int and raw >= 0:
            return float(raw)
        if t is float and raw >= 0 and raw.is_integer():
            return raw
    return check_value(ind, name, raw)[0]


def judge_row(spec: RowSpec, v1: Any, v2: Any = None, *, elapsed: float | None = None) -> Verdict:
    """Judge one (non all-of) row from its two value cells.

    ``elapsed`` (share of the phase gone by, for an interim report) paces a count target
    as ``logic.aggregate`` does. Mirrors the template's assessment formula: missing or
    unusable figures first (Chưa có số liệu), then nothing to count (Không phát sinh),
    then a target still to be set (Chưa có chỉ tiêu).
    """
    if spec.word is not None:
        return Verdict(spec.word)
    kind = spec.kind
    assert kind is not None
    if kind == "all_of":
        return Verdict(NO_DATA)
    comps = components(spec, v1, v2)
    if any(v is None for v in comps.values()):
        return Verdict(NO_DATA)
    target = spec.target
    if target is None:
        return Verdict(NOT_APPLICABLE)
    unit = spec.unit
    match kind:
        case "ratio":
            j = judge_ratio(comps["numerator"], comps["denominator"], target, unit)
        case "reduction":
            j = judge_reduction(comps["current"], comps["baseline"], target, unit)
        case "count" | "minimum":
            if kind == "count":
                target = _paced(target, elapsed)
            j = judge_count(comps["count"], target, unit)
        case "yes_no":
            j = judge_yes_no(comps["done"], target)
        case _:
            raise AssertionError(kind)
    return _verdict(j)


def _verdict(j: Judgement) -> Verdict:
    if j.status == "not_applicable":
        if j.note == NOT_OCCURRED:
            return Verdict(STATUS_NOT_OCCURRED, "", j)
        if j.note == TARGET_NOT_SET:
            return Verdict(STATUS_NO_TARGET, "", j)
        return Verdict(NOT_APPLICABLE, "", j)
    gap = (j.note or "") if j.status == "missed" else ""
    return Verdict(STATUS_LABELS[j.status], gap, j)


def judge_all_of(parts: Sequence[str], words: Mapping[str, str]) -> Verdict:
    """An all-of row from its parts' words (``words``: code → word; absent: no data).

    The rule of ``logic.aggregate`` and the template: any part missed → missed; else any
    without data → no data; else any met → met; else not applicable.
    """
    got = [words.get(p, NO_DATA) for p in parts]
    missed = [p for p, w in zip(parts, got, strict=True) if w == MISSED]
    if missed:
        return Verdict(MISSED, "chưa đạt: " + ", ".join(missed))
    if NO_DATA in got:
        return Verdict(NO_DATA)
    if MET in got:
        return Verdict(MET)
    return Verdict(NOT_APPLICABLE)


def elapsed_share(start: dt.date, end: dt.date, day: dt.date | None) -> float | None:
    """Share of a phase gone by on ``day``; None when the phase is over (not interim)."""
    if day is None or day >= end:
        return None
    return max(0.0, min(1.0, ((day - start).days + 1) / ((end - start).days + 1)))


def _paced(target: Target, elapsed: float | None) -> Target:
    # logic.aggregate._paced: an interim report meets the target pro rata
    if elapsed is None or not target.judgeable or target.op not in (">=", ">"):
        return target
    return Target(op=target.op, value=math.floor(target.value * elapsed + 1e-9))
