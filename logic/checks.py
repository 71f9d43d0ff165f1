"""Value rules: what a report's cells say, and every problem as a finding.

Pure functions over plain values (cell values as a reader or xlwings gives them, the plan,
the roster, ``Report`` lists). The reader (``workbooks.reader``) and the add-in locate the
cells, then call these; each function's docstring lists the finding codes it can yield.

Every component is a count (numerator, denominator, current, baseline, count) or a yes/no
(done): values must be whole, not negative, and a rate typed in place of a count is an
error. An error makes the value unusable (None: the indicator is "no data" for that unit,
never zero); a warning keeps the value.
"""

from __future__ import annotations

import datetime as dt
import statistics
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .aggregate import Report
from .findings import Finding, finding
from .numbers import format_vn, is_integral, parse_date, parse_number, parse_yes_no
from .plan import COMPONENTS, Indicator, Plan
from .roster import LEVEL_LABELS, Roster, Unit
from .text import clean_text, fold

__all__ = [
    "OUTLIER_FACTOR",
    "OUTLIER_MIN_PEERS",
    "OUTLIER_MIN_SIZE",
    "REPORT_GRACE_DAYS",
    "CellIssue",
    "Identity",
    "check_components",
    "check_identity",
    "check_phase",
    "check_plan",
    "check_report_date",
    "check_table",
    "check_unit",
    "check_value",
    "check_values",
    "outliers_vs_peers",
    "outliers_vs_previous",
]

#: A report may be dated up to this many days after its phase ends (reports are written
#: after the phase closes); earlier than the phase start or later than this is suspect.
REPORT_GRACE_DAYS = 31
#: A figure is an outlier when it is at least this many times the reference (the same
#: unit's previous phase, or the median of its peers), or at most 1/this of it …
OUTLIER_FACTOR = 5.0
#: … and the larger of the two is at least this big (3 vs 15 is noise, 30 vs 150 is not).
OUTLIER_MIN_SIZE = 10.0
#: The peer median needs at least this many units reporting the figure.
OUTLIER_MIN_PEERS = 5

#: Column headers of the template, for ``column_missing``.
COLUMN_LABELS = {0: "Kỳ này / Số thực hiện", 1: "Tổng số / Cùng kỳ năm trước"}


@dataclass(frozen=True, slots=True)
class CellIssue:
    """What a reader saw in a cell that its value cannot say (calamine reads both as "").

    ``kind`` is ``no_cache`` (a formula saved without its result: ``text`` is the formula)
    or ``error`` (a formula whose result is an error: ``text`` is "#DIV/0!" …).
    """

    kind: Literal["no_cache", "error"]
    text: str


@dataclass(frozen=True, slots=True)
class Identity:
    """Who and what a report is, as read from its metadata block (cleaned)."""

    plan_id: str | None = None
    plan_version: str | None = None
    unit: str | None = None
    unit_name: str | None = None
    phase: str | None = None  # a plan phase code, or None when missing/unknown
    report_date: dt.date | None = None
    prepared_by: str | None = None
    level: str | None = None  # roster level of ``unit``


# --- one value --------------------------------------------------------------------------


def check_value(
    indicator: Indicator,
    component: str,
    raw: Any,
    *,
    cell: str | None = None,
    issue: CellIssue | None = None,
) -> tuple[float | None, list[Finding]]:
    """Read one component cell: (number or None if unusable, findings).

    Codes: ``value_blank``, ``value_not_number``, ``value_ambiguous``, ``value_percent``,
    ``value_text_number`` (warning, value used), ``value_negative``, ``value_fractional``,
    ``value_not_yes_no``, ``formula_no_cache``, ``formula_error``.
    """
    if (
        issue is None
        and type(raw) is float
        and raw >= 0
        and raw.is_integer()
        and indicator.kind != "yes_no"
    ):
        return raw, []  # the common case, first
    where = {"cell": cell}
    label = indicator.label(component)
    ind = indicator.code
    if issue is not None:
        if issue.kind == "no_cache":
            return None, [finding("formula_no_cache", formula=_short(issue.text), **where)]
        return None, [finding("formula_error", value=issue.text, **where)]
    if indicator.kind == "yes_no":
        yn = parse_yes_no(raw)
        if yn.kind == "empty":
            return None, [finding("value_blank", indicator=ind, component=label, **where)]
        if yn.value is None:
            return None, [finding("value_not_yes_no", indicator=ind, value=_show(raw), **where)]
        return (1.0 if yn.value else 0.0), []
    p = parse_number(raw)
    match p.kind:
        case "empty":
            return None, [finding("value_blank", indicator=ind, component=label, **where)]
        case "error":
            return None, [finding("formula_error", value=_show(raw), **where)]
        case "not_number":
            return None, [
                finding(
                    "value_not_number", indicator=ind, component=label, value=_show(raw), **where
                )
            ]
        case "ambiguous":
            a, b = p.alternatives or (0.0, 0.0)
            return None, [
                finding(
                    "value_ambiguous",
                    indicator=ind,
                    value=_show(raw),
                    a=_reading(a),
                    b=_reading(b),
                    **where,
                )
            ]
        case "percent":
            return None, [
                finding("value_percent", indicator=ind, component=label, value=_show(raw), **where)
            ]
    x = p.number
    assert x is not None
    if x < 0:
        return None, [finding("value_negative", indicator=ind, component=label, value=x, **where)]
    if not is_integral(x):
        return None, [finding("value_fractional", indicator=ind, component=label, value=x, **where)]
    x = float(round(x))
    if p.kind == "text_number":
        return x, [
            finding(
                "value_text_number",
                indicator=ind,
                component=label,
                value=_show(raw),
                number=format_vn(x),
                **where,
            )
        ]
    return x, []


def check_components(
    indicator: Indicator,
    values: Mapping[str, float | None],
    *,
    cells: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Rules between the components of one indicator (usable values only).

    Codes: ``numerator_above_denominator`` (on the numerator's cell).
    """
    out: list[Finding] = []
    if indicator.kind == "ratio":
        num, den = values.get("numerator"), values.get("denominator")
        if num is not None and den is not None and num > den:
            out.append(
                finding(
                    "numerator_above_denominator",
                    cell=(cells or {}).get("numerator"),
                    indicator=indicator.code,
                    numerator_name=indicator.label("numerator"),
                    numerator=num,
                    denominator_name=indicator.label("denominator"),
                    denominator=den,
                )
            )
    return out


def check_values(
    plan: Plan,
    raw: Mapping[tuple[str, str], Any],
    cells: Mapping[tuple[str, str], str],
    issues: Mapping[str, CellIssue] | None = None,
) -> tuple[dict[str, dict[str, float | None]], list[Finding], bool]:
    """Read every located component of a report: (values, findings, empty).

    ``raw`` maps (indicator, component) to the cell value, ``cells`` to its A1 reference,
    ``issues`` maps an A1 reference to what the reader saw there (formulas). ``values``
    maps each located indicator to its components (None: unusable). ``empty`` is True when
    no component holds anything (a blank template): then one ``template_empty`` warning
    replaces the blank-cell errors.

    Codes: those of :func:`check_value` and :func:`check_components`, ``template_empty``.
    """
    issues = issues or {}
    by_code = _indicators_by_code(plan)
    filled = any(_has_value(v) for v in raw.values()) or any(cells.get(k) in issues for k in raw)
    values: dict[str, dict[str, float | None]] = {}
    findings: list[Finding] = []
    if not filled:
        for ind, comp in raw:
            values.setdefault(ind, {})[comp] = None
        return values, [finding("template_empty")], True
    slots = _slots(plan)
    for key, value in raw.items():
        slot = slots.get(key)
        if slot is None:
            continue  # no such indicator, or not one of its components
        indicator, counted = slot
        cell = cells.get(key)
        issue = issues.get(cell) if cell and issues else None
        if issue is None and counted and type(value) is float and value >= 0 and value.is_integer():
            number, found = value, ()  # check_value's common case, without the call
        else:
            number, found = check_value(indicator, key[1], value, cell=cell, issue=issue)
        ind, comp = key
        comps = values.get(ind)
        if comps is None:
            comps = values[ind] = {}
        comps[comp] = number
        if found:
            findings.extend(found)
    for ind, comps in values.items():
        indicator = by_code[ind]
        if indicator.kind != "ratio":
            continue  # the only kind with a rule between its components
        num, den = comps.get("numerator"), comps.get("denominator")
        if num is None or den is None or num <= den:
            continue  # the rule holds (or cannot be checked): no need to ask
        bad = check_components(
            indicator, comps, cells={c: cells[(ind, c)] for c in comps if (ind, c) in cells}
        )
        if bad:
            findings.extend(bad)
            for comp in comps:  # which of the two is wrong is unknown: use neither
                comps[comp] = None
    return values, findings, False


_BY_CODE: list[tuple[Plan, tuple[Indicator, ...], dict[str, Indicator]]] = []


def _indicators_by_code(plan: Plan) -> dict[str, Indicator]:
    """The plan's indicators by code (a batch checks thousands of reports of one plan)."""
    if _BY_CODE and _BY_CODE[0][0] is plan and _BY_CODE[0][1] is plan.indicators:
        return _BY_CODE[0][2]
    found = {i.code: i for i in plan.indicators}
    _BY_CODE[:] = [(plan, plan.indicators, found)]
    return found


_SLOTS: list[tuple[Plan, tuple[Indicator, ...], dict[tuple[str, str], tuple[Indicator, bool]]]] = []


def _slots(plan: Plan) -> dict[tuple[str, str], tuple[Indicator, bool]]:
    """(indicator, component) → (indicator, whether the value is a count, not yes/no), for
    every component the plan's indicators have."""
    if _SLOTS and _SLOTS[0][0] is plan and _SLOTS[0][1] is plan.indicators:
        return _SLOTS[0][2]
    found = {
        (i.code, comp): (i, i.kind != "yes_no")
        for i in _indicators_by_code(plan).values()
        for comp in COMPONENTS[i.kind]
    }
    _SLOTS[:] = [(plan, plan.indicators, found)]
    return found


def _has_value(value: Any) -> bool:
    """Whether a cell holds anything (``parse_number`` would not call it empty)."""
    if type(value) is float:
        return value == value  # NaN is pandas' blank
    return parse_number(value).kind != "empty"


# --- the report's identity --------------------------------------------------------------


def check_plan(plan: Plan, plan_id: Any, *, cell: str | None = None) -> list[Finding]:
    """The plan the sheet names against the plan it is read with.

    Codes: ``plan_missing`` (warning: read with ``plan`` anyway), ``plan_mismatch``.
    """
    found = _text(plan_id)
    if not found:
        return [finding("plan_missing", cell=cell, expected=plan.id)]
    if found.casefold() != plan.id.casefold():
        return [finding("plan_mismatch", cell=cell, found=found, expected=plan.id)]
    return []


def check_phase(
    plan: Plan, value: Any, *, cell: str | None = None
) -> tuple[str | None, list[Finding]]:
    """The phase code a report names ("1", 1, "Đợt 1", the phase's name): (code, findings).

    Codes: ``phase_missing``, ``phase_unknown``.
    """
    text = _text(value)
    if not text:
        return None, [finding("phase_missing", cell=cell)]
    codes = {p.code.casefold(): p.code for p in plan.phases}
    if text.casefold() in codes:
        return codes[text.casefold()], []
    key = fold(text)
    for p in plan.phases:
        if key == fold(p.name) or key == fold(p.code):
            return p.code, []
    for prefix in ("dot thi dua ", "dot "):
        if key.startswith(prefix) and key[len(prefix) :] in codes:
            return codes[key[len(prefix) :]], []
    return None, [
        finding(
            "phase_unknown",
            cell=cell,
            phase=text,
            phases=", ".join(p.code for p in plan.phases),
        )
    ]


def check_report_date(
    plan: Plan, value: Any, phase: str | None, *, cell: str | None = None
) -> tuple[dt.date | None, list[Finding]]:
    """The report date: (date or None, findings).

    A date before the phase starts, or more than ``REPORT_GRACE_DAYS`` after it ends, is
    outside the phase. Codes: ``report_date_missing``, ``report_date_invalid``,
    ``report_date_outside_phase`` (all warnings).
    """
    if value is None or _text(value) == "":
        return None, [finding("report_date_missing", cell=cell)]
    day = parse_date(value)
    if day is None:
        return None, [finding("report_date_invalid", cell=cell, value=_show(value))]
    if phase is not None:
        p = plan.phase(phase)
        if day < p.start or (day - p.end).days > REPORT_GRACE_DAYS:
            return day, [
                finding(
                    "report_date_outside_phase",
                    cell=cell,
                    date=f"{day:%d/%m/%Y}",
                    phase=p.code,
                    start=f"{p.start:%d/%m/%Y}",
                    end=f"{p.end:%d/%m/%Y}",
                )
            ]
    return day, []


def check_unit(
    roster: Roster | None,
    value: Any,
    name: Any = None,
    *,
    day: dt.date | None = None,
    cell: str | None = None,
    name_cell: str | None = None,
) -> tuple[Unit | None, str | None, list[Finding]]:
    """The unit a report names: (roster unit, code as written, findings).

    ``day`` picks the roster record (the phase's last day); a code valid on another day is
    still known (merged communes' old codes roll into their successors). A commune, or a
    district (its own tally sheet), may report; a province may not. A code typed as a
    number that lost its leading zero ("6649" for "06649") is matched. Without a roster
    only a missing code is checked.

    Codes: ``unit_missing``, ``unit_unknown``, ``unit_not_commune``, ``unit_name_mismatch``
    (warning).
    """
    code = _code_text(value)
    if not code:
        return None, None, [finding("unit_missing", cell=cell)]
    if roster is None:
        return None, code, []
    unit = _find_unit(roster, code, day)
    if unit is None:
        return None, code, [finding("unit_unknown", cell=cell, code=code)]
    out: list[Finding] = []
    if unit.level == "province":
        out.append(
            finding("unit_not_commune", cell=cell, code=unit.code, level=LEVEL_LABELS["province"])
        )
    written = _text(name)
    if written and not _same_name(written, unit.name):
        out.append(
            finding(
                "unit_name_mismatch",
                cell=name_cell or cell,
                name=written,
                code=unit.code,
                expected=unit.name,
            )
        )
    return unit, unit.code, out


def check_identity(
    plan: Plan,
    roster: Roster | None,
    meta: Mapping[str, Any],
    cells: Mapping[str, str] | None = None,
) -> tuple[Identity, list[Finding]]:
    """Read and check a report's metadata block (``meta``: key → raw value, keys as in
    ``workbooks.locate.META_LABELS``; ``cells``: key → A1 of the value).

    Codes: those of :func:`check_plan`, :func:`check_phase`, :func:`check_report_date`
    and :func:`check_unit`.
    """
    cells = cells or {}
    out = check_plan(plan, meta.get("plan_id"), cell=cells.get("plan_id"))
    phase, found = check_phase(plan, meta.get("phase"), cell=cells.get("phase"))
    out += found
    day, found = check_report_date(
        plan, meta.get("report_date"), phase, cell=cells.get("report_date")
    )
    out += found
    on = plan.phase(phase).end if phase else day
    unit, code, found = check_unit(
        roster,
        meta.get("unit"),
        meta.get("unit_name"),
        day=on,
        cell=cells.get("unit"),
        name_cell=cells.get("unit_name"),
    )
    out += found
    identity = Identity(
        plan_id=_text(meta.get("plan_id")) or None,
        plan_version=_code_text(meta.get("plan_version")) or None,
        unit=code,
        unit_name=_text(meta.get("unit_name")) or None,
        phase=phase,
        report_date=day,
        prepared_by=_text(meta.get("prepared_by")) or None,
        level=unit.level if unit else None,
    )
    return identity, out


# --- the table --------------------------------------------------------------------------


def check_table(
    plan: Plan,
    *,
    missing_indicators: Iterable[str] = (),
    missing_columns: Iterable[str] = (),
    unknown: Iterable[tuple[str, str | None]] = (),
    duplicates: Mapping[str, list[int]] | None = None,
    code_cells: Mapping[str, str] | None = None,
) -> list[Finding]:
    """What the locator could not place, as findings.

    ``missing_columns`` are component names (numerator, baseline …); ``unknown`` pairs a
    code as written with its cell; ``duplicates`` maps an indicator to its row numbers.

    Codes: ``indicator_missing``, ``indicator_unknown`` (warning), ``indicator_duplicate``,
    ``column_missing``.
    """
    out: list[Finding] = []
    positions: dict[int, list[str]] = {}
    for comp in missing_columns:
        pos = 0 if comp in ("numerator", "current", "count", "done") else 1
        positions.setdefault(pos, []).append(comp)
    for pos in sorted(positions):
        out.append(finding("column_missing", component=COLUMN_LABELS[pos]))
    by_code = {i.code: i for i in plan.indicators}
    for code in missing_indicators:
        out.append(finding("indicator_missing", indicator=code, name=by_code[code].name))
    for text, cell in unknown:
        out.append(finding("indicator_unknown", cell=cell, indicator=text))
    for code, rows in (duplicates or {}).items():
        cell = (code_cells or {}).get(code)
        col = "".join(ch for ch in cell if ch.isalpha()) if cell else None
        out.append(
            finding(
                "indicator_duplicate",
                cell=f"{col}{rows[1]}" if col else None,
                indicator=code,
                rows=", ".join(str(r) for r in rows),
            )
        )
    return out


# --- outliers over many reports -----------------------------------------------------------

Where = Callable[[Report, str, str], Mapping[str, Any]]


def outliers_vs_previous(
    reports: Iterable[Report], plan: Plan, *, where: Where | None = None
) -> list[Finding]:
    """Figures far from the same unit's figure in the previous phase.

    For each report, the same unit's report of the phase before it (plan order) is the
    reference: a component ≥ ``OUTLIER_FACTOR`` × or ≤ 1/``OUTLIER_FACTOR`` of it, with the
    larger of the two ≥ ``OUTLIER_MIN_SIZE``, is flagged (a previous 0 gives no ratio and
    is skipped). Yes/no indicators are not compared. ``where(report, indicator,
    component)`` returns the location (path, sheet, cell …); default: the report's
    source as path.

    Codes: ``outlier_previous`` (warning).
    """
    reports = list(reports)
    order = [p.code for p in plan.phases]
    by_key = {(r.unit, r.phase): r for r in reports}
    out: list[Finding] = []
    for r in reports:
        if r.phase not in order or order.index(r.phase) == 0:
            continue
        prev = by_key.get((r.unit, order[order.index(r.phase) - 1]))
        if prev is None:
            continue
        for ind, comp, value in _figures(r, plan):
            before = (prev.values.get(ind) or {}).get(comp)
            if before is None or before <= 0:
                continue
            ratio = _outlier_ratio(value, before)
            if ratio is None:
                continue
            out.append(
                finding(
                    "outlier_previous",
                    indicator=ind,
                    component=plan.indicator(ind).label(comp),
                    value=value,
                    ratio=format_vn(ratio, 1, trim=True),
                    previous=before,
                    **_where(r, ind, comp, where),
                )
            )
    return out


def outliers_vs_peers(
    reports: Iterable[Report], plan: Plan, *, where: Where | None = None
) -> list[Finding]:
    """Figures far from the median of the other units' figures in the same phase.

    Pass reports of one level (communes). For each phase, indicator and component with at
    least ``OUTLIER_MIN_PEERS`` units reporting it and a median above 0, a figure ≥
    ``OUTLIER_FACTOR`` × the median, or above 0 and ≤ median / ``OUTLIER_FACTOR``, with
    the larger of the two ≥ ``OUTLIER_MIN_SIZE``, is flagged. A 0 is not flagged (nothing
    happened is a normal answer). Yes/no indicators are not compared.

    Codes: ``outlier_peers`` (warning).
    """
    reports = list(reports)
    groups: dict[tuple[str, str, str], list[tuple[Report, float]]] = {}
    for r in reports:
        for ind, comp, value in _figures(r, plan):
            groups.setdefault((r.phase, ind, comp), []).append((r, value))
    out: list[Finding] = []
    for (_phase, ind, comp), items in groups.items():
        if len(items) < OUTLIER_MIN_PEERS:
            continue
        median = statistics.median(v for _, v in items)
        if median <= 0:
            continue
        for r, value in items:
            if value <= 0:
                continue
            ratio = _outlier_ratio(value, median)
            if ratio is None:
                continue
            out.append(
                finding(
                    "outlier_peers",
                    indicator=ind,
                    component=plan.indicator(ind).label(comp),
                    value=value,
                    ratio=format_vn(ratio, 1, trim=True),
                    median=float(median),
                    **_where(r, ind, comp, where),
                )
            )
    return out


def _figures(r: Report, plan: Plan) -> Iterable[tuple[str, str, float]]:
    for ind, comps in r.values.items():
        try:
            kind = plan.indicator(ind).kind
        except KeyError:
            continue
        if kind in ("yes_no", "all_of") or not comps:
            continue
        for comp, value in comps.items():
            if value is not None:
                yield ind, comp, float(value)


def _outlier_ratio(value: float, reference: float) -> float | None:
    if max(value, reference) < OUTLIER_MIN_SIZE:
        return None
    ratio = value / reference
    if ratio >= OUTLIER_FACTOR or ratio <= 1 / OUTLIER_FACTOR:
        return ratio
    return None


def _where(r: Report, ind: str, comp: str, where: Where | None) -> dict[str, Any]:
    loc: dict[str, Any] = {"path": r.source, "unit": r.unit, "phase": r.phase}
    if where is not None:
        loc.update({k: v for k, v in where(r, ind, comp).items() if v is not None})
    return loc


# --- small helpers ----------------------------------------------------------------------


def _empty(value: Any) -> bool:
    if value is None or value == "":
        return True
    if type(value) is float:
        return value != value  # NaN: pandas' blank
    return parse_number(value).kind == "empty"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return clean_text(str(value))


def _code_text(value: Any) -> str:
    if isinstance(value, bool):
        return _text(str(value))
    return _text(value)


def _show(value: Any) -> str:
    """A raw cell value as the user typed it, short."""
    if isinstance(value, dt.datetime | dt.date):
        return f"{value:%d/%m/%Y}"
    return _short(_text(value))


def _reading(x: float) -> str:
    """One reading of an ambiguous number, unmistakable: "1,234 (số thập phân)", "1234"."""
    if is_integral(x):
        return str(round(x))
    return f"{format_vn(x, 6, trim=True)} (số thập phân)"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Roster.find scans every record; a batch looks up thousands of codes: index by code.
_ROSTER_INDEX: weakref.WeakKeyDictionary[Roster, tuple[tuple, dict[str, list[Unit]]]] = (
    weakref.WeakKeyDictionary()
)


def _by_code(roster: Roster) -> dict[str, list[Unit]]:
    cached = _ROSTER_INDEX.get(roster)
    if cached is not None and cached[0] is roster.units:
        return cached[1]
    index: dict[str, list[Unit]] = {}
    for u in roster.units:
        index.setdefault(u.code, []).append(u)
    _ROSTER_INDEX[roster] = (roster.units, index)
    return index


def _find_unit(roster: Roster, code: str, day: dt.date | None) -> Unit | None:
    """Like ``Roster.find(code, day) or Roster.find(code)``, also trying the code with the
    leading zeros a number cell drops."""
    index = _by_code(roster)
    candidates = [code]
    if code.isdigit():
        candidates += [code.zfill(w) for w in (2, 3, 5) if len(code) < w]
    for c in candidates:
        hits = index.get(c)
        if not hits:
            continue
        valid = [u for u in hits if day is None or u.valid_on(day)] or hits
        return max(valid, key=lambda u: u.valid_from or dt.date.min)
    return None


_PREFIXES = (
    "cong an ",
    "uy ban nhan dan ",
    "ubnd ",
    "thi tran ",
    "thi xa ",
    "thanh pho ",
    "phuong ",
    "xa ",
    "huyen ",
    "quan ",
    "tinh ",
    "tp ",
    "ca ",
)


def _core_name(name: str) -> str:
    key = fold(name)
    changed = True
    while changed:
        changed = False
        for p in _PREFIXES:
            if key.startswith(p):
                key, changed = key[len(p) :], True
    return key


def _same_name(written: str, expected: str) -> bool:
    if written == expected:  # the usual case: the template wrote the roster's name
        return True
    a, b = _core_name(written), _core_name(expected)
    if not a or not b:
        return True
    return a == b or f" {a} " in f" {b} " or f" {b} " in f" {a} "
