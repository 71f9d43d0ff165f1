"""Read reporting workbooks: bytes or a path in, located values and findings out.

``read_workbook`` = pre-check (``workbooks.precheck``) → grids (python-calamine, every
format: .xlsx, .xlsm, .xls, .ods) → locate (``workbooks.locate``) → parse and check
(``logic.checks``). It never raises on user data: a refused, broken or foreign file comes
back as findings.

What python-calamine cannot say is read from the file's XML, cheaply and only when needed:

- **Formulas without a cached value and formula errors** read as "" in calamine. When a
  cell the report needs is blank, the sheet's XML part is scanned for it: ``<f>`` with no
  ``<v>`` is ``formula_no_cache``, ``t="e"`` is ``formula_error``.
- **TCVN3/VNI text**: the cell font decides. ``styles.xml`` is searched for ``.Vn…`` /
  ``VNI-…`` fonts; only if there is one are cell styles mapped to fonts and those cells
  decoded (before locating, so headers and labels typed in TCVN3 are found). Formats with
  no accessible fonts (.xls, .ods) fall back on ``looks_like_legacy``.

Sheets read: visible worksheets except known non-report ones ("Hướng dẫn", the findings
sheet of a feedback copy); the hidden ``_thidua`` sheet for the plan id (and, when no plan
is given, the embedded plan and roster). Each sheet holding the plan's indicator codes is
one :class:`SheetReport` (a district workbook with a sheet per commune gives several);
every other sheet is listed in ``ignored_sheets`` with the reason.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import posixpath
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from logic.aggregate import Report
from logic.checks import CellIssue, check_identity, check_table, check_values
from logic.errors import ThiduaError
from logic.findings import Finding, finding
from logic.plan import Plan, load_plan
from logic.roster import Roster
from logic.text import (
    clean_text,
    decode_for_font,
    decode_legacy,
    fold,
    legacy_font_encoding,
    looks_like_legacy,
)

from .layout import unpack_state
from .locate import Located, a1, locate
from .precheck import CheckedWorkbook, precheck
from .settings import Settings, get_settings

__all__ = [
    "FEEDBACK_SHEET",
    "META_SHEET",
    "SheetReport",
    "WorkbookRead",
    "embedded_plan",
    "read_workbook",
]

log = logging.getLogger(__name__)

META_SHEET = "_thidua"
FEEDBACK_SHEET = "Kết quả kiểm tra"
# Metadata whose blank cell may hide a formula worth reporting.
_CHECKED_META = ("plan_id", "unit", "phase", "report_date")
# Sheets that never hold a report (folded names): skipped without reading them.
_SKIP_SHEETS = {
    "huong dan": "trang hướng dẫn",
    "ket qua kiem tra": "trang kết quả kiểm tra",
    "danh muc": "trang danh mục",
    "danh muc don vi": "trang danh mục",
}


@dataclass
class SheetReport:
    """One report found on one sheet (spec: ``notes/sheet-spec.md``)."""

    path: str
    member: str | None
    sheet: str
    plan_id: str | None
    unit: str | None
    unit_name: str | None
    phase: str | None
    report_date: dt.date | None
    prepared_by: str | None
    values: dict[str, dict[str, float | None]]  # indicator → component → number (None: unusable)
    cells: dict[tuple[str, str], str]  # (indicator, component) → "F17"
    findings: list[Finding]  # located: path/member/sheet/cell/unit/phase set
    empty: bool  # a template with nothing filled
    level: str | None  # roster level of ``unit`` (a district's own tally sheet: "district")

    def to_report(self) -> Report:
        """The figures for ``logic.aggregate``; raises ValueError without a unit or phase."""
        if self.unit is None or self.phase is None:
            raise ValueError(f"sheet {self.sheet!r} of {self.path!r} has no unit or phase")
        return Report(
            unit=self.unit,
            phase=self.phase,
            values={k: dict(v) for k, v in self.values.items()},
            report_date=self.report_date,
            source=self.path,
        )


@dataclass
class WorkbookRead:
    """Everything read from one workbook file."""

    kind: str  # xlsx / xlsm / xls / ods (or what the pre-check called a refused file)
    sheets: list[SheetReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # file level
    ignored_sheets: list[tuple[str, str]] = field(default_factory=list)  # (sheet, reason)
    plan_id: str | None = None  # from _thidua
    embedded: Plan | None = None  # the workbook's own plan, when read without one


class SharedLayouts:
    """The sheet layouts of one batch's reads, each held once in the process keeping them.

    Reads arrive one pickle each (from the workers, from the cache), so every read brought
    its own copy of its sheet's layout, the cell of each indicator's component: 11 KB of a
    read's 18, 110 MB for the country's 10,051 reports, nearly all laid out alike.
    :meth:`share` swaps a sheet's copy for the first equal one met; a sheet's ``cells`` are
    only ever looked up, never changed.
    """

    def __init__(self) -> None:
        self.seen: dict[tuple[str, ...], dict[tuple[str, str], str]] = {}

    def share(self, read: WorkbookRead) -> WorkbookRead:
        for sheet in read.sheets:
            cells = sheet.cells
            same = self.seen.setdefault(tuple(cells.values()), cells)
            if same is not cells and same == cells:
                sheet.cells = same
        return read


def read_workbook(
    data: bytes | Path,
    *,
    name: str,
    plan: Plan | None,
    roster: Roster | None,
    settings: Settings | None = None,
    path: str | None = None,
    member: str | None = None,
    password: str | None = None,
) -> WorkbookRead:
    """Read one workbook; never raises on user data.

    ``name`` is the file name for findings; ``path`` (default ``name``) and ``member``
    (a sheet or attachment inside a larger input) are set on every finding. Without a
    ``plan``, the plan embedded in the workbook's ``_thidua`` sheet is used (and its roster
    when ``roster`` is None); a workbook with neither gives no reports and says why in
    ``ignored_sheets``.
    """
    settings = settings or get_settings()
    where = {"path": path or name, "member": member}
    if isinstance(data, Path):
        try:
            size = data.stat().st_size
            if size > settings.max_file_bytes:
                f = finding(
                    "file_too_large",
                    limit_name="dung lượng tệp (byte)",
                    value=size,
                    limit=settings.max_file_bytes,
                )
                return WorkbookRead("unknown", findings=[f.at(**where)])
            data = data.read_bytes()
        except OSError as e:
            f = finding("file_unreadable", why=e.strerror or type(e).__name__)
            return WorkbookRead("unknown", findings=[f.at(**where)])
    pre = precheck(data, name, settings, password=password, sheets=_sheets_read(plan))
    out = WorkbookRead(pre.kind, findings=[f.at(**where) for f in pre.findings])
    if not pre.ok or pre.workbook is None:
        return out
    try:
        _Reader(pre.workbook, plan, roster, out, where).run()
    except BaseException as e:  # a file calamine cannot parse: say so, never crash the batch
        if not _reader_failure(e):
            raise
        log.warning("%s: %s", where["path"], e, exc_info=True)
        out.sheets.clear()
        out.findings.append(
            finding("file_unreadable", why=f"{type(e).__name__}: {_short(str(e))}").at(**where)
        )
    return out


def embedded_plan(data: bytes, name: str = "", settings: Settings | None = None):
    """(plan id, Plan or None, Roster or None) from a workbook's ``_thidua`` sheet.

    Never raises: a refused file or a broken embedded plan gives Nones.
    """
    pre = precheck(data, name, settings or get_settings(), sheets=lambda s: s == META_SHEET)
    if not pre.ok or pre.workbook is None:
        return None, None, None
    try:
        book = pre.workbook.open_calamine()
        meta = _read_meta_sheet(book)
    except BaseException as e:
        if not _reader_failure(e):
            raise
        return None, None, None
    return meta.plan_id, meta.plan(), meta.roster()


# --- internals ------------------------------------------------------------------------


def _sheets_read(plan: Plan | None):
    """Which sheets :class:`_Reader` may read, by name, for the pre-check to measure: not the
    known non-report ones, nor ``_thidua`` when the plan is given."""

    def read(sheet: str) -> bool:
        if sheet == META_SHEET:
            return plan is None
        return _fold(sheet) not in _SKIP_SHEETS

    return read


def _reader_failure(e: BaseException) -> bool:
    """Whether a reader raised ``e`` on bad bytes: any ``Exception``, or the
    ``PanicException`` python-calamine raises when its Rust code panics (a date cell
    holding -1e12 does), which pyo3 derives from ``BaseException``."""
    return isinstance(e, Exception) or type(e).__name__ == "PanicException"


@dataclass
class _Meta:
    plan_id: str | None = None
    plan_json: str | None = None
    roster_json: str | None = None

    def plan(self) -> Plan | None:
        if self.plan_json:
            found = _plan_from_json(self.plan_json)
            if found is not None:
                return found
        if self.plan_id:
            from .plans import bundled_plans, load

            if self.plan_id in bundled_plans():
                try:
                    return load(self.plan_id)
                except ThiduaError:
                    return None
        return None

    def roster(self) -> Roster | None:
        return _roster_from_json(self.roster_json) if self.roster_json else None


# A batch of workbooks from one template carries the same plan and roster: parse them once.
@lru_cache(maxsize=8)
def _plan_from_json(text: str) -> Plan | None:
    try:
        return load_plan(json.loads(unpack_state(text)))
    except (ThiduaError, ValueError, TypeError):
        return None


@lru_cache(maxsize=8)
def _roster_from_json(text: str) -> Roster | None:
    try:
        return Roster.from_rows(json.loads(unpack_state(text)))
    except (ThiduaError, ValueError, TypeError, AttributeError):
        return None


def _read_meta_sheet(book: Any) -> _Meta:
    meta = _Meta()
    if META_SHEET not in book.sheet_names:
        return meta
    rows = book.get_sheet_by_name(META_SHEET).to_python(skip_empty_area=False, nrows=8)
    for row in rows:
        if not row or not isinstance(row[0], str):
            continue
        key = row[0].strip()
        rest = "".join(v for v in row[1:] if isinstance(v, str))
        if key == "plan_id":
            meta.plan_id = clean_text(str(row[1])) if len(row) > 1 and row[1] != "" else None
        elif key == "plan_json":
            meta.plan_json = rest or None
        elif key == "roster_json":
            meta.roster_json = rest or None
    return meta


class _Reader:
    def __init__(self, checked, plan: Plan | None, roster: Roster | None, out: WorkbookRead, where):
        self.checked = checked
        self.kind = checked.kind
        self.plan = plan
        self.roster = roster
        self.out = out
        self.where = where
        self.ooxml = _Ooxml(checked) if self.kind in ("xlsx", "xlsm") else None

    def run(self) -> None:
        book = self.checked.open_calamine()
        try:
            self._run(book)
        finally:
            book.close()

    def _run(self, book: Any) -> None:
        from python_calamine import SheetTypeEnum, SheetVisibleEnum

        plan = self.plan
        if plan is None:
            # the embedded plan and roster: a large sheet, read only when no plan is given
            meta = _read_meta_sheet(book)
            self.out.plan_id = meta.plan_id
            plan = self.out.embedded = meta.plan()
            if self.roster is None and plan is not None:
                self.roster = meta.roster() or _bundled_roster(plan)
        for info in book.sheets_metadata:
            sheet = info.name
            skip = _SKIP_SHEETS.get(_fold(sheet))
            if sheet == META_SHEET:
                skip = "trang dữ liệu ẩn của mẫu báo cáo"
            elif info.typ != SheetTypeEnum.WorkSheet:
                skip = "không phải trang số liệu (biểu đồ, macro)"
            elif info.visible != SheetVisibleEnum.Visible:
                skip = "trang bị ẩn"
            if skip is None and plan is None:
                skip = (
                    "không xác định được kế hoạch (tệp không mang mã kế hoạch; hãy chỉ rõ --plan)"
                )
            if skip is not None:
                self.out.ignored_sheets.append((sheet, skip))
                continue
            try:
                report = self._sheet(book, sheet, plan)
            except BaseException as e:  # one broken sheet must not hide the others
                if not _reader_failure(e):
                    raise
                log.warning("sheet %r of %s: %s", sheet, self.where["path"], e, exc_info=True)
                self.out.ignored_sheets.append(
                    (sheet, f"không đọc được trang ({type(e).__name__})")
                )
                continue
            if report is not None:
                self.out.sheets.append(report)
        if self.out.plan_id is None:
            self.out.plan_id = next((r.plan_id for r in self.out.sheets if r.plan_id), None)
        if not self.out.sheets and plan is not None:
            self.out.findings.append(finding("not_a_report").at(**self.where))

    def _sheet(self, book: Any, sheet: str, plan: Plan) -> SheetReport | None:
        ws = book.get_sheet_by_name(sheet)
        grid = ws.to_python()
        origin = ws.start or (0, 0)
        decoded = self._decode_legacy(sheet, grid, origin)
        loc = locate(grid, plan, origin, ws.merged_cell_ranges or ())
        if not loc.found:
            reason = "trang trống" if not grid else "không có bảng chỉ tiêu của kế hoạch"
            self.out.ignored_sheets.append((sheet, reason))
            return None
        return self._report(sheet, plan, loc, decoded)

    # -- one report ------------------------------------------------------------------
    def _report(
        self, sheet: str, plan: Plan, loc: Located, decoded: dict[str, tuple[str, str, str]]
    ) -> SheetReport:
        findings: list[Finding] = []
        meta = {k: m.value for k, m in loc.meta.items()}
        meta_cells = {k: m.cell for k, m in loc.meta.items()}
        raw = loc.values
        blank_cells = [
            cell for key, cell in loc.cells.items() if (v := raw.get(key)) is None or v == ""
        ] + [m.cell for k, m in loc.meta.items() if k in _CHECKED_META and _blank(m.value)]
        issues = self._issues(sheet, blank_cells)
        identity, found = check_identity(plan, self.roster, meta, meta_cells)
        silenced = {"unit_missing", "phase_missing", "report_date_missing"}
        for f in found:
            if f.code in silenced and f.cell in issues:
                continue  # the formula finding below says more
            findings.append(f)
        for m in loc.meta.values():
            if m.cell in issues:
                findings.append(_issue_finding(issues[m.cell], m.cell))
        findings += check_table(
            plan,
            missing_indicators=loc.missing_indicators,
            missing_columns=loc.missing_columns,
            unknown=loc.unknown,
            duplicates=loc.duplicates,
            code_cells=loc.code_cells,
        )
        values, found, empty = check_values(plan, loc.values, loc.cells, issues)
        findings += found
        if decoded:
            findings += _legacy_findings(decoded, {*meta_cells.values(), *loc.cells.values()})
        located = [
            f.at(sheet=sheet, unit=identity.unit, phase=identity.phase, **self.where)
            for f in findings
        ]
        return SheetReport(
            path=self.where["path"],
            member=self.where["member"],
            sheet=sheet,
            plan_id=identity.plan_id,
            unit=identity.unit,
            unit_name=identity.unit_name,
            phase=identity.phase,
            report_date=identity.report_date,
            prepared_by=identity.prepared_by,
            values=values,
            cells=dict(loc.cells),
            findings=located,
            empty=empty,
            level=identity.level,
        )

    def _issues(self, sheet: str, cells: list[str]) -> dict[str, CellIssue]:
        if not cells or self.ooxml is None:
            return {}
        return self.ooxml.cell_issues(sheet, set(cells))

    # -- legacy text -----------------------------------------------------------------
    def _decode_legacy(
        self, sheet: str, grid: list[list[Any]], origin: tuple[int, int]
    ) -> dict[str, tuple[str, str, str]]:
        """Decode TCVN3/VNI cells in place; A1 → (font, raw, converted) of those changed."""
        changed: dict[str, tuple[str, str, str]] = {}
        r0, c0 = origin
        if self.ooxml is not None:
            # the fonts first: a batch's styles part is the same bytes file after file
            if not self.ooxml.has_legacy_fonts() or not _maybe_legacy(grid):
                return changed
            for (r, c), font in self.ooxml.legacy_cells(sheet).items():
                i, j = r - r0, c - c0
                if 0 <= i < len(grid) and 0 <= j < len(grid[i]) and isinstance(grid[i][j], str):
                    raw = grid[i][j]
                    text = decode_for_font(raw, font)
                    if text != raw:
                        grid[i][j] = text
                        changed[a1(r + 1, c)] = (font, raw, text)
            return changed
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                if isinstance(v, str) and v and not v.isascii():
                    enc = looks_like_legacy(v)
                    if enc is not None:
                        text = decode_legacy(v, enc)
                        if text != v:
                            grid[i][j] = text
                            label = "TCVN3" if enc == "tcvn3" else "VNI"
                            changed[a1(i + r0 + 1, j + c0)] = (f"{label} (đoán)", v, text)
        return changed


_fold = lru_cache(maxsize=1024)(fold)
# Latin-1 characters that Unicode Vietnamese never uses: TCVN3 and VNI text has them.
_NOT_VIETNAMESE_LATIN1 = re.compile(
    "[\u0080-\u00bf\u00c4-\u00c7\u00cb\u00ce-\u00d1\u00d6-\u00d8\u00db\u00dc"
    "\u00de-\u00df\u00e4-\u00e7\u00eb\u00ee-\u00f1\u00f6-\u00f8\u00fb\u00fc\u00fe\u00ff]"
)


def _maybe_legacy(grid: list[list[Any]]) -> bool:
    """Whether any text could be TCVN3/VNI: only then are cell fonts worth looking up."""
    text = "\n".join([v for row in grid for v in row if type(v) is str])
    return not text.isascii() and _NOT_VIETNAMESE_LATIN1.search(text) is not None


def _legacy_findings(decoded: dict[str, tuple[str, str, str]], used: set[str]) -> list[Finding]:
    """One finding per decoded cell the report uses; else one for the first decoded cell
    (the user should know the sheet is in an old encoding)."""
    cells = [c for c in decoded if c in used] or list(decoded)[:1]
    return [
        finding(
            "legacy_encoding",
            cell=c,
            font=decoded[c][0],
            value=_short(decoded[c][1]),
            converted=_short(clean_text(decoded[c][2])),
        )
        for c in cells
    ]


def _issue_finding(issue: CellIssue, cell: str) -> Finding:
    if issue.kind == "no_cache":
        return finding("formula_no_cache", cell=cell, formula=_short(issue.text))
    return finding("formula_error", cell=cell, value=issue.text)


def _bundled_roster(plan: Plan) -> Roster | None:
    if not plan.roster:
        return None
    from .rosters import load_roster

    try:
        return load_roster(plan.roster)
    except ThiduaError:
        return None


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the OOXML parts calamine does not interpret ---------------------------------------------

_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\b([^>]*)/?>")
_ATTR = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')
_REL_TAG = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*)/?>")
_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_FORMULA = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)", re.S)
_FORMULA_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*)>\s*<(?:\w+:)?f\b")
_ERROR_CELL = re.compile(rb'<(?:\w+:)?c\b([^>]*\bt="e"[^>]*)>')
_CLOSE_CELL = re.compile(rb"</(?:\w+:)?c>")
_R_ATTR = re.compile(rb'\br="([A-Z]{1,3}[0-9]{1,7})"')
_VALUE = re.compile(rb"<(?:\w+:)?v\b[^>]*>(.*?)</(?:\w+:)?v>", re.S)
_LEGACY_FONT = re.compile(rb'val="\s*(?:\.vn|vni[-_ ])', re.I)
_REF = re.compile(r"([A-Z]{1,3})([0-9]+)")


class _Ooxml:
    """Lazy access to the XML parts of an .xlsx/.xlsm (already pre-checked): the parts the
    pre-check inflated are not inflated again."""

    def __init__(self, checked: CheckedWorkbook):
        self._checked = checked
        self._parts: dict[str, str] | None = None
        self._styles: bytes | None = None
        self._xml: dict[str, bytes] = {}

    def _read(self, name: str) -> bytes:
        return self._checked.part(name)

    def sheet_part(self, sheet: str) -> str | None:
        if self._parts is None:
            self._parts = {}
            rels = {}
            for m in _REL_TAG.finditer(self._read("xl/_rels/workbook.xml.rels")):
                a = _attrs(m.group(1))
                if "Id" in a and "Target" in a:
                    target = a["Target"]
                    rels[a["Id"]] = (
                        target.lstrip("/")
                        if target.startswith("/")
                        else posixpath.normpath(posixpath.join("xl", target))
                    )
            for m in _SHEET_TAG.finditer(self._read("xl/workbook.xml")):
                a = _attrs(m.group(1))
                rid = next((v for k, v in a.items() if k.endswith(":id") or k == "id"), None)
                if "name" in a and rid in rels:
                    self._parts[clean_text(a["name"])] = rels[rid]
        return self._parts.get(clean_text(sheet))

    def sheet_xml(self, sheet: str) -> bytes:
        part = self.sheet_part(sheet)
        if part is None:
            return b""
        if part not in self._xml:
            self._xml[part] = self._read(part)
        return self._xml[part]

    def cell_issues(self, sheet: str, cells: set[str]) -> dict[str, CellIssue]:
        """Formulas without a cached value and error results among ``cells``."""
        xml = self.sheet_xml(sheet)
        out: dict[str, CellIssue] = {}
        if not xml:
            return out
        # only cells holding a formula (``<f>`` is a cell's first child) or an error
        for m in _FORMULA_CELL.finditer(xml):
            ref = _R_ATTR.search(m.group(1))
            if ref is None or ref.group(1).decode() not in cells:
                continue
            if b't="e"' in m.group(1):
                continue  # an error result: below
            close = _CLOSE_CELL.search(xml, m.end())
            body = xml[m.end() - 2 : close.start() if close else len(xml)]
            value = _VALUE.search(body)
            if value is None or value.group(1) == b"":
                f = _FORMULA.search(body)
                text = _xml_text(f.group(1) or b"") if f else ""
                out[ref.group(1).decode()] = CellIssue(
                    "no_cache", "=" + text if text else "(công thức dùng chung)"
                )
        if b't="e"' in xml:
            for m in _ERROR_CELL.finditer(xml):
                ref = _R_ATTR.search(m.group(1))
                if ref is None or ref.group(1).decode() not in cells:
                    continue
                close = _CLOSE_CELL.search(xml, m.end())
                value = _VALUE.search(xml, m.end(), close.start() if close else len(xml))
                out[ref.group(1).decode()] = CellIssue(
                    "error", _xml_text(value.group(1)) if value else "#N/A"
                )
        return out

    def has_legacy_fonts(self) -> bool:
        if self._styles is None:
            self._styles = self._read("xl/styles.xml")
        if len(self._styles) <= 32 * 1024:  # hashing more would cost more than searching
            return _names_legacy_font(self._styles)
        return _LEGACY_FONT.search(self._styles) is not None

    def legacy_cells(self, sheet: str) -> dict[tuple[int, int], str]:
        """(0-based row, col) → legacy font name, for cells whose style uses one."""
        fonts = _xf_fonts(self._styles or b"")
        if not fonts:
            return {}
        out: dict[tuple[int, int], str] = {}
        for m in _CELL.finditer(self.sheet_xml(sheet)):
            a = _attrs(m.group(1))
            font = fonts.get(int(a.get("s", "0") or 0))
            ref = _REF.fullmatch(a.get("r", ""))
            if font and ref:
                out[(int(ref.group(2)) - 1, _col_index(ref.group(1)))] = font
        return out


@lru_cache(maxsize=32)
def _names_legacy_font(styles: bytes) -> bool:
    """Whether a styles part names a TCVN3/VNI font (kept: the part repeats in a batch)."""
    return _LEGACY_FONT.search(styles) is not None


def _attrs(raw: bytes) -> dict[str, str]:
    return {k.decode(): html.unescape(v.decode("utf-8", "replace")) for k, v in _ATTR.findall(raw)}


def _xml_text(raw: bytes) -> str:
    return html.unescape(raw.decode("utf-8", "replace"))


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


_FONTS_BLOCK = re.compile(rb"<(?:\w+:)?fonts\b[^>]*>(.*?)</(?:\w+:)?fonts>", re.S)
_FONT = re.compile(rb"<(?:\w+:)?font\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?font>)", re.S)
_FONT_NAME = re.compile(rb'<(?:\w+:)?name\b[^>]*\bval="([^"]*)"')
_XFS_BLOCK = re.compile(rb"<(?:\w+:)?cellXfs\b[^>]*>(.*?)</(?:\w+:)?cellXfs>", re.S)
_XF = re.compile(rb"<(?:\w+:)?xf\b([^>]*?)/?>")


@lru_cache(maxsize=32)
def _xf_fonts(styles: bytes) -> dict[int, str]:
    """Cell style index → font name, for styles whose font is a legacy (TCVN3/VNI) one."""
    block = _FONTS_BLOCK.search(styles)
    if not block:
        return {}
    names = []
    for m in _FONT.finditer(block.group(1)):
        n = _FONT_NAME.search(m.group(1) or b"")
        names.append(_xml_text(n.group(1)) if n else "")
    xfs = _XFS_BLOCK.search(styles)
    if not xfs:
        return {}
    out = {}
    for i, m in enumerate(_XF.finditer(xfs.group(1))):
        font_id = int(_attrs(m.group(1)).get("fontId", "0") or 0)
        name = names[font_id] if font_id < len(names) else ""
        if legacy_font_encoding(name):
            out[i] = name
    return out
