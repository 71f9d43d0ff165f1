"""The plan and the roster a workbook carries, or a bundled plan named by its id.

Pure (no xlwings): the input is a grid of cell values. A reporting workbook made by thidua
carries its plan on the hidden sheet ``_thidua`` (``notes/sheet-spec.md``)::

    A1 "thidua-template"  B1 template version
    A2 "plan_id"          B2 plan id
    A3 "plan_version"     B3 version
    A4 "plan_json"        B4, C4, … the plan as JSON, in chunks of 30,000 characters
    A5 "roster_json"      B5, C5, … the roster rows of the plan's scope as JSON

Since template 2 the JSON is packed (``workbooks.layout.pack_state``: zlib and base64 behind
a mark); plain JSON from template 1 is read as before.

A UDF gets its plan as an argument, which may be that sheet (``_thidua!A1:Z5``), its plan
row alone (``_thidua!B4:Z4``), a cell holding the plan id (``_thidua!B2``) or the id typed
in (``"thanh-hoa-2024"``): :func:`plan_from_arg` accepts each. A button reads the sheet
itself (:func:`read_state`).

Plans and rosters are parsed once per distinct JSON text (a whole-column UDF call sends
the same plan every time). Problems raise :class:`StateError` (a ``ThiduaError``) with a
Vietnamese message naming what to do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from logic.errors import PlanError, RosterError, ThiduaError
from logic.plan import Plan, load_plan
from logic.roster import Roster
from logic.text import clean_text, fold
from workbooks.layout import STATE_PACKED, unpack_state

from ._bundled import PLANS

__all__ = [
    "STATE_SHEET",
    "State",
    "StateError",
    "bundled_plan",
    "bundled_plan_ids",
    "plan_from_arg",
    "plan_id_in_grid",
    "read_state",
]

STATE_SHEET = "_thidua"
_LABELS = {"plan_id", "plan_version", "plan_json", "roster_json", "thidua-template"}
#: How a user points a function at the workbook's plan (shown in messages).
PLAN_ARG_HINT = f"vùng {STATE_SHEET}!A1:Z5 của mẫu báo cáo"


class StateError(ThiduaError):
    """The plan or roster cannot be found or read (message in Vietnamese)."""


@dataclass(frozen=True)
class State:
    """What a workbook (or a function argument) says about its plan and roster."""

    plan_id: str | None = None
    plan_json: str | None = None
    roster_json: str | None = None

    def plan(self) -> Plan:
        """The carried plan, else the bundled plan of ``plan_id``; raises StateError."""
        if self.plan_json:
            return _plan_from_json(self.plan_json)
        if self.plan_id:
            return bundled_plan(self.plan_id)
        raise StateError(_missing_plan())

    def roster(self) -> Roster | None:
        """The carried roster, or None when the workbook carries none; raises StateError."""
        if not self.roster_json:
            return None
        return _roster_from_json(self.roster_json)


def bundled_plan_ids() -> list[str]:
    return sorted(PLANS)


def bundled_plan(plan_id: str) -> Plan:
    """A bundled plan by id (case and spaces forgiven); raises StateError."""
    key = clean_text(plan_id).casefold()
    for pid in PLANS:
        if pid.casefold() == key:
            return _bundled(pid)
    raise StateError(
        f"Không có kế hoạch có sẵn mã “{clean_text(plan_id)[:60]}”. Các kế hoạch có sẵn: "
        f"{', '.join(bundled_plan_ids())}; kế hoạch riêng của địa phương thì chọn "
        f"{PLAN_ARG_HINT}."
    )


@lru_cache(maxsize=8)
def _bundled(pid: str) -> Plan:
    return load_plan(PLANS[pid], source=pid)


def read_state(grid: Any) -> State:
    """Read the ``_thidua`` sheet's grid (labels in the first column)."""
    rows = _rows(grid)
    found: dict[str, str] = {}
    for row in rows:
        if not row or not isinstance(row[0], str):
            continue
        key = row[0].strip()
        if key not in _LABELS:
            continue
        if key in ("plan_json", "roster_json"):
            found[key] = "".join(v for v in row[1:] if isinstance(v, str))
        elif len(row) > 1 and row[1] not in (None, ""):
            found[key] = _text(row[1])
    return State(
        plan_id=found.get("plan_id") or None,
        plan_json=found.get("plan_json") or None,
        roster_json=found.get("roster_json") or None,
    )


def plan_from_arg(value: Any, *, roster: bool = True) -> tuple[Plan, Roster | None]:
    """The plan (and roster, if given and ``roster``) a function argument names.

    Accepts the ``_thidua`` sheet or part of it (labels in the first column), a row of
    plan JSON chunks, a cell holding a plan id, or the id as text. Raises StateError.
    """
    rows = _rows(value)
    cells = [v for row in rows for v in row if v not in (None, "")]
    if not cells:
        raise StateError(_missing_plan())
    if any(isinstance(row[0], str) and row[0].strip() in _LABELS for row in rows if row):
        state = read_state(rows)
        return state.plan(), state.roster() if roster else None
    for row in rows:
        text = "".join(v for v in row if isinstance(v, str))
        if text.lstrip().startswith(("{", STATE_PACKED)):
            return _plan_from_json(text), None
    first = next((v for v in cells if isinstance(v, str)), None)
    if first is None:
        raise StateError(_missing_plan())
    return bundled_plan(first), None


def plan_id_in_grid(grid: Any) -> str | None:
    """The plan id written beside a "Mã kế hoạch:" label in a report sheet's grid."""
    for row in _rows(grid)[:40]:
        for j, v in enumerate(row):
            if not isinstance(v, str) or len(v) > 60:
                continue
            label, _, rest = v.partition(":")
            if fold(label) != "ma ke hoach":
                continue
            if clean_text(rest):
                return clean_text(rest)
            for x in row[j + 1 :]:
                if x not in (None, ""):
                    return _text(x)
    return None


# --- parsing, cached per text ------------------------------------------------------------


@lru_cache(maxsize=16)
def _plan_from_json(text: str) -> Plan:
    try:
        data = json.loads(unpack_state(text))
    except ValueError:
        raise StateError(
            f"Kế hoạch lưu trong trang {STATE_SHEET} bị hỏng (không đọc được). "
            "Hãy dùng lại mẫu báo cáo do cấp trên gửi."
        ) from None
    if not isinstance(data, dict):
        raise StateError(f"Kế hoạch lưu trong trang {STATE_SHEET} không đúng dạng.")
    try:
        return load_plan(data, source=STATE_SHEET)
    except PlanError as e:
        raise StateError(str(e)) from None


@lru_cache(maxsize=8)
def _roster_from_json(text: str) -> Roster:
    try:
        rows = json.loads(unpack_state(text))
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError
        return Roster.from_rows(_rooted(rows))
    except ValueError:
        raise StateError(
            f"Danh mục đơn vị lưu trong trang {STATE_SHEET} bị hỏng (không đọc được). "
            "Hãy dùng lại mẫu báo cáo do cấp trên gửi."
        ) from None
    except RosterError as e:
        raise StateError(str(e)) from None


def _rooted(rows: list[dict]) -> list[dict]:
    """Rows whose parent is not among them become roots.

    A template carries the units of the plan's scope only (a district and its communes),
    so the scope's own parent (the province) is absent; ``Roster.check`` would refuse
    the rows for it.
    """
    codes = {str(r.get("code") or "").strip() for r in rows}
    out = []
    for r in rows:
        parent = str(r.get("parent") or r.get("parent_code") or "").strip()
        out.append(r if not parent or parent in codes else {**r, "parent": "", "parent_code": ""})
    return out


def _missing_plan() -> str:
    return (
        f"Chưa có kế hoạch thi đua: chọn {PLAN_ARG_HINT}, hoặc ghi mã một kế hoạch có sẵn "
        f"({', '.join(bundled_plan_ids())})."
    )


def _rows(grid: Any) -> list[Sequence[Any]]:
    if grid is None:
        return []
    if not isinstance(grid, list | tuple):
        return [[grid]]
    if grid and not isinstance(grid[0], list | tuple):
        return [list(grid)]
    return [list(r) for r in grid]


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return clean_text(str(value))
