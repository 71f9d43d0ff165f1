"""The grid of a report sheet as plain data: cells, styles, merges, validations, print setup.

Pure (no openpyxl, no xlwings): :mod:`workbooks.template` writes a layout with openpyxl;
the add-in adds a report sheet to an open book from the same layout through xlwings. A
layout is a list of :class:`Cell` (1-based row and column, a value or a formula, a style
name), the styles by name as plain dicts (see :data:`STYLES`), merged ranges,
:class:`Validation` and :class:`CondFormat` specs, column widths, row heights and the print
setup. Nothing here depends on the file format.

The report sheet (``notes/sheet-spec.md``)::

    row 1-3   issuer, unit (top left) | national motto, place and date (top right)
    row 5-7   title, campaign, "Đợt N: từ … đến …"
    row 9-13  metadata: label, value to its right (plan, version, unit code and name,
              phase, report date, prepared by)
    row 15    table header (printed on every page)
    row 16…   group rows ("A", "B" … in STT, name in the content column) and one row per
              indicator: STT, code, content, unit, target, V1, V2, rate, assessment, note
    after     signature block: NGƯỜI LẬP BIỂU | THỦ TRƯỞNG ĐƠN VỊ

Formulas work with no Python: the rate and the assessment of every kind (mirroring
``logic.targets`` and the all-of rule of ``logic.aggregate``) follow the phase typed in the
metadata block, so a sheet keeps judging right when a clerk reuses it for the next phase.
Text from plans and rosters is written as text, never as a formula (``Cell.formula`` is
False): a writer must store such a string as a string even when it starts with "=" (with
xlwings, prefix it with "'").

Layouts are cached per (plan, phase, unit level); only the unit's own cells are built per
call, so thousands of templates are cheap.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import threading
import unicodedata
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from logic.plan import COMPONENTS, Indicator, Plan, Target
from logic.roster import Unit
from logic.targets import STATUS_LABELS, target_text
from logic.text import clean_text, safe_for_cell

__all__ = [
    "ASSESSMENTS",
    "COLUMNS",
    "HEADER_ROW",
    "INSTRUCTIONS_TITLE",
    "META_ROWS",
    "STATE_TITLE",
    "STATUS_NOT_OCCURRED",
    "STATUS_NO_TARGET",
    "STYLES",
    "Cell",
    "CondFormat",
    "SheetLayout",
    "UnitFields",
    "Validation",
    "col_letter",
    "instructions_layout",
    "pack_state",
    "report_layout",
    "sheet_title",
    "short_name",
    "state_layout",
    "unpack_state",
]

FONT = "Times New Roman"
INSTRUCTIONS_TITLE = "Hướng dẫn"
STATE_TITLE = "_thidua"
TEMPLATE_VERSION = "2"
STATE_CHUNK = 30_000
#: Since template 2 the plan and the roster ride in ``_thidua`` compressed, behind this mark.
STATE_PACKED = "zlib+base64:"
#: Packed text that inflates past this is refused (a compressed payload can be a bomb).
STATE_MAX_BYTES = 32 * 2**20

MET, MISSED = STATUS_LABELS["met"], STATUS_LABELS["missed"]
NO_DATA, NOT_APPLICABLE = STATUS_LABELS["no_data"], STATUS_LABELS["not_applicable"]
STATUS_NOT_OCCURRED = "Không phát sinh"
STATUS_NO_TARGET = "Chưa có chỉ tiêu"
#: Every word the assessment column can show.
ASSESSMENTS = (MET, MISSED, STATUS_NOT_OCCURRED, NO_DATA, STATUS_NO_TARGET, NOT_APPLICABLE)
YES, NO = "Có", "Không"

#: Table column of each role (1-based).
COLUMNS = {
    "stt": 1,
    "code": 2,
    "name": 3,
    "unit": 4,
    "target": 5,
    "v1": 6,
    "v2": 7,
    "rate": 8,
    "assess": 9,
    "note": 10,
}
LAST_COL = 10
HEADERS = {
    "stt": "STT",
    "code": "Mã chỉ tiêu",
    "name": "Nội dung chỉ tiêu",
    "unit": "Đơn vị tính",
    "target": "Chỉ tiêu",
    "v1": "Kỳ này / Số thực hiện",
    "v2": "Tổng số / Cùng kỳ năm trước",
    "rate": "Tỷ lệ / So với cùng kỳ",
    "assess": "Đánh giá",
    "note": "Ghi chú",
}
WIDTHS = {
    "stt": 5,
    "code": 9,
    "name": 40,
    "unit": 9,
    "target": 14,
    "v1": 11,
    "v2": 12,
    "rate": 11,
    "assess": 16,
    "note": 16,
}

#: Metadata: key → (row, label column, label, value column, defined name).
META_ROWS: dict[str, tuple[int, int, str, int, str]] = {
    "plan_id": (9, 1, "Mã kế hoạch:", 3, "thidua_plan"),
    "plan_version": (9, 5, "Phiên bản kế hoạch:", 7, "thidua_plan_version"),
    "unit": (10, 1, "Mã đơn vị:", 3, "thidua_unit"),
    "unit_name": (10, 5, "Tên đơn vị:", 7, "thidua_unit_name"),
    "phase": (11, 1, "Đợt thi đua:", 3, "thidua_phase"),
    "report_date": (12, 1, "Ngày báo cáo:", 3, "thidua_date"),
    "prepared_by": (13, 1, "Người lập biểu:", 3, "thidua_prepared_by"),
}
HEADER_ROW = 15
FIRST_ROW = HEADER_ROW + 1
_PHASE = "$C$11"  # the phase cell, read as text: a list pick may arrive as the number 2
_PHASE_TEXT = f'{_PHASE}&""'
_DATE = "$C$12"
_PREPARED_BY = "$C$13"
_EPS = "1E-9"  # logic.plan.Target.test tolerance


# --- styles -------------------------------------------------------------------------------


def _style(
    size: float = 11,
    *,
    bold: bool = False,
    italic: bool = False,
    underline: bool = False,
    color: str | None = None,
    h: str = "left",
    v: str = "center",
    wrap: bool = False,
    indent: int = 0,
    border: bool = False,
    fill: str | None = None,
    number_format: str = "General",
    locked: bool = True,
) -> dict[str, Any]:
    return {
        "font": {
            "name": FONT,
            "size": size,
            "bold": bold,
            "italic": italic,
            "underline": underline,
            "color": color,
        },
        "fill": fill,
        "border": "thin" if border else None,
        "align": {"h": h, "v": v, "wrap": wrap, "indent": indent},
        "number_format": number_format,
        "locked": locked,
    }


INPUT_FILL = "FFF5D6"  # pale yellow: "type here"
NA_FILL = "D9D9D9"  # grey: nothing to type
HEADER_FILL = "F2F2F2"
GROUP_FILL = "EDF2F9"

#: Style name → plain description: font (name, size, bold, italic, underline, color),
#: fill (RGB hex or None), border ("thin" on all sides or None), align (h, v, wrap, indent),
#: number_format, locked (False: an input cell left editable under sheet protection).
#: Conditional-format styles (``cf_*``) use only font color and fill.
STYLES: dict[str, dict[str, Any]] = {
    "plain": _style(12),
    "issuer": _style(12, h="center", wrap=True),
    "unit": _style(12, bold=True, h="center", wrap=True),
    "motto": _style(12, bold=True, h="center"),
    "motto2": _style(13, bold=True, underline=True, h="center"),
    "doc_no": _style(12, h="center"),
    "place_date": _style(12, italic=True, h="center"),
    "title": _style(14, bold=True, h="center"),
    "campaign": _style(13, bold=True, h="center", wrap=True),
    "phase_line": _style(12, italic=True, h="center"),
    "label": _style(12),
    "meta": _style(12, bold=True),
    "meta_text": _style(12, bold=True, number_format="@"),
    "meta_input": _style(12, fill=INPUT_FILL, number_format="@", locked=False),
    "meta_date": _style(12, fill=INPUT_FILL, number_format="dd/mm/yyyy", locked=False, h="left"),
    "header": _style(11, bold=True, h="center", wrap=True, border=True, fill=HEADER_FILL),
    "group_stt": _style(11, bold=True, h="center", border=True, fill=GROUP_FILL),
    "group_code": _style(11, bold=True, border=True, fill=GROUP_FILL),
    "group_name": _style(11, bold=True, wrap=True, indent=1, border=True, fill=GROUP_FILL),
    "stt": _style(11, h="center", border=True),
    "code": _style(11, h="center", border=True, number_format="@"),
    "name": _style(11, wrap=True, indent=1, border=True),
    "center": _style(11, h="center", wrap=True, border=True),
    "target": _style(11, h="center", wrap=True, border=True),
    "input_count": _style(
        11, h="right", border=True, fill=INPUT_FILL, number_format="#,##0", locked=False
    ),
    "input_yes_no": _style(11, h="center", border=True, fill=INPUT_FILL, locked=False),
    "note": _style(11, wrap=True, indent=1, border=True, fill=INPUT_FILL, locked=False),
    "na": _style(11, border=True, fill=NA_FILL),
    "rate": _style(11, h="center", border=True),
    "rate_ratio": _style(11, h="center", border=True, number_format="0.0%"),
    "rate_reduction": _style(
        11,
        h="center",
        wrap=True,
        border=True,
        number_format='"Giảm "0.0%;"Tăng "0.0%;"Không đổi"',
    ),
    "assess": _style(11, bold=True, h="center", wrap=True, border=True),
    "sign_title": _style(12, bold=True, h="center"),
    "sign_hint": _style(12, italic=True, h="center"),
    "sign_name": _style(12, bold=True, h="center"),
    "guide_title": _style(14, bold=True, h="center"),
    "guide_head": _style(12, bold=True, v="top", wrap=True),
    "guide_text": _style(12, v="top", wrap=True),
    "state": {"font": None, "fill": None, "border": None, "align": None,
              "number_format": "@", "locked": True},
    "cf_met": {"font": {"color": "006100"}, "fill": "C6EFCE"},
    "cf_missed": {"font": {"color": "9C0006"}, "fill": "FFC7CE"},
}  # fmt: skip


def _target_input_style(ind: Indicator, target: Target) -> tuple[str, dict[str, Any]]:
    """A pale-yellow target cell whose number format says the operator ("≥ 80%")."""
    op = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}[target.op]
    if ind.kind == "reduction":
        fmt = f'"Giảm {op} "0%'
    elif ind.is_percent:
        fmt = f'"{op} "0%'
    else:
        fmt = f'"{op} "#,##0'
    name = f"target_input:{fmt}"
    style = _style(
        11, h="center", wrap=True, border=True, fill=INPUT_FILL, number_format=fmt, locked=False
    )
    return name, style


# --- plain data ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell: 1-based ``row`` and ``col``, a value and a style name.

    ``formula`` True: ``value`` is a formula starting with "=". Otherwise ``value`` is a
    number, a date, None, or text to be stored as text whatever it starts with.
    """

    row: int
    col: int
    value: Any
    style: str
    formula: bool = False

    @property
    def ref(self) -> str:
        return f"{col_letter(self.col)}{self.row}"


@dataclass(frozen=True, slots=True)
class Validation:
    """A data-validation rule in Excel's terms.

    ``type``: whole, decimal, list, date, custom; ``operator``: between, greaterThanOrEqual
    …; ``formula1``/``formula2`` without the leading "=" (a list is ``'"Có,Không"'``; a
    custom formula is relative to the first cell of ``cells``). ``cells``: space-separated
    A1 ranges. Titles are at most 32 characters, messages at most 255.
    """

    cells: str
    type: str
    operator: str | None = None
    formula1: str | None = None
    formula2: str | None = None
    allow_blank: bool = True
    error_title: str = ""
    error: str = ""
    prompt_title: str = ""
    prompt: str = ""


@dataclass(frozen=True, slots=True)
class CondFormat:
    """Fill ``cells`` with ``style`` (a ``cf_*`` style) where the cell equals ``equals``."""

    cells: str
    equals: str
    style: str


@dataclass
class SheetLayout:
    """Everything needed to write one sheet.

    For a report sheet: ``rows`` maps indicator code → row; ``inputs`` maps
    (indicator, component) → cell ("F17"), with the extra components ``"target"`` (the
    editable target cell of a locally set target) and ``"note"``; ``meta`` maps a
    metadata key (see :data:`META_ROWS`) → value cell; ``names`` maps a defined name
    (sheet-scoped) → absolute reference ("$C$10").
    """

    title: str
    cells: list[Cell]
    styles: dict[str, dict[str, Any]]
    merges: list[str] = field(default_factory=list)
    validations: list[Validation] = field(default_factory=list)
    cond_formats: list[CondFormat] = field(default_factory=list)
    col_widths: dict[str, float] = field(default_factory=dict)
    row_heights: dict[int, float] = field(default_factory=dict)
    landscape: bool = True
    fit_to_width: bool = True
    print_title_rows: str | None = None
    print_area: str | None = None
    freeze: str | None = None
    margins: dict[str, float] = field(
        default_factory=lambda: {"left": 0.5, "right": 0.4, "top": 0.6, "bottom": 0.6,
                                 "header": 0.3, "footer": 0.3}
    )  # fmt: skip
    footer: str | None = None
    protect: bool = True
    hidden: bool = False
    names: dict[str, str] = field(default_factory=dict)
    header_row: int | None = None
    first_row: int | None = None
    last_row: int | None = None
    rows: dict[str, int] = field(default_factory=dict)
    inputs: dict[tuple[str, str], str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UnitFields:
    """The unit's own strings on a report sheet (everything else is shared by all units)."""

    code: str
    name: str
    upper: str  # top-left line
    place: str  # "Đông Sơn, ngày … tháng … năm …"
    title: str  # sheet name

    @classmethod
    def of(cls, unit: Unit) -> UnitFields:
        name = _text(unit.name)
        return cls(
            code=_text(unit.code),
            name=name,
            upper=name.upper(),
            place=short_name(unit.name)[:200],  # a formula string holds 255
            title=sheet_title(unit.name, fallback=_text(unit.code)[:31] or "Báo cáo"),
        )


# --- small helpers ------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def col_letter(col: int) -> str:
    """1 → "A", 26 → "Z", 27 → "AA": the letters of a 1-based column (the one place that
    spells them; ``locate.a1`` and the tally use it too)."""
    out = ""
    while col:
        col, r = divmod(col - 1, 26)
        out = chr(65 + r) + out
    return out


def _text(value: str | None, limit: int = 32_767) -> str:
    """Text from a plan or roster, as a cell can hold it (NFC, no control characters)."""
    return safe_for_cell(clean_text(value or ""))[:limit]


def _q(text: str) -> str:
    """A string literal inside a formula (Excel allows 255 characters)."""
    text = safe_for_cell(unicodedata.normalize("NFC", text))[:250]
    return '"' + text.replace('"', '""') + '"'


def _lit(x: float) -> str:
    """A number literal inside a formula, exactly as Python holds it."""
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x).upper()


def _lines(text: str, width: float, size: float = 11) -> int:
    """Estimated wrapped lines of ``text`` (Times New Roman, ``size`` pt) in a column
    ``width`` characters wide."""
    per_line = max(width * 1.05 * 11 / size, 1)
    return sum(max(1, math.ceil(len(part) / per_line)) for part in str(text).split("\n"))


def _height(lines: int, size: float = 11) -> float:
    # Excel on Windows needs about 1.3 × the font size per line; LibreOffice a little less
    return round(lines * size * 1.3 + 4, 1)


_PREFIXES = (
    "công an ",
    "thành phố ",
    "thị trấn ",
    "thị xã ",
    "phường ",
    "huyện ",
    "tỉnh ",
    "xã ",
    "tp. ",
    "tp ",
)


def short_name(name: str) -> str:
    """The unit's name without its administrative prefix: "Xã Đông Sơn" → "Đông Sơn"."""
    text = _text(name)
    lowered = text.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix) and len(text) > len(prefix):
            return short_name(text[len(prefix) :])
    return text


_BAD_TITLE = str.maketrans({c: " " for c in "[]:*?/\\"})


def sheet_title(unit_name: str, fallback: str = "Báo cáo") -> str:
    """A sheet name for the unit: its short name, at most 31 characters, no []:*?/\\."""
    title = " ".join(short_name(unit_name).translate(_BAD_TITLE).split()).strip("'")[:31]
    title = title.strip() or fallback
    if title.casefold() in (INSTRUCTIONS_TITLE.casefold(), STATE_TITLE.casefold(), "history"):
        title = f"{title} (BC)"
    return title


def _date_text(d: dt.date) -> str:
    return f"{d:%d/%m/%Y}"


def _switch(by_phase: Mapping[str, str], default: str) -> str:
    """An expression that picks ``by_phase[p]`` when the phase cell says p, else ``default``."""
    distinct = set(by_phase.values())
    if len(distinct) <= 1:
        return next(iter(distinct), default)
    expr = default
    for code, body in reversed(list(by_phase.items())):
        if body != default:
            expr = f"IF({_PHASE_TEXT}={_q(code)},{body},{expr})"
    return expr


# --- the indicator table (cached per plan, phase and unit level) ---------------------------


def _level_target(ind: Indicator, phase: str, level: str) -> Target | None:
    """The target a unit of ``level`` is judged on (as ``logic.aggregate._target`` for one phase)."""
    if level not in ind.levels:
        return None
    if level != "commune" and level in ind.level_targets:
        return ind.level_targets[level]
    return ind.target_for(phase)


def _test(x: str, t: str, op: str) -> str:
    """Formula for ``x OP t`` with the tolerance of ``Target.test``."""
    match op:
        case ">=":
            return f"{x}>={t}-{_EPS}"
        case ">":
            return f"{x}>{t}+{_EPS}"
        case "<=":
            return f"{x}<={t}+{_EPS}"
        case "<":
            return f"{x}<{t}-{_EPS}"
    return f"ABS({x}-{t})<={_EPS}"


@dataclass(frozen=True)
class _RowRefs:
    v1: str
    v2: str
    target: str
    assess: str


def _judge_formula(
    ind: Indicator, target: Target | None, refs: _RowRefs, plan: Plan, phase: str
) -> str:
    """The assessment of one indicator for one phase, mirroring ``logic.targets``."""
    f, g, e = refs.v1, refs.v2, refs.target
    local = target is not None and not target.judgeable
    if ind.is_percent:
        t_expr = f"IF({e}>1,{e}/100,{e})" if local else None
    else:
        t_expr = e if local else None
    if target is not None and not local:
        t_expr = _lit(target.value)

    def with_target(body: str) -> str:
        if local:
            return f'IF(NOT(ISNUMBER({e})),"{STATUS_NO_TARGET}",{body})'
        return body

    verdict = f'"{MET}","{MISSED}"'
    if ind.kind in ("ratio", "reduction"):
        no_data = f"NOT(AND(ISNUMBER({f}),ISNUMBER({g})))"
        if target is None:
            return f'IF({no_data},"{NO_DATA}","{NOT_APPLICABLE}")'
        if ind.kind == "ratio":
            test = _test(f"{f}/{g}", t_expr, target.op)
            return (
                f'IF({no_data},"{NO_DATA}",IF({g}<=0,"{STATUS_NOT_OCCURRED}",'
                f"{with_target(f'IF({test},{verdict})')}))"
            )
        test = _test(f"({g}-{f})/{g}", t_expr, target.op)
        body = f"IF({g}<=0,IF({f}<=0,{verdict}),IF({test},{verdict}))"
        return f'IF({no_data},"{NO_DATA}",{with_target(body)})'
    if ind.kind in ("count", "minimum"):
        no_data = f"NOT(ISNUMBER({f}))"
        if target is None:
            return f'IF({no_data},"{NO_DATA}","{NOT_APPLICABLE}")'
        t = t_expr
        if ind.kind == "count" and target.op in (">=", ">"):
            # logic.aggregate._paced: an interim report is judged against the time elapsed
            p = plan.phase(phase)
            start = f"DATE({p.start.year},{p.start.month},{p.start.day})"
            end = f"DATE({p.end.year},{p.end.month},{p.end.day})"
            elapsed = f"MAX(0,MIN(1,(INT({_DATE})-{start}+1)/{p.days}))"
            t = (
                # nested, not AND(): a date typed as text must not reach INT()
                f"IF(ISNUMBER({_DATE}),IF(INT({_DATE})<{end},"
                f"INT({t_expr}*{elapsed}+{_EPS}),{t_expr}),{t_expr})"
            )
        return f'IF({no_data},"{NO_DATA}",{with_target(f"IF({_test(f, t, target.op)},{verdict})")})'
    if ind.kind == "yes_no":
        if target is None:
            done, not_done = f'"{NOT_APPLICABLE}"', f'"{NOT_APPLICABLE}"'
        else:
            # logic.targets.judge_yes_no: done is met unless a set target refuses 1
            met_if_done = not target.judgeable or target.test(1.0)
            done, not_done = f'"{MET if met_if_done else MISSED}"', f'"{MISSED}"'
        return (
            f'IF(ISNUMBER({f}),IF({f}=1,{done},IF({f}=0,{not_done},"{NO_DATA}")),'
            f'IF(TRIM({f})="{YES}",{done},IF(TRIM({f})="{NO}",{not_done},"{NO_DATA}")))'
        )
    raise AssertionError(ind.kind)


def _all_of_formula(part_cells: list[str]) -> str:
    """logic.aggregate's all-of rule: any missed → missed; else any no data → no data;
    else none met (all not applicable) → not applicable; else met."""

    def any_is(word: str) -> str:
        return "OR(" + ",".join(f'{c}="{word}"' for c in part_cells) + ")"

    return (
        f'IF({any_is(MISSED)},"{MISSED}",IF({any_is(NO_DATA)},"{NO_DATA}",'
        f'IF({any_is(MET)},"{MET}","{NOT_APPLICABLE}")))'
    )


@dataclass(frozen=True)
class _Table:
    cells: tuple[Cell, ...]
    styles: dict[str, dict[str, Any]]
    merges: tuple[str, ...]
    validations: tuple[Validation, ...]
    cond_formats: tuple[CondFormat, ...]
    row_heights: dict[int, float]
    rows: dict[str, int]
    inputs: dict[tuple[str, str], str]
    last_row: int
    phase_line: str
    guide: SheetLayout


def _group_order(plan: Plan) -> list[tuple[str | None, str, list[Indicator]]]:
    """(group code, group name, indicators) in the plan's order; ungrouped last."""
    if not any(i.group for i in plan.indicators):
        return [(None, "", list(plan.indicators))]
    order: list[str | None] = [g.code for g in plan.groups]
    for ind in plan.indicators:
        if ind.group not in order:
            order.append(ind.group)
    out = []
    for code in order:
        members = [i for i in plan.indicators if i.group == code]
        if members:
            name = plan.group_name(code) if code is not None else "Chỉ tiêu khác"
            out.append((code, name, members))
    return out


def _group_letter(n: int) -> str:
    return col_letter(n + 1)


def _component_prompt(ind: Indicator, comp: str) -> tuple[str, str]:
    label = _text(ind.label(comp), 200)
    title = {
        "numerator": "Tử số",
        "denominator": "Mẫu số",
        "current": "Kỳ này",
        "baseline": "Cùng kỳ năm trước",
        "count": "Số lượng",
        "done": "Có/Không",
    }[comp]
    return title, f"{ind.code}: {label}"[:250]


def _build_table(plan: Plan, phase: str, level: str) -> _Table:
    c = COLUMNS
    L = col_letter
    styles: dict[str, dict[str, Any]] = {}
    cells: list[Cell] = []
    merges: list[str] = []
    validations: list[Validation] = []
    heights: dict[int, float] = {}
    rows: dict[str, int] = {}
    inputs: dict[tuple[str, str], str] = {}

    header_lines = 1
    for role, text in HEADERS.items():
        cells.append(Cell(HEADER_ROW, c[role], text, "header"))
        header_lines = max(header_lines, _lines(text, WIDTHS[role], 13))  # bold: wider
    heights[HEADER_ROW] = _height(header_lines)

    # place every row first: all-of formulas refer to their parts' rows
    r = FIRST_ROW
    plan_rows: list[tuple[str, Any]] = []
    for n, (_gcode, gname, members) in enumerate(_group_order(plan)):
        if gname:
            plan_rows.append(("group", (_group_letter(n), gname)))
            r += 1
        for k, ind in enumerate(members, start=1):
            rows[ind.code] = r
            plan_rows.append(("ind", (k, ind)))
            r += 1
    last_row = r - 1

    r = FIRST_ROW
    for what, data in plan_rows:
        if what == "group":
            letter, gname = data
            cells.append(Cell(r, c["stt"], letter, "group_stt"))
            cells.append(Cell(r, c["code"], None, "group_code"))
            cells.append(Cell(r, c["name"], _text(gname), "group_name"))
            for col in range(c["name"] + 1, LAST_COL + 1):
                cells.append(Cell(r, col, None, "group_name"))
            merges.append(f"{L(c['name'])}{r}:{L(LAST_COL)}{r}")
            merged_width = sum(WIDTHS[k] for k in list(WIDTHS)[c["name"] - 1 :])
            heights[r] = _height(_lines(gname, merged_width, 12))  # bold
            r += 1
            continue
        stt, ind = data
        refs = _RowRefs(
            f"{L(c['v1'])}{r}", f"{L(c['v2'])}{r}", f"{L(c['target'])}{r}", f"{L(c['assess'])}{r}"
        )
        # component labels go to the input prompts and the instructions, not the printout
        name = _text(ind.name)
        cells.append(Cell(r, c["stt"], stt, "stt"))
        cells.append(Cell(r, c["code"], _text(ind.code), "code"))
        cells.append(Cell(r, c["name"], name, "name"))
        unit = "" if ind.kind == "all_of" else _text(ind.unit)
        cells.append(Cell(r, c["unit"], unit, "center"))

        targets = {p.code: _level_target(ind, p.code, level) for p in plan.phases}
        target = targets[phase]
        # the target cell: text, or an input where this phase's target is set locally
        if ind.kind == "all_of":
            cells.append(Cell(r, c["target"], _text(target_text(ind, ind.target)), "target"))
        elif target is not None and not target.judgeable and ind.kind != "yes_no":
            sname, sdef = _target_input_style(ind, target)
            styles[sname] = sdef
            cells.append(Cell(r, c["target"], "Do địa phương đặt", sname))
            inputs[(ind.code, "target")] = refs.target
            pct = ind.is_percent
            validations.append(
                Validation(
                    refs.target,
                    "decimal",
                    "between" if pct else "greaterThanOrEqual",
                    "0",
                    "1" if pct else None,
                    error_title="Chỉ tiêu không hợp lệ",
                    error=(
                        "Nhập chỉ tiêu dạng phần trăm, ví dụ 80%."
                        if pct
                        else "Nhập chỉ tiêu là số không âm."
                    ),
                    prompt_title="Chỉ tiêu do địa phương đặt",
                    prompt=(
                        "Gõ chỉ tiêu địa phương đặt cho đợt này"
                        + (" (ví dụ 80%)." if pct else " (ví dụ 3).")
                    ),
                )
            )
        else:
            texts = {p: _text(target_text(ind, t)) for p, t in targets.items()}
            default = texts[phase]
            if len(set(texts.values())) > 1:
                expr = _switch({p: _q(t) for p, t in texts.items()}, _q(default))
                cells.append(Cell(r, c["target"], f"={expr}", "target", formula=True))
            else:
                cells.append(Cell(r, c["target"], default, "target"))

        comps = COMPONENTS[ind.kind]
        # input cells
        if ind.kind == "all_of":
            cells.append(Cell(r, c["v1"], None, "na"))
            cells.append(Cell(r, c["v2"], None, "na"))
        elif ind.kind == "yes_no":
            cells.append(Cell(r, c["v1"], None, "input_yes_no"))
            cells.append(Cell(r, c["v2"], None, "na"))
            inputs[(ind.code, "done")] = refs.v1
            title, prompt = _component_prompt(ind, "done")
            validations.append(
                Validation(
                    refs.v1,
                    "list",
                    formula1=f'"{YES},{NO}"',
                    error_title="Chỉ chọn Có hoặc Không",
                    error="Chọn “Có” (đã thực hiện) hoặc “Không” trong danh sách.",
                    prompt_title=title,
                    prompt=prompt,
                )
            )
        else:
            cells.append(Cell(r, c["v1"], None, "input_count"))
            inputs[(ind.code, comps[0])] = refs.v1
            if len(comps) == 2:
                cells.append(Cell(r, c["v2"], None, "input_count"))
                inputs[(ind.code, comps[1])] = refs.v2
            else:
                cells.append(Cell(r, c["v2"], None, "na"))
            if ind.kind == "ratio":
                f, g = refs.v1, refs.v2
                for ref, other, comp in ((f, g, "numerator"), (g, f, "denominator")):
                    num, den = (ref, other) if comp == "numerator" else (other, ref)
                    title, prompt = _component_prompt(ind, comp)
                    validations.append(
                        Validation(
                            ref,
                            "custom",
                            formula1=(
                                f"AND(ISNUMBER({ref}),{ref}>=0,{ref}=INT({ref}),"
                                f"OR(NOT(ISNUMBER({other})),{num}<={den}))"
                            ),
                            error_title="Số liệu không hợp lệ",
                            error=(
                                "Nhập số nguyên không âm; số đạt (tử số, cột “Kỳ này / Số thực "
                                "hiện”) không được lớn hơn tổng số (mẫu số)."
                            ),
                            prompt_title=title,
                            prompt=prompt,
                        )
                    )
            else:
                for comp, ref in zip(comps, (refs.v1, refs.v2), strict=False):
                    title, prompt = _component_prompt(ind, comp)
                    validations.append(
                        Validation(
                            ref,
                            "whole",
                            "greaterThanOrEqual",
                            "0",
                            error_title="Số liệu không hợp lệ",
                            error="Nhập số nguyên không âm (0, 1, 2, …), không gõ chữ hay dấu %.",
                            prompt_title=title,
                            prompt=prompt,
                        )
                    )

        # rate / change
        f, g = refs.v1, refs.v2
        both = f"AND(ISNUMBER({f}),ISNUMBER({g}))"
        if ind.kind == "ratio":
            cells.append(
                Cell(r, c["rate"], f'=IF({both},IF({g}>0,{f}/{g},""),"")', "rate_ratio", True)
            )
        elif ind.kind == "reduction":
            grew = f'"Tăng "&{f}&" "&{_q(ind.unit)}'
            cells.append(
                Cell(
                    r,
                    c["rate"],
                    f'=IF({both},IF({g}>0,({g}-{f})/{g},IF({f}>0,{grew},"")),"")',
                    "rate_reduction",
                    True,
                )
            )
        elif ind.kind == "all_of":
            parts = [f"{L(c['assess'])}{rows[p]}" for p in ind.parts]
            met = "+".join(f'({p}="{MET}")' for p in parts)
            cells.append(Cell(r, c["rate"], f'=({met})&"/{len(parts)} đạt"', "rate", formula=True))
        else:
            cells.append(Cell(r, c["rate"], None, "rate"))

        # assessment
        if ind.kind == "all_of":
            parts = [f"{L(c['assess'])}{rows[p]}" for p in ind.parts]
            formula = _all_of_formula(parts)
        else:
            bodies = {
                p.code: _judge_formula(ind, targets[p.code], refs, plan, p.code)
                for p in plan.phases
            }
            formula = _switch(bodies, bodies[phase])
        cells.append(Cell(r, c["assess"], f"={formula}", "assess", formula=True))

        cells.append(Cell(r, c["note"], None, "note"))
        inputs[(ind.code, "note")] = f"{L(c['note'])}{r}"
        heights[r] = _height(
            max(_lines(name, WIDTHS["name"]), _lines(target_text(ind, target), WIDTHS["target"]), 1)
        )
        r += 1

    assess_range = f"{L(c['assess'])}{FIRST_ROW}:{L(c['assess'])}{max(last_row, FIRST_ROW)}"
    cond = (
        CondFormat(assess_range, MET, "cf_met"),
        CondFormat(assess_range, MISSED, "cf_missed"),
    )
    p = plan.phase(phase)
    return _Table(
        cells=tuple(cells),
        styles=styles,
        merges=tuple(merges),
        validations=tuple(validations),
        cond_formats=cond,
        row_heights=heights,
        rows=rows,
        inputs=inputs,
        last_row=last_row,
        phase_line=f"Đợt {p.code}: từ {_date_text(p.start)} đến {_date_text(p.end)}",
        guide=_build_guide(plan, phase, level, rows),
    )


_cache_lock = threading.Lock()
_cache: dict[int, tuple[Plan, dict[tuple[str, str], _Table]]] = {}
_CACHE_PLANS = 16


def _table(plan: Plan, phase: str, level: str) -> _Table:
    """The cached table of (plan, phase, level); plans are keyed by identity."""
    with _cache_lock:
        entry = _cache.get(id(plan))
        if entry is None or entry[0] is not plan:
            if len(_cache) >= _CACHE_PLANS:
                _cache.pop(next(iter(_cache)))
            entry = (plan, {})
            _cache[id(plan)] = entry
        table = entry[1].get((phase, level))
    if table is None:
        plan.phase(phase)  # KeyError for an unknown phase, before any work
        table = _build_table(plan, phase, level)
        with _cache_lock:
            entry[1][(phase, level)] = table
    return table


# --- the report sheet ---------------------------------------------------------------------


def report_layout(
    plan: Plan,
    phase: str,
    unit: Unit,
    *,
    issuer: str | None = None,
    report_date: dt.date | None = None,
    fields: UnitFields | None = None,
) -> SheetLayout:
    """The report sheet of ``unit`` for ``phase`` of ``plan``.

    ``issuer`` is the top-left line above the unit's name (default: the plan's issuer).
    ``fields`` overrides the unit's own strings (see :class:`UnitFields`). Raises KeyError
    for a phase the plan does not have.
    """
    table = _table(plan, phase, unit.level)
    c = COLUMNS
    L = col_letter
    last = LAST_COL
    fields = fields or UnitFields.of(unit)
    place = fields.place
    cells: list[Cell] = []
    merges = [
        "A1:D1",
        "A2:D2",
        "A3:D3",
        f"F1:{L(last)}1",
        f"F2:{L(last)}2",
        f"F3:{L(last)}3",
        f"A5:{L(last)}5",
        f"A6:{L(last)}6",
        f"A7:{L(last)}7",
    ]
    head = (issuer or plan.issuer or "").upper()
    cells += [
        Cell(1, 1, _text(head), "issuer"),
        Cell(2, 1, fields.upper, "unit"),
        Cell(3, 1, "Số:        /BC", "doc_no"),
        Cell(1, 6, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "motto"),
        Cell(2, 6, "Độc lập - Tự do - Hạnh phúc", "motto2"),
    ]
    day = f'RIGHT("0"&DAY({_DATE}),2)&" tháng "&RIGHT("0"&MONTH({_DATE}),2)&" năm "&YEAR({_DATE})'
    cells.append(
        Cell(
            3,
            6,
            f"=IF(ISNUMBER({_DATE}),{_q(place + ', ngày ')}&{day},"
            f"{_q(place + ', ngày …… tháng …… năm ……')})",
            "place_date",
            formula=True,
        )
    )
    cells.append(Cell(5, 1, "BÁO CÁO KẾT QUẢ THỰC HIỆN CHỈ TIÊU THI ĐUA", "title"))
    cells.append(Cell(6, 1, _text(plan.name), "campaign"))
    phase_lines = {
        p.code: _q(f"Đợt {p.code}: từ {_date_text(p.start)} đến {_date_text(p.end)}")
        for p in plan.phases
    }
    cells.append(
        Cell(7, 1, "=" + _switch(phase_lines, _q(table.phase_line)), "phase_line", formula=True)
    )

    values = {
        "plan_id": (_text(plan.id), "meta_text"),
        "plan_version": (_text(plan.version), "meta_text"),
        "unit": (fields.code, "meta_text"),
        "unit_name": (fields.name, "meta"),
        "phase": (_text(phase), "meta_input"),
        "report_date": (report_date, "meta_date"),
        "prepared_by": (None, "meta_input"),
    }
    meta: dict[str, str] = {}
    names: dict[str, str] = {}
    for key, (row, lcol, label, vcol, name) in META_ROWS.items():
        value, style = values[key]
        cells.append(Cell(row, lcol, label, "label"))
        merges.append(f"{L(lcol)}{row}:{L(lcol + 1)}{row}")
        if vcol == 7:
            merges.append(f"{L(vcol)}{row}:{L(last)}{row}")
        cells.append(Cell(row, vcol, value, style))
        meta[key] = f"{L(vcol)}{row}"
        names[name] = f"${L(vcol)}${row}"

    validations = [
        Validation(
            meta["phase"],
            "list",
            formula1='"' + ",".join(p.code.replace(",", " ") for p in plan.phases) + '"',
            allow_blank=False,
            error_title="Đợt không hợp lệ",
            error="Chọn đợt thi đua trong danh sách.",
            prompt_title="Đợt thi đua",
            prompt="Chọn đợt của báo cáo này.",
        ),
        Validation(
            meta["report_date"],
            "date",
            "between",
            "DATE(2000,1,1)",
            "DATE(2100,12,31)",
            error_title="Ngày không hợp lệ",
            error="Nhập ngày dạng ngày/tháng/năm, ví dụ 05/02/2025.",
            prompt_title="Ngày báo cáo",
            prompt="Ngày/tháng/năm, ví dụ 05/02/2025.",
        ),
        *table.validations,
    ]

    cells.extend(table.cells)
    merges.extend(table.merges)

    # signature block
    s = table.last_row + 2
    right = f"G{s}:{L(last)}{s}"
    cells += [
        Cell(s, c["name"], "NGƯỜI LẬP BIỂU", "sign_title"),
        Cell(s, 7, "THỦ TRƯỞNG ĐƠN VỊ", "sign_title"),
        Cell(s + 1, c["name"], "(Ký, ghi rõ họ tên)", "sign_hint"),
        Cell(s + 1, 7, "(Ký, ghi rõ họ tên)", "sign_hint"),
        Cell(s + 6, c["name"], f'=IF({_PREPARED_BY}="","",{_PREPARED_BY})', "sign_name", True),
    ]
    merges += [right, f"G{s + 1}:{L(last)}{s + 1}"]

    heights = {1: 18.0, 2: 18.0, 3: 18.0, 5: 21.0, 7: 18.0}
    heights[6] = _height(_lines(plan.name or "", sum(WIDTHS.values()), 13), 13)
    heights.update(table.row_heights)
    styles = dict(STYLES)
    styles.update(table.styles)
    return SheetLayout(
        title=fields.title,
        cells=cells,
        styles=styles,
        merges=merges,
        validations=validations,
        cond_formats=list(table.cond_formats),
        col_widths={L(c[k]): w for k, w in WIDTHS.items()},
        row_heights=heights,
        landscape=True,
        fit_to_width=True,
        print_title_rows=f"{HEADER_ROW}:{HEADER_ROW}",
        print_area=f"A1:{L(last)}{s + 6}",
        freeze=f"A{FIRST_ROW}",
        footer="Trang &P/&N",
        names=names,
        header_row=HEADER_ROW,
        first_row=FIRST_ROW,
        last_row=table.last_row,
        rows=dict(table.rows),
        inputs=dict(table.inputs),
        meta=meta,
    )


# --- the instructions sheet ---------------------------------------------------------------

_GUIDE = [
    ("head", "1. Cách điền"),
    (
        "text",
        "• Chỉ nhập vào các ô nền vàng: số liệu ở cột “Kỳ này / Số thực hiện” và “Tổng số / "
        "Cùng kỳ năm trước”, cột “Ghi chú”, các ô “Ngày báo cáo”, “Người lập biểu”, “Đợt thi "
        "đua” và ô chỉ tiêu của những chỉ tiêu do địa phương đặt. Các ô khác đã được khóa để "
        "tránh sửa nhầm (khóa không có mật khẩu).",
    ),
    (
        "text",
        "• Nhập số nguyên không âm (0, 1, 2, …); không gõ chữ, dấu % hay đơn vị tính vào ô số "
        "liệu. Số 0 nghĩa là không có trường hợp nào; để trống nghĩa là chưa có số liệu (không "
        "được tính là 0).",
    ),
    (
        "text",
        "• Chỉ tiêu tỷ lệ: cột “Kỳ này / Số thực hiện” là số đạt (tử số), cột “Tổng số” là mẫu "
        "số; số đạt không được lớn hơn tổng số. Khi tổng số bằng 0 (không có trường hợp nào) "
        "thì đánh giá là “Không phát sinh”.",
    ),
    (
        "text",
        "• Chỉ tiêu giảm so với cùng kỳ: nhập số vụ (số trường hợp) kỳ này và cùng kỳ năm "
        "trước; tỷ lệ giảm được tính tự động. Nếu cùng kỳ năm trước bằng 0 thì kỳ này bằng 0 là "
        "Đạt, lớn hơn 0 là Không đạt.",
    ),
    ("text", "• Chỉ tiêu Có/Không: chọn “Có” hoặc “Không” trong danh sách của ô."),
    (
        "text",
        "• Chỉ tiêu “Do địa phương đặt”: gõ giá trị chỉ tiêu địa phương vào ô của cột “Chỉ "
        "tiêu” (ví dụ 80% hoặc 3). Khi chưa gõ, đánh giá là “Chưa có chỉ tiêu”.",
    ),
    (
        "text",
        "• Ngày báo cáo ghi dạng ngày/tháng/năm (ví dụ 05/02/2025). Báo cáo lập trước khi kết "
        "thúc đợt là báo cáo giữa kỳ: chỉ tiêu số lượng được so theo tiến độ thời gian đã qua "
        "của đợt.",
    ),
    ("head", "2. Ý nghĩa các cột"),
    ("text", "• STT: số thứ tự; các dòng A, B, C… là nhóm nội dung."),
    ("text", "• Mã chỉ tiêu: mã dùng để tổng hợp tự động; không được sửa."),
    ("text", "• Nội dung chỉ tiêu, Đơn vị tính, Chỉ tiêu: theo kế hoạch thi đua của cấp trên."),
    (
        "text",
        "• Kỳ này / Số thực hiện: số đạt (chỉ tiêu tỷ lệ), số vụ kỳ này (chỉ tiêu giảm), số "
        "lượng (chỉ tiêu số lượng), Có/Không (chỉ tiêu Có/Không).",
    ),
    (
        "text",
        "• Tổng số / Cùng kỳ năm trước: tổng số (mẫu số của chỉ tiêu tỷ lệ) hoặc số vụ cùng kỳ "
        "năm trước (chỉ tiêu giảm); ô nền xám là không cần nhập.",
    ),
    (
        "text",
        "• Tỷ lệ / So với cùng kỳ: tính tự động (tỷ lệ đạt, hoặc mức giảm/tăng so với cùng kỳ).",
    ),
    ("text", "• Đánh giá: tính tự động, xem mục 3."),
    ("text", "• Ghi chú: giải thích thêm nếu cần (lý do chưa đạt, số liệu ước tính…)."),
    ("head", "3. Đánh giá"),
    (
        "text",
        "• Đạt / Không đạt: so kết quả với chỉ tiêu. “Trên 95%” nghĩa là phải lớn hơn hẳn 95%; "
        "“đạt”, “ít nhất”, “tối thiểu” nghĩa là bằng hoặc lớn hơn.",
    ),
    ("text", "• Không phát sinh: chỉ tiêu tỷ lệ không có trường hợp nào (0/0)."),
    ("text", "• Chưa có số liệu: còn ô số liệu để trống hoặc nhập không đúng."),
    ("text", "• Chưa có chỉ tiêu: chỉ tiêu do địa phương đặt nhưng chưa ghi giá trị."),
    ("text", "• Không áp dụng: chỉ tiêu không đánh giá ở cấp đơn vị này."),
    (
        "text",
        "• Chỉ tiêu “Đạt tất cả”: chỉ Đạt khi mọi chỉ tiêu thành phần đều Đạt; Không đạt nếu có "
        "một thành phần Không đạt.",
    ),
    ("head", "4. Không được thay đổi"),
    (
        "text",
        "• Không sửa mã chỉ tiêu, mã kế hoạch, phiên bản kế hoạch, mã đơn vị; không chèn, xóa "
        "hay sắp xếp lại các dòng của bảng chỉ tiêu; không xóa hay sửa trang ẩn “_thidua” (trang "
        "này giúp tổng hợp tự động).",
    ),
    ("head", "5. Gửi báo cáo"),
    (
        "text",
        "• Lưu tệp dạng Excel (.xlsx), giữ nguyên tên tệp, gửi qua thư điện tử cho đơn vị cấp "
        "trên trước hạn của đợt. Không gửi ảnh chụp hay tệp PDF thay cho tệp Excel; có thể gửi "
        "kèm bản in có chữ ký.",
    ),
    (
        "text",
        "• Cần sửa số liệu đã gửi: sửa ngay trên tệp này và gửi lại cả tệp; bản gửi sau sẽ "
        "thay thế bản gửi trước.",
    ),
]


def _build_guide(plan: Plan, phase: str, level: str, rows: dict[str, int]) -> SheetLayout:
    p = plan.phase(phase)
    # fits portrait A4 unscaled (LibreOffice does not shrink a single wide column); a width
    # unit is the "0" of the workbook's default font, Times New Roman 12 (about 8 px)
    width = 85
    cells = [
        Cell(1, 1, "HƯỚNG DẪN ĐIỀN BÁO CÁO KẾT QUẢ THỰC HIỆN CHỈ TIÊU THI ĐUA", "guide_title"),
        Cell(2, 1, _text(plan.name), "guide_head"),
        Cell(
            3,
            1,
            _text(
                f"Mã kế hoạch: {plan.id} (phiên bản {plan.version}). Đợt {p.code}: từ "
                f"{_date_text(p.start)} đến {_date_text(p.end)}."
            ),
            "guide_text",
        ),
    ]
    heights = {1: 21.0, 2: _height(_lines(plan.name, width, 12), 12), 3: 18.0}
    r = 5
    for style, text in _GUIDE:
        cells.append(Cell(r, 1, text, f"guide_{style}"))
        heights[r] = _height(_lines(text, width, 12), 12)
        r += 1
    cells.append(Cell(r, 1, "6. Các chỉ tiêu của đợt này", "guide_head"))
    r += 1
    for _g, gname, members in _group_order(plan):
        if gname:
            cells.append(Cell(r, 1, _text(gname), "guide_head"))
            heights[r] = _height(_lines(gname, width, 12), 12)
            r += 1
        for ind in members:
            # one cell per indicator, the code inside the text: a code alone in a cell
            # would make this sheet look like a report to the reader
            target = _level_target(ind, phase, level)
            parts = [f"• {ind.code} — {_text(ind.name)}"]
            if ind.kind == "all_of":
                parts.append(f"Đạt khi tất cả các chỉ tiêu {', '.join(ind.parts)} đều Đạt.")
            else:
                shown = target_text(ind, target) if target is not None else "không đánh giá"
                parts.append(f"Chỉ tiêu: {_text(shown)}.")
                labels = [
                    f"{_component_prompt(ind, k)[0]}: {_text(ind.label(k))}" for k in ind.components
                ]
                parts.append("Nhập " + "; ".join(labels) + f" (đơn vị tính: {_text(ind.unit)}).")
            if ind.note:
                parts.append(_text(ind.note))
            text = " ".join(parts)
            cells.append(Cell(r, 1, text, "guide_text"))
            heights[r] = _height(_lines(text, width, 12), 12)
            r += 1
    return SheetLayout(
        title=INSTRUCTIONS_TITLE,
        cells=cells,
        styles={k: STYLES[k] for k in ("guide_title", "guide_head", "guide_text")},
        col_widths={"A": width},
        row_heights=heights,
        landscape=False,
        fit_to_width=True,
        print_area=f"A1:A{r - 1}",
    )


def instructions_layout(plan: Plan, phase: str, level: str = "commune") -> SheetLayout:
    """The "Hướng dẫn" sheet: how to fill, what each column means, how to send.

    Cached and shared between calls: do not change the returned layout.
    """
    return _table(plan, phase, level).guide


# --- the hidden state sheet ---------------------------------------------------------------


def _chunks(text: str) -> list[str]:
    return [text[i : i + STATE_CHUNK] for i in range(0, len(text), STATE_CHUNK)] or [""]


def pack_state(text: str) -> str:
    """JSON text as ``_thidua`` carries it since template 2: zlib, then base64, marked.

    Excel and LibreOffice move every text cell into the shared strings when they save, and
    every reader parses all of them when it opens the file: the plain JSON (85 KB, 190 KB
    XML-escaped) made a saved report 20 times slower to open. Packed, it is 11 KB.
    """
    packed = base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")
    return STATE_PACKED + packed


def unpack_state(text: str) -> str:
    """The JSON text of a ``_thidua`` row, packed (template 2) or plain (template 1).

    Raises ValueError when packed text is broken or inflates past ``STATE_MAX_BYTES``.
    """
    if not text.startswith(STATE_PACKED):
        return text
    try:
        raw = base64.b64decode(text[len(STATE_PACKED) :].strip(), validate=True)
        inflate = zlib.decompressobj()
        out = inflate.decompress(raw, STATE_MAX_BYTES)
        if inflate.unconsumed_tail or not inflate.eof:
            raise ValueError("packed state too large or truncated")
        return out.decode("utf-8")
    except zlib.error as e:
        raise ValueError(str(e)) from None


def state_layout(plan: Plan, plan_json: str, roster_json: str) -> SheetLayout:
    """The hidden "_thidua" sheet: template version, plan id and version, the plan and the
    roster rows as packed JSON (:func:`pack_state`) split into cells of 30,000 characters
    (B4, C4 … and B5, C5 …)."""
    cells = [
        Cell(1, 1, "thidua-template", "state"),
        Cell(1, 2, TEMPLATE_VERSION, "state"),
        Cell(2, 1, "plan_id", "state"),
        Cell(2, 2, plan.id, "state"),
        Cell(3, 1, "plan_version", "state"),
        Cell(3, 2, plan.version, "state"),
        Cell(4, 1, "plan_json", "state"),
        Cell(5, 1, "roster_json", "state"),
    ]
    for row, text in ((4, plan_json), (5, roster_json)):
        packed = _chunks(pack_state(text))
        cells += [Cell(row, 2 + k, chunk, "state") for k, chunk in enumerate(packed)]
    return SheetLayout(
        title=STATE_TITLE,
        cells=cells,
        styles={"state": STYLES["state"]},
        protect=True,
        hidden=True,
        fit_to_width=False,
    )
