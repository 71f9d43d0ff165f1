"""Write reporting workbooks (templates) with openpyxl from :mod:`workbooks.layout`.

A template has three sheets: the report sheet (named after the unit, see
``notes/sheet-spec.md``), "Hướng dẫn" (how to fill and send it) and the hidden "_thidua"
(template version, the plan and the roster as JSON). It works with no Python: inputs are
unlocked, everything else is protected (no password), validations refuse bad numbers and
formulas judge every target live.

Text from plans and rosters is written as text, never as a formula. Styles, the table part
of the layout and the JSON of the plan and the roster are cached, so writing thousands of
templates costs little more than zipping them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
import threading
import zipfile
from copy import copy
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils.indexed_list import IndexedList
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.worksheet import Worksheet

from logic.aggregate import phase_tree
from logic.errors import RosterError, ThiduaError
from logic.plan import Plan
from logic.roster import Roster, Unit
from logic.text import fold, safe_for_cell

from .layout import (
    FONT,
    SheetLayout,
    UnitFields,
    instructions_layout,
    report_layout,
    short_name,
    state_layout,
)
from .save import save_bytes

__all__ = [
    "build_workbook",
    "find_unit",
    "template_name",
    "write_all",
    "write_template",
]

Values = dict[str, dict[str, float | int | str | None]]


def write_template(
    plan: Plan,
    roster: Roster,
    unit_code: str,
    phase_code: str,
    path: str | Path,
    *,
    report_date: dt.date | None = None,
    values: Values | None = None,
) -> Path:
    """Write the reporting workbook of one unit for one phase to ``path`` (atomically).

    ``values`` pre-fills inputs: indicator code → component → number or text
    (components as in ``logic.plan.COMPONENTS``; also ``"target"`` for a locally set
    target and ``"note"``). Raises ``RosterError`` for a unit not in the roster,
    ``ThiduaError`` for a phase the plan does not have, ``FileLockedError`` if ``path`` is
    open in Excel, KeyError for a value with no input cell (a bug in the caller).
    """
    unit = find_unit(plan, roster, unit_code, phase_code)
    data = _template_bytes(plan, roster, unit, phase_code, report_date, values)
    return save_bytes(data, path)


def write_all(
    plan: Plan, roster: Roster, phase: str, out_dir: str | Path, district: str | None = None
) -> list[Path]:
    """Write a template for every commune of the plan (or of ``district``) for ``phase``.

    Communes are those of the roster on the phase's last day, within the plan's scope.
    File names: ``bao-cao-<code>-<name>-dot-<phase>.xlsx``. Raises ``RosterError`` if
    ``district`` is not in the roster on that day.
    """
    tree = phase_tree(plan, roster, phase)
    if district is not None:
        if district not in tree:
            raise RosterError(
                f"Không có đơn vị mã “{district}” trong danh mục vào ngày "
                f"{tree.day:%d/%m/%Y} (cuối đợt {phase})."
            )
        codes = tree.communes_under(district)
    else:
        codes = [c for c, u in tree.units.items() if u.level == "commune"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for code in codes:
        unit = tree.unit(code)
        data = _template_bytes(plan, roster, unit, phase, None, None)
        paths.append(save_bytes(data, out / template_name(unit, phase)))
    return paths


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def template_name(unit: Unit, phase: str) -> str:
    """The file name of a unit's template: ``bao-cao-14755-ham-rong-dot-1.xlsx``."""
    slug = "-".join(fold(short_name(unit.name)).split())
    slug = _UNSAFE.sub("", slug)[:40].strip("-")
    code = _UNSAFE.sub("_", unit.code)[:40]
    ph = _UNSAFE.sub("_", phase)[:10]
    return f"bao-cao-{code}{'-' + slug if slug else ''}-dot-{ph}.xlsx"


def find_unit(plan: Plan, roster: Roster, unit_code: str, phase: str) -> Unit:
    """The roster record of ``unit_code`` for ``phase`` (valid at its end, else its start).

    Raises ``ThiduaError`` for a phase the plan does not have, ``RosterError`` for a unit
    the roster does not have (messages in Vietnamese).
    """
    try:
        p = plan.phase(phase)
    except KeyError:
        raise ThiduaError(
            f"Kế hoạch “{plan.id}” không có đợt “{phase}” "
            f"(các đợt: {', '.join(ph.code for ph in plan.phases)})."
        ) from None
    unit = (
        roster.find(unit_code, p.end) or roster.find(unit_code, p.start) or roster.find(unit_code)
    )
    if unit is None:
        raise RosterError(
            f"Không có đơn vị mã “{unit_code}” trong danh mục đơn vị"
            + (f" “{roster.name}”" if roster.name else "")
            + "."
        )
    return unit


def build_workbook(
    plan: Plan,
    roster: Roster,
    unit_code: str,
    phase_code: str,
    *,
    report_date: dt.date | None = None,
    values: Values | None = None,
) -> Workbook:
    """The template of one unit as an openpyxl workbook (not saved)."""
    unit = find_unit(plan, roster, unit_code, phase_code)
    return _build(plan, roster, unit, phase_code, report_date, values)


def _build(
    plan: Plan,
    roster: Roster,
    unit: Unit,
    phase: str,
    report_date: dt.date | None,
    values: Values | None,
    fields: UnitFields | None = None,
    root: str | None = None,
) -> Workbook:
    """Write the layouts with openpyxl (the reference path; :class:`_Prototype` reuses it)."""
    report = report_layout(plan, phase, unit, report_date=report_date, fields=fields)
    guide = instructions_layout(plan, phase, unit.level)
    plan_json, roster_json = _state_json(plan, roster, root or _embed_root(plan, roster, unit))
    state = state_layout(plan, plan_json, roster_json)

    wb = Workbook()
    _default_font(wb)
    ws = wb.active
    ws.title = report.title
    styler = _Styler(wb)
    _write(ws, report, styler)
    if values:
        _fill(ws, report, values)
    _write(wb.create_sheet(guide.title), guide, styler)
    _write(wb.create_sheet(state.title), state, styler)
    wb.active = 0
    wb.properties.creator = "thidua"
    wb.properties.title = f"Báo cáo {plan.id} đợt {phase}"
    return wb


def _template_bytes(
    plan: Plan,
    roster: Roster,
    unit: Unit,
    phase: str,
    report_date: dt.date | None,
    values: Values | None,
) -> bytes:
    """The xlsx of one unit: the cached prototype with the unit's strings and values put in,
    or the reference path when the prototype cannot hold them."""
    root = _embed_root(plan, roster, unit)
    proto = _prototype(plan, roster, phase, unit.level, root)
    data = proto.render(UnitFields.of(unit), report_date, values) if proto else None
    if data is None:
        wb = _build(plan, roster, unit, phase, report_date, values, root=root)
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
    return data


def _default_font(wb: Workbook) -> None:
    """Make Times New Roman 12 the workbook's default font (the "Normal" style).

    Cells a clerk adds look like the rest, and column widths (in widths of the default
    font's "0") come out the same in Excel and LibreOffice, which lacks Calibri.
    """
    font = Font(name=FONT, size=12, family=1)
    wb._fonts = IndexedList([font])  # fresh workbook: the default font is the only one
    wb._named_styles["Normal"].font = font


# --- values ------------------------------------------------------------------------------


def _fill(ws: Worksheet, layout: SheetLayout, values: Values) -> None:
    for ind, comps in values.items():
        for comp, value in (comps or {}).items():
            ref = layout.inputs.get((ind, comp))
            if ref is None:
                raise KeyError(f"no input cell for {ind}/{comp}")
            _set(ws[ref], value)


def _set(cell: Any, value: Any) -> None:
    """Store ``value``; text always as text (a leading "=" never makes a formula)."""
    if isinstance(value, str):
        text = safe_for_cell(value)
        cell.value = text
        cell.data_type = "s"
        if text[:1] in ("=", "+", "-", "@"):
            cell.quotePrefix = True
    else:
        cell.value = value


# --- writing a layout --------------------------------------------------------------------

_style_lock = threading.Lock()
_openpyxl_styles: dict[str, tuple] = {}


def _openpyxl_style(name: str, spec: dict[str, Any]) -> tuple:
    """(font, fill, border, alignment, number format, protection) for a style, cached."""
    with _style_lock:
        hit = _openpyxl_styles.get(name)
    if hit is not None:
        return hit
    f = spec.get("font")
    font = (
        Font(
            name=f.get("name"),
            size=f.get("size"),
            bold=f.get("bold", False),
            italic=f.get("italic", False),
            underline="single" if f.get("underline") else None,
            color=("FF" + f["color"]) if f.get("color") else None,
        )
        if f
        else None
    )
    fill = (
        PatternFill("solid", start_color="FF" + spec["fill"], end_color="FF" + spec["fill"])
        if spec.get("fill")
        else None
    )
    border = None
    if spec.get("border"):
        side = Side(style="thin", color="FF000000")
        border = Border(left=side, right=side, top=side, bottom=side)
    a = spec.get("align")
    alignment = (
        Alignment(
            horizontal=a.get("h"),
            vertical=a.get("v"),
            wrap_text=a.get("wrap") or None,
            indent=a.get("indent") or 0,
        )
        if a
        else None
    )
    protection = Protection(locked=spec.get("locked", True))
    result = (font, fill, border, alignment, spec.get("number_format") or "General", protection)
    with _style_lock:
        _openpyxl_styles[name] = result
    return result


class _Styler:
    """Applies named styles to the cells of one workbook, reusing each style's StyleArray."""

    def __init__(self, wb: Workbook) -> None:
        self.wb = wb
        self._arrays: dict[str, Any] = {}

    def apply(self, cell: Any, name: str, spec: dict[str, Any]) -> None:
        array = self._arrays.get(name)
        if array is not None:
            cell._style = copy(array)
            return
        font, fill, border, alignment, number_format, protection = _openpyxl_style(name, spec)
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        if border is not None:
            cell.border = border
        if alignment is not None:
            cell.alignment = alignment
        cell.number_format = number_format
        cell.protection = protection
        self._arrays[name] = copy(cell._style)


def _quote_sheet(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _write(ws: Worksheet, layout: SheetLayout, styler: _Styler) -> None:
    styles = layout.styles
    for c in layout.cells:
        cell = ws.cell(row=c.row, column=c.col)
        styler.apply(cell, c.style, styles[c.style])
        if c.value is None:
            continue
        if c.formula:
            cell.value = c.value
        else:
            _set(cell, c.value)
    for rng in layout.merges:
        # not ws.merge_cells: it re-creates the covered cells and re-applies borders, slowly;
        # the layout already styles every covered cell that needs a border
        ws.merged_cells.add(rng)
    for v in layout.validations:
        dv = DataValidation(
            type=v.type,
            operator=v.operator,
            formula1=v.formula1,
            formula2=v.formula2,
            allow_blank=v.allow_blank,
            showErrorMessage=True,
            showInputMessage=bool(v.prompt),
            errorStyle="stop",
            errorTitle=v.error_title[:32] or None,
            error=v.error[:255] or None,
            promptTitle=v.prompt_title[:32] or None,
            prompt=v.prompt[:255] or None,
            sqref=v.cells,
        )
        ws.add_data_validation(dv)
    for cf in layout.cond_formats:
        spec = styles[cf.style]
        color = (spec.get("font") or {}).get("color")
        ws.conditional_formatting.add(
            cf.cells,
            CellIsRule(
                operator="equal",
                formula=['"' + cf.equals.replace('"', '""') + '"'],
                fill=PatternFill(
                    "solid",
                    start_color="FF" + spec["fill"],
                    end_color="FF" + spec["fill"],
                    bgColor="FF" + spec["fill"],
                ),
                font=Font(color="FF" + color) if color else None,
            ),
        )
    for col, width in layout.col_widths.items():
        ws.column_dimensions[col].width = width
    for row, height in layout.row_heights.items():
        ws.row_dimensions[row].height = height
    for name, ref in layout.names.items():
        ws.defined_names.add(DefinedName(name, attr_text=f"{_quote_sheet(ws.title)}!{ref}"))

    setup = ws.page_setup
    setup.paperSize = ws.PAPERSIZE_A4
    setup.orientation = "landscape" if layout.landscape else "portrait"
    if layout.fit_to_width:
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        setup.fitToWidth = 1
        setup.fitToHeight = 0
    ws.page_margins = PageMargins(**layout.margins)
    ws.print_options.horizontalCentered = True
    if layout.print_title_rows:
        ws.print_title_rows = layout.print_title_rows
    if layout.print_area:
        ws.print_area = layout.print_area
    if layout.footer:
        ws.oddFooter.center.text = layout.footer
        ws.oddFooter.center.font = "Times New Roman"
        ws.oddFooter.center.size = 10
    if layout.freeze:
        ws.freeze_panes = layout.freeze
    ws.sheet_view.showGridLines = False
    if layout.protect:
        p = ws.protection
        p.sheet = True
        # still allowed under protection: resizing rows and columns, selecting any cell
        p.formatColumns = False
        p.formatRows = False
    if layout.hidden:
        ws.sheet_state = "hidden"


# --- the plan and the roster as JSON (cached) ----------------------------------------------

_json_lock = threading.Lock()
_plan_json_cache: dict[int, tuple[Plan, str]] = {}
_roster_json_cache: dict[tuple[int, str | None], tuple[Roster, str]] = {}


def _plan_dict(plan: Plan) -> dict:
    from .plans import plan_to_dict

    return plan_to_dict(plan, json_safe=True)


def _scope_rows(roster: Roster, scope: str | None) -> list[dict]:
    """Roster rows a workbook needs to stand alone: the units under ``scope`` at any date,
    the units that replaced them after a merger, and the scope's own ancestors (so that
    the carried roster passes ``Roster.check``)."""
    rows = roster.to_rows()
    if scope is None:
        return rows
    children: dict[str, set[str]] = {}
    successors: dict[str, set[str]] = {}
    parents: dict[str, set[str]] = {}
    for u in roster.units:
        if u.parent:
            children.setdefault(u.parent, set()).add(u.code)
            parents.setdefault(u.code, set()).add(u.parent)
        for old in u.replaces:
            successors.setdefault(old, set()).add(u.code)
    keep, stack = {scope}, [scope]
    while stack:
        code = stack.pop()
        for nxt in children.get(code, set()) | successors.get(code, set()):
            if nxt not in keep:
                keep.add(nxt)
                stack.append(nxt)
    stack = list(keep)
    while stack:  # every parent of a kept unit, up to the root
        for parent in parents.get(stack.pop(), ()):
            if parent not in keep:
                keep.add(parent)
                stack.append(parent)
    return [r for r in rows if r["code"] in keep]


def _embed_root(plan: Plan, roster: Roster, unit: Unit) -> str | None:
    """Whose part of the roster a workbook carries: the plan's scope, or for a plan over the
    whole country the unit's own province (a national roster in every file would be huge)."""
    if plan.scope is not None:
        return plan.scope
    parents = _parents(roster)
    code, seen = unit.code, set()
    while parents.get(code) and code not in seen:
        seen.add(code)
        code = parents[code]
    return code


_parents_cache: dict[int, tuple[Roster, dict[str, str | None]]] = {}


def _parents(roster: Roster) -> dict[str, str | None]:
    hit = _parents_cache.get(id(roster))
    if hit is None or hit[0] is not roster:
        hit = (roster, {u.code: u.parent for u in roster.units})
        with _json_lock:
            if len(_parents_cache) > 8:
                _parents_cache.clear()
            _parents_cache[id(roster)] = hit
    return hit[1]


def _state_json(plan: Plan, roster: Roster, root: str | None) -> tuple[str, str]:
    with _json_lock:
        p = _plan_json_cache.get(id(plan))
        r = _roster_json_cache.get((id(roster), root))
    if p is None or p[0] is not plan:
        text = json.dumps(_plan_dict(plan), ensure_ascii=False, separators=(",", ":"))
        p = (plan, text)
        with _json_lock:
            if len(_plan_json_cache) > 32:
                _plan_json_cache.clear()
            _plan_json_cache[id(plan)] = p
    if r is None or r[0] is not roster:
        rows = _scope_rows(roster, root)
        text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
        r = (roster, text)
        with _json_lock:
            if len(_roster_json_cache) > 32:
                _roster_json_cache.clear()
            _roster_json_cache[(id(roster), root)] = r
    return p[1], r[1]


# --- the prototype: one openpyxl workbook per plan, phase and level, reused per unit --------

_TOKENS = UnitFields(
    code="\ue000code\ue001",
    name="\ue000name\ue001",
    upper="\ue000upper\ue001",
    place="\ue000place\ue001",
    title="\ue000title\ue001",
)
_REPORT_SHEET = "xl/worksheets/sheet1.xml"
_WORKBOOK = "xl/workbook.xml"
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def _xml(text: str) -> str:
    """Text escaped for XML content and attribute values alike."""
    return escape(text, {'"': "&quot;"})


class _Prototype:
    """The xlsx parts of a template written by the reference path for placeholder unit
    strings; :meth:`render` puts a unit's strings, report date and values in their place.

    Only the report sheet and the workbook part change; every other part is reused as is.
    """

    def __init__(
        self,
        parts: list[tuple[zipfile.ZipInfo, bytes]],
        empty: dict[str, str],
        layout: SheetLayout,
    ):
        self.parts = parts
        self.layout = layout
        self.empty = empty  # cell ref → the input cell's XML, e.g. '<c r="F17" s="24" t="n" />'
        self.sheet = next(d for i, d in parts if i.filename == _REPORT_SHEET).decode()
        self.book = next(d for i, d in parts if i.filename == _WORKBOOK).decode()

    @classmethod
    def build(
        cls, plan: Plan, roster: Roster, phase: str, level: str, root: str | None
    ) -> _Prototype | None:
        unit = Unit(code="0", name="0", level=level)
        wb = _build(plan, roster, unit, phase, None, None, fields=_TOKENS, root=root)
        layout = report_layout(plan, phase, unit, fields=_TOKENS)
        buf = io.BytesIO()
        wb.save(buf)
        with zipfile.ZipFile(buf) as z:
            parts = [(info, z.read(info)) for info in z.infolist()]
        names = [i.filename for i, _ in parts]
        if _REPORT_SHEET not in names or _WORKBOOK not in names:
            return None
        sheet = next(d for i, d in parts if i.filename == _REPORT_SHEET).decode()
        empty = {}
        for ref in [*layout.inputs.values(), layout.meta["report_date"]]:
            found = re.findall(rf'<c r="{ref}" s="\d+"[^>]*?(?: />|>.*?</c>)', sheet)
            if len(found) != 1:
                return None
            empty[ref] = found[0]
        for token in (_TOKENS.code, _TOKENS.name, _TOKENS.upper, _TOKENS.place):
            if token not in sheet:
                return None
        return cls(parts, empty, layout)

    def render(
        self, fields: UnitFields, report_date: dt.date | None, values: Values | None
    ) -> bytes | None:
        """The unit's xlsx, or None when a value needs the reference path."""
        sheet = self.sheet
        for token, text in (
            (_TOKENS.code, fields.code),
            (_TOKENS.name, fields.name),
            (_TOKENS.upper, fields.upper),
        ):
            sheet = sheet.replace(token, _xml(text))
        sheet = sheet.replace(_TOKENS.place, _xml(fields.place.replace('"', '""')))
        filled: dict[str, Any] = {}
        if isinstance(report_date, dt.datetime):
            return None  # a time of day too: the reference path stores it as given
        if report_date is not None:
            filled[self.layout.meta["report_date"]] = (report_date - _EXCEL_EPOCH).days
        for ind, comps in (values or {}).items():
            for comp, value in (comps or {}).items():
                ref = self.layout.inputs.get((ind, comp))
                if ref is None:
                    raise KeyError(f"no input cell for {ind}/{comp}")
                filled[ref] = value
        for ref, value in filled.items():
            if value is None:
                continue
            xml = self.empty[ref]
            style = re.match(r'<c r="[A-Z]+\d+" s="(\d+)"', xml).group(1)
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                return None
            if isinstance(value, str):
                text = safe_for_cell(value)
                if text[:1] in ("=", "+", "-", "@") or text != text.strip():
                    return None  # needs quotePrefix or xml:space: the reference path
                cell = f'<c r="{ref}" s="{style}" t="inlineStr"><is><t>{_xml(text)}</t></is></c>'
            else:
                if not math.isfinite(value):
                    return None
                cell = f'<c r="{ref}" s="{style}" t="n"><v>{value!r}</v></c>'
            sheet = sheet.replace(xml, cell, 1)
        title = _xml(fields.title)
        book = self.book.replace(
            f"'{_TOKENS.title}'", "'" + _xml(fields.title.replace("'", "''")) + "'"
        ).replace(_TOKENS.title, title)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for info, data in self.parts:
                if info.filename == _REPORT_SHEET:
                    data = sheet.encode()
                elif info.filename == _WORKBOOK:
                    data = book.encode()
                z.writestr(info, data)
        return buf.getvalue()


_proto_lock = threading.Lock()
_protos: dict[tuple[int, int, str, str], tuple[Plan, Roster, _Prototype | None]] = {}


def _prototype(
    plan: Plan, roster: Roster, phase: str, level: str, root: str | None
) -> _Prototype | None:
    key = (id(plan), id(roster), phase, level, root)
    with _proto_lock:
        hit = _protos.get(key)
    if hit is not None and hit[0] is plan and hit[1] is roster:
        return hit[2]
    proto = _Prototype.build(plan, roster, phase, level, root)
    with _proto_lock:
        if len(_protos) >= 64:
            _protos.clear()
        _protos[key] = (plan, roster, proto)
    return proto
