"""Reading and writing an open workbook through the ``xw.Book`` API every runtime shares.

Only calls that both classic xlwings (COM) and the remote engine of xlwings Server and
Lite implement: sheet values (``used_range``, ``range.value``), fills (``color``,
``set_colors``), notes, fonts, borders, alignment, number formats, merges, column widths,
row heights, data validation and conditional formats. Nothing here imports xlwings: the
book comes in as an argument.

Text taken from plans, rosters or sheets is written as text: a string Excel would turn
into a formula, a number or a date ("=HYPERLINK(…)", "06808", "1") gets the "'" prefix,
which Excel keeps out of the value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from logic.numbers import parse_date, parse_number
from logic.plan import Plan
from logic.roster import Roster
from logic.text import fold, safe_for_cell
from workbooks.layout import INPUT_FILL, SheetLayout, Validation, col_letter

from .report import SheetCheck, check_grid, grid_rows, is_report_candidate
from .state import STATE_SHEET, State, StateError, bundled_plan, plan_id_in_grid, read_state

__all__ = [
    "ERROR_FILL",
    "FONT",
    "MET_FILL",
    "WARNING_FILL",
    "BookPlan",
    "as_cell",
    "book_plan",
    "find_sheet",
    "fresh_sheet",
    "scan_reports",
    "sheet_grid",
    "write_layout",
    "write_table",
]

FONT = "Times New Roman"
ERROR_FILL = "#FFC7CE"  # Excel's "bad" red (as workbooks.feedback)
WARNING_FILL = "#FFEB9C"  # Excel's "neutral" yellow
MET_FILL = "#C6EFCE"  # Excel's "good" green
HEADER_FILL = "#D9E1F2"
INPUT = "#" + INPUT_FILL


# --- reading ------------------------------------------------------------------------------


def find_sheet(book: Any, name: str) -> Any | None:
    """The sheet called ``name`` (Excel compares sheet names case-insensitively)."""
    key = name.casefold()
    for sheet in book.sheets:
        if sheet.name.casefold() == key:
            return sheet
    return None


def sheet_grid(sheet: Any) -> tuple[list[list[Any]], tuple[int, int]]:
    """The sheet's used range as rows, and its 0-based (row, column) origin."""
    used = sheet.used_range
    rows = grid_rows(used.options(ndim=2).value)
    return rows, (used.row - 1, used.column - 1)


@dataclass
class BookPlan:
    """The plan a book works with, its roster (None if it carries none) and where the
    plan came from (Vietnamese, for messages)."""

    plan: Plan
    roster: Roster | None
    origin: str


def book_plan(book: Any) -> BookPlan:
    """The plan (and roster) of an open book: its ``_thidua`` sheet, else the bundled
    plan named on a report sheet ("Mã kế hoạch:"). Raises StateError."""
    state = State()
    sheet = find_sheet(book, STATE_SHEET)
    if sheet is not None:
        state = read_state(sheet_grid(sheet)[0])
        if state.plan_json:
            return BookPlan(state.plan(), state.roster(), f"trang ẩn {STATE_SHEET}")
    plan_id = state.plan_id
    if plan_id is None:
        for other in book.sheets:
            if is_report_candidate(other.name, other.visible):
                plan_id = plan_id_in_grid(sheet_grid(other)[0])
                if plan_id:
                    break
    if plan_id is None:
        raise StateError(
            "Sổ này không có kế hoạch thi đua: không có trang ẩn “_thidua” của mẫu báo cáo, "
            "cũng không có ô “Mã kế hoạch:” nào. Hãy mở tệp báo cáo được tạo từ mẫu của "
            "phần mềm (lệnh thidua template) rồi bấm lại."
        )
    return BookPlan(bundled_plan(plan_id), state.roster(), f"kế hoạch có sẵn {plan_id}")


def scan_reports(
    book: Any, plan: Plan, roster: Roster | None
) -> tuple[list[SheetCheck], list[tuple[str, str]]]:
    """Every report sheet of ``book`` checked, and the other sheets with the reason."""
    checks: list[SheetCheck] = []
    skipped: list[tuple[str, str]] = []
    for sheet in book.sheets:
        if not is_report_candidate(sheet.name, sheet.visible):
            continue
        rows, origin = sheet_grid(sheet)
        checked = check_grid(rows, plan, roster, sheet=sheet.name, origin=origin)
        if checked.found:
            checks.append(checked)
        else:
            skipped.append((sheet.name, "không có bảng chỉ tiêu của kế hoạch"))
    return checks, skipped


# --- writing values -----------------------------------------------------------------------

_REINTERPRETED = ("=", "+", "-", "@")


def as_cell(value: Any) -> Any:
    """``value`` ready for ``range.value``: text stays text (see the module docstring)."""
    if isinstance(value, str):
        text = safe_for_cell(value)
        if (
            text
            and (
                text.startswith(_REINTERPRETED)
                or text[0].isdigit()
                or text.startswith((".", ",", "(", "$", "%"))
            )
            and _reinterpreted(text)
        ):
            return "'" + text
        return text
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return value


def _reinterpreted(text: str) -> bool:
    if text.startswith(_REINTERPRETED):
        return True
    return parse_number(text).kind != "not_number" or parse_date(text) is not None


def fresh_sheet(book: Any, name: str) -> Any:
    """The sheet ``name``, emptied (values and formats), or a new one at the end."""
    sheet = find_sheet(book, name)
    if sheet is not None:
        sheet.clear()
        return sheet
    return book.sheets.add(name, after=book.sheets[len(book.sheets) - 1])


def write_table(
    sheet: Any,
    top: int,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    widths: Sequence[float] | None = None,
) -> None:
    """A header row at row ``top`` and ``rows`` below it: one write, bordered, in the
    document font, the header bold on a blue fill."""
    n = len(header)
    values = [[as_cell(v) for v in header]] + [
        [as_cell(v) for v in row] + [None] * (n - len(row)) for row in rows
    ]
    last = top + len(values) - 1
    whole = sheet.range(f"A{top}:{col_letter(n)}{last}")
    whole.value = values
    whole.font.name = FONT
    whole.font.size = 12
    whole.wrap_text = True
    whole.vertical_alignment = "top"
    whole.borders.set("all", line_style="continuous", weight="thin")
    head = sheet.range(f"A{top}:{col_letter(n)}{top}")
    head.font.bold = True
    head.color = HEADER_FILL
    head.horizontal_alignment = "center"
    if widths:
        set_widths(sheet, {col_letter(i + 1): w for i, w in enumerate(widths)})


def write_title(sheet: Any, lines: Sequence[str], width: int) -> None:
    """Title lines from A1 down, the first bold and larger, each merged across ``width``."""
    last = col_letter(width)
    for i, line in enumerate(lines, start=1):
        cell = sheet.range(f"A{i}")
        cell.value = as_cell(line)
        rng = sheet.range(f"A{i}:{last}{i}")
        rng.merge()
        rng.font.name = FONT
        rng.font.size = 14 if i == 1 else 12
        rng.font.bold = i == 1
        rng.horizontal_alignment = "center" if i == 1 else "left"


def set_colors(sheet: Any, column: str, first_row: int, colors: list[str | None]) -> None:
    """Fill cells of one column from ``first_row`` down (None: leave as is), in as few
    calls as possible (``set_colors`` takes at most 10,000 cells)."""
    keep = ...
    for start in range(0, len(colors), 10_000):
        part = colors[start : start + 10_000]
        if all(c is None for c in part):
            continue
        top = first_row + start
        rng = sheet.range(f"{column}{top}:{column}{top + len(part) - 1}")
        rng.set_colors([[keep if c is None else c] for c in part])


def set_widths(sheet: Any, widths: dict[str, float]) -> None:
    """Column widths in characters (the remote engines measure in points)."""
    remote = _is_remote(sheet)
    for letter, chars in widths.items():
        sheet.range(f"{letter}1").column_width = round(chars * 6 + 4, 1) if remote else chars


def _is_remote(sheet: Any) -> bool:
    try:
        return sheet.book.app.engine.name == "remote"
    except AttributeError:
        return False


# --- writing a layout (a new report sheet) ----------------------------------------------


def write_layout(sheet: Any, layout: SheetLayout) -> None:
    """Write a :class:`workbooks.layout.SheetLayout` onto an empty sheet.

    Values and formulas in one write; then styles (per rectangle of cells sharing a
    style), merges, widths, heights, data validations and conditional formats. Sheet
    protection, print setup and defined names are left out (not in the shared API).
    """
    cells = layout.cells
    if not cells:
        return
    rows = max(c.row for c in cells)
    cols = max(c.col for c in cells)
    grid: list[list[Any]] = [[None] * cols for _ in range(rows)]
    formulas: dict[int, dict[int, str]] = {}  # column → row → formula
    for c in cells:
        if c.formula:
            formulas.setdefault(c.col, {})[c.row] = c.value
        else:
            grid[c.row - 1][c.col - 1] = as_cell(c.value)
    whole = sheet.range(f"A1:{col_letter(cols)}{rows}")
    whole.value = grid
    # formulas through the formula property: English names and "," separators whatever
    # the user's locale (a value starting with "=" would be read in the local language)
    for col, by_row in sorted(formulas.items()):
        for top, bottom in _formula_runs(by_row, grid, col):
            letter = col_letter(col)
            sheet.range(f"{letter}{top}:{letter}{bottom}").formula = [
                [by_row.get(r, "")] for r in range(top, bottom + 1)
            ]
    whole.font.name = FONT
    whole.font.size = 11
    whole.vertical_alignment = "center"

    # one call per rectangle of cells sharing a property's value, not per cell or style
    by_value: dict[tuple[str, Any], list[tuple[int, int]]] = {}
    for c in cells:
        for prop in _style_props(layout.styles.get(c.style) or {}):
            by_value.setdefault(prop, []).append((c.row, c.col))
    for (prop, value), spots in by_value.items():
        for r0, c0, r1, c1 in _rectangles(spots):
            _apply(sheet.range(f"{col_letter(c0)}{r0}:{col_letter(c1)}{r1}"), prop, value)
    for ref in layout.merges:
        sheet.range(ref).merge()
    set_widths(sheet, layout.col_widths)
    for row, height in sorted(layout.row_heights.items()):
        sheet.range(f"A{row}").row_height = height
    for v in layout.validations:
        for ref in v.cells.split():
            _validate(sheet.range(ref), v)
    for cf in layout.cond_formats:
        style = layout.styles.get(cf.style) or {}
        font = (style.get("font") or {}).get("color")
        sheet.range(cf.cells).conditional_formats.add_cell_value(
            "equal_to",
            '="' + cf.equals.replace('"', '""') + '"',
            fill_color=_hex(style.get("fill")),
            font_color=_hex(font),
        )


def _formula_runs(by_row: dict[int, str], grid: list[list[Any]], col: int) -> list[tuple[int, int]]:
    """(top, bottom) rows of one column's formulas, joined over empty cells only."""
    runs: list[tuple[int, int]] = []
    for r in sorted(by_row):
        if runs:
            top, bottom = runs[-1]
            between = range(bottom + 1, r)
            if all(grid[i - 1][col - 1] in (None, "") for i in between):
                runs[-1] = (top, r)
                continue
        runs.append((r, r))
    return runs


def _rectangles(spots: Iterable[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Cover cells with few rectangles: runs along rows, stacked where rows repeat."""
    by_row: dict[int, list[int]] = {}
    for r, c in spots:
        by_row.setdefault(r, []).append(c)
    runs: dict[tuple[int, int], list[int]] = {}
    for r in sorted(by_row):
        cols = sorted(set(by_row[r]))
        start = prev = cols[0]
        for c in [*cols[1:], None]:
            if c is not None and c == prev + 1:
                prev = c
                continue
            runs.setdefault((start, prev), []).append(r)
            if c is not None:
                start = prev = c
    out = []
    for (c0, c1), rs in runs.items():
        top = prev = rs[0]
        for r in [*rs[1:], None]:
            if r is not None and r == prev + 1:
                prev = r
                continue
            out.append((top, c0, prev, c1))
            if r is not None:
                top = prev = r
    return sorted(out)


def _style_props(style: dict[str, Any]) -> list[tuple[str, Any]]:
    """The (property, value) pairs of a layout style that differ from the sheet's base."""
    font = style.get("font") or {}
    align = style.get("align") or {}
    props: list[tuple[str, Any]] = []
    if font.get("size") not in (None, 11):
        props.append(("size", font["size"]))
    if font.get("bold"):
        props.append(("bold", True))
    if font.get("italic"):
        props.append(("italic", True))
    if font.get("color"):
        props.append(("font_color", _hex(font["color"])))
    if style.get("fill"):
        props.append(("fill", _hex(style["fill"])))
    if style.get("number_format") not in (None, "General"):
        props.append(("number_format", style["number_format"]))
    if align.get("h") in ("center", "right"):
        props.append(("h", align["h"]))
    if align.get("v") == "top":
        props.append(("v", "top"))
    if align.get("wrap"):
        props.append(("wrap", True))
    if style.get("border"):
        props.append(("border", "thin"))
    return props


def _apply(rng: Any, prop: str, value: Any) -> None:
    match prop:
        case "size":
            rng.font.size = value
        case "bold":
            rng.font.bold = value
        case "italic":
            rng.font.italic = value
        case "font_color":
            rng.font.color = value
        case "fill":
            rng.color = value
        case "number_format":
            rng.number_format = value
        case "h":
            rng.horizontal_alignment = value
        case "v":
            rng.vertical_alignment = value
        case "wrap":
            rng.wrap_text = value
        case "border":
            rng.borders.set("all", line_style="continuous", weight=value)


def _hex(color: str | None) -> str | None:
    return None if not color else "#" + color.lstrip("#")[-6:]


_OPERATORS = {
    "between": "between",
    "notBetween": "not_between",
    "equal": "equal_to",
    "notEqual": "not_equal_to",
    "greaterThan": "greater_than",
    "lessThan": "less_than",
    "greaterThanOrEqual": "greater_than_or_equal",
    "lessThanOrEqual": "less_than_or_equal",
}


def _validate(rng: Any, v: Validation) -> None:
    dv = rng.data_validation
    if v.type == "list":
        items = (v.formula1 or "").strip('"').split(",")
        dv.set_list([i for i in items if i])
    elif v.type == "custom":
        dv.set_custom("=" + (v.formula1 or "TRUE"))
    elif v.type in ("whole", "decimal", "date"):
        op = _OPERATORS.get(v.operator or "between", "between")
        second = v.formula2 if op in ("between", "not_between") else None
        setter = {
            "whole": dv.set_whole_number,
            "decimal": dv.set_decimal,
            "date": dv.set_date,
        }[v.type]
        setter(op, v.formula1, second)


def input_fill(check: SheetCheck, plan: Plan, cell: str) -> str | None:
    """The fill a template gives ``cell`` of a checked sheet: pale yellow for inputs."""
    return INPUT if cell in _input_cells(check, plan) else None


def _input_cells(check: SheetCheck, plan: Plan) -> set[str]:
    loc = check.located
    cells = set(loc.cells.values())
    for key in ("phase", "report_date", "prepared_by"):
        m = loc.meta.get(key)
        if m is not None:
            cells.add(m.cell)
    target_col = loc.columns.get("target")
    if target_col is not None:
        for ind in plan.indicators:
            row = loc.rows.get(ind.code)
            if row is not None and any(
                t.local for t in (ind.target, *ind.targets_by_phase.values())
            ):
                cells.add(f"{col_letter(target_col + 1)}{row}")
    note_col = loc.columns.get("note")
    if note_col is not None:
        cells.update(f"{col_letter(note_col + 1)}{row}" for row in loc.rows.values())
    return cells


def folded_names(book: Any) -> dict[str, str]:
    """Folded sheet name → sheet name (to find "Tạo mới" however it is typed)."""
    return {fold(s.name): s.name for s in book.sheets}
