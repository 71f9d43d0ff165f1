"""Unit rosters from files: the bundled ones, a user's CSV or workbook, the national list.

A roster file has one row per unit record, with English or Vietnamese headers:

=============  ==============  =====================================================
English        Vietnamese      value
=============  ==============  =====================================================
code           Mã              official code (GSO, zero-padded in the bundled data)
name           Tên             unit name
level          Cấp             province / district / commune, or tỉnh / huyện / xã
parent         Mã cấp trên     code of the parent unit on those dates
valid_from     Hiệu lực từ     first day (dd/mm/yyyy or ISO); empty: always
valid_to       Hiệu lực đến    last day; empty: still valid
replaces       Thay cho        codes of the earlier units it took over
email          Email           addresses reports come from (spaces or commas)
=============  ==============  =====================================================

``roster_from_grid`` needs no file, so the add-in can build a roster from a sheet's values.
"""

from __future__ import annotations

import csv
import datetime as dt
import unicodedata
from functools import cache, lru_cache
from pathlib import Path

from logic.errors import RosterError
from logic.roster import LEVEL_LABELS, Roster

__all__ = ["bundled_rosters", "load_roster", "national_roster", "roster_from_grid"]

BUNDLED_DIR = Path(__file__).parent / "data" / "rosters"

_HEADERS = {
    "code": "code", "mã": "code", "mã đơn vị": "code",
    "name": "name", "tên": "name", "tên đơn vị": "name",
    "level": "level", "cấp": "level",
    "parent": "parent", "parent_code": "parent", "mã cấp trên": "parent",
    "valid_from": "valid_from", "hiệu lực từ": "valid_from",
    "valid_to": "valid_to", "hiệu lực đến": "valid_to",
    "replaces": "replaces", "thay cho": "replaces",
    "email": "email", "e-mail": "email", "thư điện tử": "email",
}  # fmt: skip
_LEVELS = {label: level for level, label in LEVEL_LABELS.items()} | {
    "cấp tỉnh": "province", "cấp huyện": "district", "cấp xã": "commune",
}  # fmt: skip
_WIDTH = {"province": 2, "district": 3, "commune": 5}


def bundled_rosters() -> list[str]:
    """Ids of the rosters shipped with thidua (``thanh-hoa``, ``nghe-an``, …)."""
    return sorted(p.stem for p in BUNDLED_DIR.glob("*.csv"))


def load_roster(ref: str | Path) -> Roster:
    """A bundled roster by id, or a roster read from a ``.csv`` / ``.xlsx`` file.

    Raises ``RosterError`` (Vietnamese message) if the file is missing or the roster broken.
    """
    if isinstance(ref, str) and ref in bundled_rosters():
        return _bundled(ref)
    path = Path(ref)
    if not path.is_file():
        known = ", ".join(bundled_rosters())
        raise RosterError(
            f"Không tìm thấy danh mục đơn vị “{ref}”: không phải tệp, "
            f"cũng không phải danh mục có sẵn ({known})"
        )
    suffix = path.suffix.lower()
    if suffix == ".csv":
        grid = _read_csv(path)
        if grid and [_norm(h) for h in grid[0]] == ["code", "name", "level", "parent_code"]:
            return national_roster(path)  # the shared national list (unpadded codes)
        return roster_from_grid(grid, name=path.stem)
    if suffix in (".xlsx", ".xlsm"):
        return roster_from_grid(_read_xlsx(path), name=path.stem)
    raise RosterError(f"Danh mục đơn vị phải là tệp .csv hoặc .xlsx, không phải “{path.name}”")


@cache
def _bundled(roster_id: str) -> Roster:
    return roster_from_grid(_read_csv(BUNDLED_DIR / f"{roster_id}.csv"), name=roster_id)


def roster_from_grid(grid: list[list], name: str | None = None) -> Roster:
    """Build a roster from a 2-D list of cell values whose first non-empty row is the header."""
    rows = iter(grid)
    header: list | None = None
    for row in rows:
        if any(_text(v) for v in row):
            header = row
            break
    if header is None:
        raise RosterError("Danh mục đơn vị trống: không có dòng tiêu đề")
    keys = [_HEADERS.get(_norm(v)) for v in header]
    missing = [label for key, label in (("code", "Mã"), ("level", "Cấp")) if key not in keys]
    if missing:
        raise RosterError(
            "Danh mục đơn vị thiếu cột " + ", ".join(f"“{m}”" for m in missing)
            + " (tiêu đề cần có: Mã, Tên, Cấp, Mã cấp trên, Hiệu lực từ, Hiệu lực đến, Thay cho, Email)"
        )  # fmt: skip
    records = []
    for row in rows:
        record = {k: v for k, v in zip(keys, row, strict=False) if k}
        if not any(_text(v) for v in record.values()):
            continue  # blank line, or a row of formulas nobody filled in
        record = {k: v if isinstance(v, dt.date) else _text(v) for k, v in record.items()}
        level = _norm(record.get("level"))
        record["level"] = _LEVELS.get(level, level)
        records.append(record)
    return Roster.from_rows(records, name=name)


@lru_cache(maxsize=4)
def national_roster(path: str | Path) -> Roster:
    """The shared national list (``code, name, level, parent_code``) as one undated roster.

    Codes are zero-padded by level (province 2 digits, district 3, commune 5), the official
    form: the unpadded file numbers Hà Nội's province, first district and first commune all 1.
    """
    grid = _read_csv(Path(path))
    header = [_norm(h) for h in grid[0]]
    at = {h: header.index(h) for h in ("code", "name", "level", "parent_code")}
    levels = {row[at["level"]] for row in grid[1:]}
    parent_level = {
        "district": "province",
        "commune": "district" if "district" in levels else "province",
    }
    records = []
    for row in grid[1:]:
        level = row[at["level"]]
        parent = row[at["parent_code"]]
        records.append({
            "code": _pad(row[at["code"]], level),
            "name": row[at["name"]],
            "level": level,
            "parent": _pad(parent, parent_level[level]) if parent and level in parent_level else "",
        })  # fmt: skip
    return Roster.from_rows(records, name=Path(path).stem)


def _pad(code: str, level: str) -> str:
    code = code.strip()
    return code.zfill(_WIDTH[level]) if code.isdigit() and level in _WIDTH else code


def _read_csv(path: Path) -> list[list[str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return list(csv.reader(f))
    except UnicodeDecodeError as e:
        raise RosterError(f"Danh mục đơn vị “{path.name}” không phải văn bản UTF-8") from e


def _read_xlsx(path: Path) -> list[list]:
    """The first sheet whose header names a code column (else the first sheet), as values."""
    import openpyxl  # only here: reading a bundled CSV needs no workbook library

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # zip, XML or format errors all mean the same thing to a user
        raise RosterError(f"Không đọc được danh mục đơn vị “{path.name}”: {e}") from e
    try:
        grids = [[list(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets]
    finally:
        book.close()
    for grid in grids:
        first = next((r for r in grid if any(_text(v) for v in r)), [])
        if any(_HEADERS.get(_norm(v)) == "code" for v in first):
            return grid
    return grids[0] if grids else []


def _text(value) -> str:
    """A cell as text: numbers typed as codes lose their ``.0``, names their stray spaces."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def _norm(value) -> str:
    return _text(value).casefold()
