"""One report sheet read from a grid of cell values: identity, figures and findings.

Pure (no xlwings): the add-in's buttons pass ``sheet.used_range.value`` and
``TD_KIEM_TRA`` passes its range. The same steps as the batch reader
(``workbooks.reader``), minus what only a file can tell (formulas saved without their
result, cell fonts): :func:`workbooks.locate.locate` finds the table and the metadata,
``logic.checks`` reads and checks every value. Text typed in the old TCVN3/VNI encodings
is recognised by its look (``logic.text.looks_like_legacy``), as for ``.xls`` files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from logic.aggregate import Report
from logic.checks import Identity, check_identity, check_table, check_values
from logic.findings import Finding, finding
from logic.plan import Plan
from logic.roster import Roster
from logic.text import clean_text, decode_legacy, fold, looks_like_legacy
from workbooks.locate import Located, a1, locate

__all__ = ["NOT_REPORT_SHEETS", "SheetCheck", "check_grid", "grid_rows", "is_report_candidate"]

#: Sheets that never hold a report (folded names): the add-in's own sheets and the
#: template's instructions.
NOT_REPORT_SHEETS = frozenset(
    fold(name)
    for name in (
        "Hướng dẫn",
        "Kết quả kiểm tra",
        "Tổng hợp",
        "Đánh giá",
        "Tạo mới",
        "Danh mục",
        "Danh mục đơn vị",
    )
)
#: Identity problems that keep a sheet out of a roll-up (as in ``workbooks.consolidate``).
FATAL_IDENTITY = frozenset(
    {
        "unit_missing",
        "unit_unknown",
        "unit_not_commune",
        "phase_missing",
        "phase_unknown",
        "plan_mismatch",
    }
)


@dataclass
class SheetCheck:
    """What one grid holds: ``found`` is False when it has no table of the plan."""

    sheet: str | None
    found: bool
    located: Located
    identity: Identity = field(default_factory=Identity)
    values: dict[str, dict[str, float | None]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    empty: bool = False
    rows: list[list[Any]] = field(default_factory=list, repr=False)  # the grid, decoded
    origin: tuple[int, int] = (0, 0)  # 0-based (row, column) of rows[0][0] in the sheet

    def value_at(self, row: int, col: int) -> Any:
        """The value of the sheet's cell at 1-based ``row`` and 0-based ``col``."""
        i, j = row - 1 - self.origin[0], col - self.origin[1]
        if 0 <= i < len(self.rows) and 0 <= j < len(self.rows[i]):
            return self.rows[i][j]
        return None

    @property
    def usable(self) -> bool:
        """Unit and phase known and none of the identity problems that forbid a roll-up."""
        return (
            self.found
            and self.identity.unit is not None
            and self.identity.phase is not None
            and not any(f.code in FATAL_IDENTITY for f in self.findings)
        )

    @property
    def reason(self) -> str | None:
        """Why an unusable sheet is left out, in Vietnamese (None when usable)."""
        if not self.found:
            return "không có bảng chỉ tiêu của kế hoạch"
        fatal = [f for f in self.findings if f.code in FATAL_IDENTITY]
        if fatal:
            return fatal[0].message
        if self.identity.unit is None:
            return "không ghi mã đơn vị"
        if self.identity.phase is None:
            return "không ghi đợt thi đua"
        return None

    def to_report(self) -> Report:
        return Report(
            unit=self.identity.unit or "",
            phase=self.identity.phase or "",
            values=self.values,
            report_date=self.identity.report_date,
            source=self.sheet,
        )


def grid_rows(grid: Any) -> list[list[Any]]:
    """A used range's value as rows (xlwings gives a scalar or a flat list for one row)."""
    if grid is None:
        return []
    if not isinstance(grid, list | tuple):
        return [[grid]]
    if grid and not isinstance(grid[0], list | tuple):
        return [list(grid)]
    return [list(r) for r in grid]


def is_report_candidate(name: str, visible: bool = True) -> bool:
    """Whether a sheet may hold a report (visible, not one of the known other sheets)."""
    return visible and not name.startswith("_") and fold(name) not in NOT_REPORT_SHEETS


def check_grid(
    grid: Any,
    plan: Plan,
    roster: Roster | None,
    *,
    sheet: str | None = None,
    origin: tuple[int, int] = (0, 0),
) -> SheetCheck:
    """Locate and check the report of ``plan`` in ``grid``.

    ``origin`` is the 0-based (row, column) of ``grid[0][0]`` in the sheet, so that cells
    are named as the sheet names them. Findings carry ``sheet``, the unit and the phase.
    Codes: those of ``logic.checks.check_identity``, ``check_table`` and ``check_values``,
    and ``legacy_encoding``.
    """
    rows = grid_rows(grid)
    decoded = _decode_legacy(rows, origin)
    loc = locate(rows, plan, origin)
    if not loc.found:
        return SheetCheck(sheet, False, loc, rows=rows, origin=origin)
    meta = {k: _date_or(m.value) for k, m in loc.meta.items()}
    cells = {k: m.cell for k, m in loc.meta.items()}
    identity, found = check_identity(plan, roster, meta, cells)
    findings = list(found)
    findings += check_table(
        plan,
        missing_indicators=loc.missing_indicators,
        missing_columns=loc.missing_columns,
        unknown=loc.unknown,
        duplicates=loc.duplicates,
        code_cells=loc.code_cells,
    )
    values, found, empty = check_values(plan, loc.values, loc.cells)
    findings += found
    used = set(cells.values()) | set(loc.cells.values())
    shown = [c for c in decoded if c in used] or list(decoded)[:1]
    findings += [
        finding(
            "legacy_encoding",
            cell=c,
            font=decoded[c][0],
            value=_short(decoded[c][1]),
            converted=_short(clean_text(decoded[c][2])),
        )
        for c in shown
    ]
    located = [f.at(sheet=sheet, unit=identity.unit, phase=identity.phase) for f in findings]
    return SheetCheck(sheet, True, loc, identity, values, located, empty, rows, origin)


def _decode_legacy(rows: list[list[Any]], origin: tuple[int, int]) -> dict[str, tuple]:
    """Decode cells that look TCVN3/VNI in place; A1 → (label, raw, converted)."""
    changed: dict[str, tuple[str, str, str]] = {}
    r0, c0 = origin
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if isinstance(v, str) and v and not v.isascii():
                enc = looks_like_legacy(v)
                if enc is None:
                    continue
                text = decode_legacy(v, enc)
                if text != v:
                    row[j] = text
                    label = "TCVN3" if enc == "tcvn3" else "VNI"
                    changed[a1(i + r0 + 1, j + c0)] = (f"{label} (đoán)", v, text)
    return changed


def _date_or(value: Any) -> Any:
    # COM and Office.js give dates as datetimes; logic wants dates (or the raw value)
    return value.date() if isinstance(value, dt.datetime) else value


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
