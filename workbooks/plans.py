"""Campaign plans as files: the bundled plans, a user's TOML file, a plan authored in Excel.

``load(ref)`` takes the id of a bundled plan (``thanh-hoa-2024``) or a path to a ``.toml`` or
``.xlsx`` file and returns a validated :class:`logic.plan.Plan`; every problem is raised as
one ``PlanError`` listing all of them in Vietnamese.

A plan workbook (``write_plan_workbook`` / ``read_plan_workbook``) has these sheets; headers
are matched loosely (case, diacritics, extra words after the name), columns may be moved:

- "Kế hoạch": one row per field, label in column A, value in column B (Mã kế hoạch, Tên,
  Chủ đề, Đơn vị ban hành, Ngày bắt đầu, Ngày kết thúc, Danh mục đơn vị, Đơn vị phạm vi,
  Phiên bản, Nguồn, Cho phép khoảng trống giữa các đợt).
- "Các đợt": Mã đợt, Tên đợt, Chủ đề, Từ ngày, Đến ngày.
- "Nhóm nội dung" (optional): Mã nhóm, Tên nhóm.
- "Chỉ tiêu": Mã, Nhóm, Nội dung, Đơn vị tính, Loại, Phép so sánh, Giá trị chỉ tiêu,
  Do địa phương đặt (x), Diễn đạt trong văn bản, Thành phần, Tên thành phần 1, Tên thành
  phần 2, Cấp áp dụng, Tỷ lệ xã phải đạt, Ghi chú, Nguồn.
- "Chỉ tiêu riêng" (optional): a target for one phase or one level of an indicator.
- "Đơn vị" (optional): roster rows (see ``workbooks.rosters``), read by ``read_plan_units``.

Dates are real Excel dates or dd/mm/yyyy text; values "80%", "0,8", "7%", "1.234". Errors
from a workbook name the sheet, row and column: "Trang “Chỉ tiêu”, dòng 7, cột Loại: …".
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import tomllib
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from logic.errors import PlanError, ThiduaError
from logic.plan import COMPONENTS, KIND_LABELS, OP_WORDS, Plan, load_plan
from logic.roster import LEVEL_LABELS
from logic.text import clean_text, fold, safe_for_cell

if TYPE_CHECKING:
    from logic.roster import Roster

__all__ = [
    "PLANS_DIR",
    "bundled_plans",
    "describe",
    "load",
    "plan_to_dict",
    "read_plan_units",
    "read_plan_workbook",
    "write_plan_workbook",
]

PLANS_DIR = Path(__file__).parent / "data" / "plans"

SHEET_PLAN = "Kế hoạch"
SHEET_PHASES = "Các đợt"
SHEET_GROUPS = "Nhóm nội dung"
SHEET_INDICATORS = "Chỉ tiêu"
SHEET_SPECIAL = "Chỉ tiêu riêng"
SHEET_UNITS = "Đơn vị"
SHEET_HELP = "Hướng dẫn"

_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
# A plan has tens of rows; the bounds keep a sheet whose <dimension> lies from costing much.
_MAX_ROWS, _MAX_COLS = 5000, 60

# (field, header we write, other spellings accepted). Matching uses ``fold``.
_Column = tuple[str, str, tuple[str, ...]]
_PLAN_FIELDS: list[_Column] = [
    ("id", "Mã kế hoạch", ()),
    ("name", "Tên", ("Tên kế hoạch", "Tên phong trào")),
    ("theme", "Chủ đề", ()),
    ("issuer", "Đơn vị ban hành", ("Cơ quan ban hành",)),
    ("start", "Ngày bắt đầu", ("Từ ngày",)),
    ("end", "Ngày kết thúc", ("Đến ngày",)),
    ("roster", "Danh mục đơn vị", ()),
    ("scope", "Đơn vị phạm vi", ("Phạm vi",)),
    ("version", "Phiên bản", ()),
    ("source", "Nguồn", ()),
    ("allow_gaps", "Cho phép khoảng trống giữa các đợt", ()),
]
_PHASE_COLUMNS: list[_Column] = [
    ("code", "Mã đợt", ("Mã",)),
    ("name", "Tên đợt", ("Tên",)),
    ("theme", "Chủ đề", ()),
    ("start", "Từ ngày", ("Ngày bắt đầu",)),
    ("end", "Đến ngày", ("Ngày kết thúc",)),
]
_GROUP_COLUMNS: list[_Column] = [
    ("code", "Mã nhóm", ("Mã",)),
    ("name", "Tên nhóm", ("Tên",)),
]
_INDICATOR_COLUMNS: list[_Column] = [
    ("code", "Mã", ("Mã chỉ tiêu",)),
    ("group", "Nhóm", ("Mã nhóm", "Nhóm nội dung")),
    ("name", "Nội dung", ("Tên chỉ tiêu", "Nội dung chỉ tiêu")),
    ("unit", "Đơn vị tính", ()),
    ("kind", "Loại", ("Loại chỉ tiêu",)),
    ("op", "Phép so sánh", ()),
    ("value", "Giá trị chỉ tiêu", ("Giá trị", "Mức chỉ tiêu")),
    ("local", "Do địa phương đặt (x)", ("Do địa phương đặt", "Địa phương đặt")),
    ("wording", "Diễn đạt trong văn bản", ("Nguyên văn",)),
    ("parts", "Thành phần (mã chỉ tiêu)", ("Thành phần", "Các chỉ tiêu thành phần")),
    ("label1", "Tên thành phần 1 (tử số / kỳ này / số lượng / có-không)",
     ("Tên thành phần 1", "Tên tử số", "Tên kỳ này", "Tên số lượng")),
    ("label2", "Tên thành phần 2 (mẫu số / cùng kỳ)",
     ("Tên thành phần 2", "Tên mẫu số", "Tên cùng kỳ")),
    ("levels", "Cấp áp dụng", ()),
    ("coverage", "Tỷ lệ xã phải đạt", ("Tỷ lệ đơn vị phải đạt",)),
    ("note", "Ghi chú", ()),
    ("source", "Nguồn", ()),
]  # fmt: skip
_SPECIAL_COLUMNS: list[_Column] = [
    ("code", "Mã chỉ tiêu", ("Mã",)),
    ("phase", "Đợt", ("Mã đợt",)),
    ("level", "Cấp", ()),
    ("op", "Phép so sánh", ()),
    ("value", "Giá trị chỉ tiêu", ("Giá trị",)),
    ("local", "Do địa phương đặt (x)", ("Do địa phương đặt",)),
    ("wording", "Diễn đạt trong văn bản", ("Nguyên văn",)),
]
_UNIT_HEADERS = (
    "Mã",
    "Tên",
    "Cấp",
    "Mã cấp trên",
    "Hiệu lực từ",
    "Hiệu lực đến",
    "Thay cho",
    "Email",
)

_KIND_WORDS: dict[str, str] = {
    fold(w): kind
    for kind, words in {
        "ratio": ("tỷ lệ", "tỉ lệ", "ratio"),
        "reduction": ("giảm so với cùng kỳ", "giảm so với cùng kỳ năm trước", "giảm", "reduction"),
        "count": ("số lượng", "đếm", "count"),
        "minimum": ("tối thiểu mỗi xã", "tối thiểu", "minimum"),
        "yes_no": ("có/không", "có không", "có-không", "yes/no", "yes_no"),
        "all_of": ("đạt tất cả", "tất cả", "all_of", "all of"),
    }.items()
    for w in words
}
_OP_SYMBOLS = {
    ">=": ">=", "≥": ">=", "=>": ">=", ">": ">", "<=": "<=", "≤": "<=", "=<": "<=", "<": "<",
    "=": "==", "==": "==",
}  # fmt: skip
_OP_WORDS: dict[str, str] = {
    fold(w): op
    for op, words in {
        ">": ("trên", "lớn hơn"),
        ">=": ("đạt", "ít nhất", "tối thiểu", "không thấp hơn", "không dưới", "từ"),
        "<": ("dưới", "nhỏ hơn"),
        "<=": ("tối đa", "không quá", "không vượt quá"),
        "==": ("bằng",),
    }.items()
    for w in words
}
_LEVEL_WORDS: dict[str, str] = {
    fold(w): level
    for level, words in {
        "commune": ("xã", "cấp xã", "commune"),
        "district": ("huyện", "cấp huyện", "district"),
        "province": ("tỉnh", "cấp tỉnh", "province"),
    }.items()
    for w in words
}
_YES = {fold(w) for w in ("x", "có", "yes", "true", "1", "đúng")}
_NO = {fold(w) for w in ("", "không", "no", "false", "0", "sai")}


# --- loading ------------------------------------------------------------------------------


def bundled_plans() -> list[str]:
    """Ids of the plans shipped with thidua (``nghe-an-2024``, ``thanh-hoa-2024``, …)."""
    return sorted(p.stem for p in PLANS_DIR.glob("*.toml"))


def load(ref: str | Path) -> Plan:
    """The plan ``ref`` names: a bundled id, or a path to a ``.toml`` / ``.xlsx`` file.

    Raises ``PlanError`` (Vietnamese, every problem listed) for a missing file, an unknown
    id (the message lists the bundled ids), a file that cannot be parsed or a broken plan.
    """
    path = _resolve(ref)
    if path.suffix.lower() in _WORKBOOK_SUFFIXES:
        data, where = _read_workbook(path)
        return _validate_workbook(data, where, path.name)
    return load_plan(_read_toml(path), source=path.name)


def _resolve(ref: str | Path) -> Path:
    text = str(ref).strip()
    looks_like_path = (
        isinstance(ref, Path) or Path(text).suffix != "" or "/" in text or "\\" in text
    )
    if not looks_like_path and text in bundled_plans():
        return PLANS_DIR / f"{text}.toml"
    path = Path(text)
    if path.is_file():
        if path.suffix.lower() not in (".toml", *_WORKBOOK_SUFFIXES):
            raise PlanError(
                f"tệp “{path.name}” không phải kế hoạch: chỉ đọc được tệp .toml hoặc .xlsx"
            )
        return path
    if looks_like_path:
        raise PlanError(f"không tìm thấy tệp kế hoạch “{text}”")
    known = ", ".join(bundled_plans())
    raise PlanError(
        f"không có kế hoạch có sẵn mã “{text}”. Các kế hoạch có sẵn: {known}; "
        "hoặc ghi đường dẫn tới tệp kế hoạch .toml / .xlsx"
    )


_TOML_MESSAGES = {
    "Invalid date or datetime": "ngày không hợp lệ (ghi dạng yyyy-mm-dd, ví dụ 2024-08-19)",
    "Invalid value": 'giá trị không hợp lệ (chữ phải đặt trong dấu ngoặc kép "…")',
    "Cannot overwrite a value": "một trường được ghi hai lần",
    "Expected '=' after a key in a key/value pair": "thiếu dấu “=” sau tên trường",
    "Unclosed string": "thiếu dấu ngoặc kép đóng",
}


def _read_toml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PlanError("tệp không phải văn bản UTF-8", path.name) from None
    except OSError as e:
        raise PlanError(f"không đọc được tệp: {e.strerror or e}", path.name) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        where = ""
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
        if m:
            where = f" ở dòng {m.group(1)}, cột {m.group(2)}"
            message = message[: m.start()]
        raise PlanError(
            f"tệp TOML sai cú pháp{where}: {_TOML_MESSAGES.get(message, message)}", path.name
        ) from None
    return _normalize(data)


def _normalize(data: dict) -> dict:
    """NFC every text (files from a Mac are NFD); accept dd/mm/yyyy text for dates."""

    def nfc(value: Any) -> Any:
        if isinstance(value, str):
            return unicodedata.normalize("NFC", value)
        if isinstance(value, dict):
            return {k: nfc(v) for k, v in value.items()}
        if isinstance(value, list):
            return [nfc(v) for v in value]
        return value

    data = nfc(data)
    for holder in [data, *(p for p in data.get("phases") or [] if isinstance(p, dict))]:
        for key in ("start", "end"):
            if isinstance(holder.get(key), str):
                # Left as text if unreadable: the plan model reports it with the field's name.
                with suppress(ValueError):
                    holder[key] = _date(holder[key])
    return data


def plan_to_dict(plan: Plan, *, json_safe: bool = False) -> dict:
    """Plain data that ``load_plan`` turns back into the same plan (defaults left out).

    ``json_safe`` gives ISO date strings instead of ``datetime.date`` (for JSON).
    """

    def lists(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: lists(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [lists(v) for v in value]
        return value

    return lists(plan.model_dump(mode="json" if json_safe else "python", exclude_defaults=True))


# --- workbook: reading ----------------------------------------------------------------------


@dataclass
class _Where:
    """Where each part of a workbook plan came from, so errors can point at a cell."""

    plan_rows: dict[str, int] = field(default_factory=dict)
    phases: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    indicators: list[int] = field(default_factory=list)
    special: dict[tuple[int, str, str], int] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def header(self, sheet: str, name: str) -> str:
        columns = {
            SHEET_PHASES: _PHASE_COLUMNS,
            SHEET_GROUPS: _GROUP_COLUMNS,
            SHEET_INDICATORS: _INDICATOR_COLUMNS,
            SHEET_SPECIAL: _SPECIAL_COLUMNS,
        }[sheet]
        default = next((h for f, h, _ in columns if f == name), name)
        return self.headers.get(sheet, {}).get(name, default)


def _at(sheet: str, row: int | None = None, column: str | None = None) -> str:
    where = f"Trang “{sheet}”"
    if row is not None:
        where += f", dòng {row}"
    if column:
        where += f", cột {column}"
    return where


class _Problems(list):
    def add(self, sheet: str, row: int | None, column: str | None, message: str) -> None:
        self.append(f"{_at(sheet, row, column)}: {message}")


def read_plan_workbook(path: str | Path) -> dict:
    """The plan in a workbook as plain data for ``load_plan`` (not yet validated as a whole).

    Raises ``PlanError`` naming sheet, row and column for cells that cannot be read (a bad
    date, an unknown kind or comparison word, a value that is not a number).
    """
    return _read_workbook(Path(path))[0]


def read_plan_units(path: str | Path) -> Roster | None:
    """The roster in the workbook's optional "Đơn vị" sheet, or None if it has none."""
    from workbooks.rosters import roster_from_grid  # only plans with units need rosters

    path = Path(path)
    with _open_book(path) as book:
        sheet = _find_sheet(book, SHEET_UNITS)
        if sheet is None:
            return None
        grid = [list(r) for r in sheet.iter_rows(max_row=_MAX_ROWS, max_col=20, values_only=True)]
    return roster_from_grid(grid, name=path.stem)


@contextmanager
def _open_book(path: Path) -> Iterator[Any]:
    """Open a workbook read-only, and close it: read-only books keep the file open."""
    if not path.is_file():
        raise PlanError(f"không tìm thấy tệp kế hoạch “{path}”")
    import openpyxl  # here, not at the top: loading a TOML plan needs no workbook library

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # zip, XML and format errors all mean one thing to a user
        raise PlanError(
            f"không mở được tệp như một bảng tính Excel (.xlsx): {e}", path.name
        ) from None
    try:
        yield book
    finally:
        book.close()


def _find_sheet(book, title: str):
    key = fold(title)
    return next((ws for ws in book.worksheets if fold(ws.title) == key), None)


def _read_workbook(path: Path) -> tuple[dict, _Where]:
    with _open_book(path) as book:
        grids: dict[str, list[tuple[int, list]] | None] = {}
        for title in (SHEET_PLAN, SHEET_PHASES, SHEET_GROUPS, SHEET_INDICATORS, SHEET_SPECIAL):
            ws = _find_sheet(book, title)
            grids[title] = None if ws is None else [
                (n, list(row))
                for n, row in enumerate(
                    ws.iter_rows(max_row=_MAX_ROWS, max_col=_MAX_COLS, values_only=True), start=1
                )
            ]  # fmt: skip
    problems = _Problems()
    where = _Where()
    missing = [t for t in (SHEET_PLAN, SHEET_PHASES, SHEET_INDICATORS) if grids[t] is None]
    if missing:
        raise PlanError(
            [f"thiếu trang “{t}” (các trang cần có: Kế hoạch, Các đợt, Chỉ tiêu)" for t in missing],
            path.name,
        )
    data = _read_plan_sheet(grids[SHEET_PLAN], where, problems)
    data["phases"] = _read_phases(grids[SHEET_PHASES], where, problems)
    if grids[SHEET_GROUPS] is not None:
        data["groups"] = _read_groups(grids[SHEET_GROUPS], where, problems)
    data["indicators"] = _read_indicators(grids[SHEET_INDICATORS], where, problems)
    if grids[SHEET_SPECIAL] is not None:
        _read_special(grids[SHEET_SPECIAL], data["indicators"], where, problems)
    if problems:
        raise PlanError(list(problems), path.name)
    return data, where


def _read_plan_sheet(grid, where: _Where, problems: _Problems) -> dict:
    labels = {fold(h): f for f, h, more in _PLAN_FIELDS for h in (h, *more)}
    ignored = {fold(w) for w in ("Thông tin", "Trường", "Mục", "Giá trị")}
    data: dict[str, Any] = {}
    for n, row in grid:
        label = fold(_text(row[0] if row else None))
        value = row[1] if len(row) > 1 else None
        name = labels.get(label)
        if name is None:
            if label and _text(value) and label not in ignored:
                problems.add(
                    SHEET_PLAN, n, "A",
                    f"không hiểu mục “{_text(row[0])}”; các mục: "
                    + ", ".join(h for _, h, _ in _PLAN_FIELDS),
                )  # fmt: skip
            continue
        where.plan_rows[name] = n
        if _blank(value):
            continue
        column = f"Giá trị ({_PLAN_FIELDS_HEADER[name]})"
        try:
            if name in ("start", "end"):
                data[name] = _date(value)
            elif name == "allow_gaps":
                data[name] = _flag(value)
            else:
                data[name] = _text(value)
        except ValueError as e:
            problems.add(SHEET_PLAN, n, column, str(e))
    return data


_PLAN_FIELDS_HEADER = {f: h for f, h, _ in _PLAN_FIELDS}


def _table(grid, columns: list[_Column], sheet: str, where: _Where, problems: _Problems):
    """Find the header row and yield ``(row number, {field: value})`` for each data row."""
    aliases = sorted(
        ((fold(a), f) for f, h, more in columns for a in (h, *more)), key=lambda x: -len(x[0])
    )
    required = columns[0][0]
    body: list[tuple[int, list]] | None = None
    found: dict[str, int] = {}
    for i, (_, row) in enumerate(grid[:10]):
        found, texts = {}, {}
        for col, value in enumerate(row):
            key = fold(_text(value))
            if not key:
                continue
            name = next((f for a, f in aliases if key == a or key.startswith(a + " ")), None)
            if name is not None and name not in found:
                found[name] = col
                texts[name] = _text(value)
        # Two known headers at least: a data row can hold one word that looks like a header.
        if required in found and len(found) >= min(2, len(columns)):
            where.headers[sheet] = texts
            body = grid[i + 1 :]
            break
    if body is None:
        problems.add(
            sheet, None, None,
            f"không tìm thấy dòng tiêu đề có cột “{columns[0][1]}” trong 10 dòng đầu",
        )  # fmt: skip
        return
    for n, row in body:
        record = {f: (row[c] if c < len(row) else None) for f, c in found.items()}
        if all(_blank(v) for v in record.values()):
            continue
        yield n, record


def _read_phases(grid, where: _Where, problems: _Problems) -> list[dict]:
    phases = []
    for n, rec in _table(grid, _PHASE_COLUMNS, SHEET_PHASES, where, problems):
        phase: dict[str, Any] = {}
        for name in ("code", "name", "theme"):
            if not _blank(rec.get(name)):
                phase[name] = _text(rec[name])
        for name in ("start", "end"):
            if _blank(rec.get(name)):
                continue
            try:
                phase[name] = _date(rec[name])
            except ValueError as e:
                problems.add(SHEET_PHASES, n, where.header(SHEET_PHASES, name), str(e))
        phases.append(phase)
        where.phases.append(n)
    return phases


def _read_groups(grid, where: _Where, problems: _Problems) -> list[dict]:
    groups = []
    for n, rec in _table(grid, _GROUP_COLUMNS, SHEET_GROUPS, where, problems):
        groups.append({k: _text(v) for k, v in rec.items() if not _blank(v)})
        where.groups.append(n)
    return groups


def _read_indicators(grid, where: _Where, problems: _Problems) -> list[dict]:
    out = []
    for n, rec in _table(grid, _INDICATOR_COLUMNS, SHEET_INDICATORS, where, problems):

        def bad(name: str, message: str, n: int = n) -> None:
            problems.add(SHEET_INDICATORS, n, where.header(SHEET_INDICATORS, name), message)

        ind: dict[str, Any] = {}
        for name in ("code", "group", "name", "unit", "note", "source"):
            if not _blank(rec.get(name)):
                ind[name] = _text(rec[name])
        kind = None
        if not _blank(rec.get("kind")):
            try:
                kind = ind["kind"] = _kind(rec["kind"])
            except ValueError as e:
                bad("kind", str(e))
        ind["target"] = _target(rec, kind, bad)
        if not _blank(rec.get("parts")):
            ind["parts"] = [p for p in re.split(r"[\s,;]+", _text(rec["parts"])) if p]
        labels = {}
        for slot, name in enumerate(("label1", "label2")):
            if _blank(rec.get(name)) or kind is None:
                continue
            comps = COMPONENTS[kind]
            if slot >= len(comps):
                bad(
                    name,
                    f"loại “{KIND_LABELS[kind]}” không có thành phần thứ {slot + 1}; để trống ô này",
                )
                continue
            labels[comps[slot]] = _text(rec[name])
        if labels:
            ind["labels"] = labels
        if not _blank(rec.get("levels")):
            try:
                ind["levels"] = _levels(rec["levels"])
            except ValueError as e:
                bad("levels", str(e))
        if not _blank(rec.get("coverage")):
            try:
                value, _ = _number(rec["coverage"])
                if value > 1:
                    raise ValueError(
                        f"“{_text(rec['coverage'])}” lớn hơn 100%; ghi dạng 90% hoặc 0,9"
                    )
                ind["coverage"] = value
            except ValueError as e:
                bad("coverage", str(e))
        out.append(ind)
        where.indicators.append(n)
    return out


def _target(rec: dict, kind: str | None, bad) -> dict:
    """A target dict from the op / value / local / wording cells of a row."""
    target: dict[str, Any] = {}
    if not _blank(rec.get("op")):
        try:
            target["op"] = _op(rec["op"])
        except ValueError as e:
            bad("op", str(e))
    if not _blank(rec.get("local")):
        try:
            if _flag(rec["local"]):
                target["local"] = True
        except ValueError as e:
            bad("local", str(e))
    if not _blank(rec.get("wording")):
        target["wording"] = _text(rec["wording"])
    raw = rec.get("value")
    if _blank(raw):
        if kind in ("yes_no", "all_of") and not target.get("local"):
            target["value"] = 1  # "done" / "every part met" needs no figure
        return target
    try:
        if kind == "yes_no" and fold(_text(raw)) in _YES:
            value, percent = 1.0, False
        else:
            value, percent = _number(raw)
        if kind in ("ratio", "reduction") and value > 1:
            raise ValueError(
                f"“{_text(raw)}” lớn hơn 100%; chỉ tiêu loại “{KIND_LABELS[kind]}” "
                "ghi dạng 80% hoặc 0,8"
            )
        if kind in ("count", "minimum") and percent:
            raise ValueError(
                f"chỉ tiêu loại “{KIND_LABELS[kind]}” ghi số lượng (ví dụ 1), không ghi phần trăm"
            )
        if value < 0:
            raise ValueError(f"giá trị “{_text(raw)}” không được âm")
        target["value"] = value
    except ValueError as e:
        bad("value", str(e))
    return target


def _read_special(grid, indicators: list[dict], where: _Where, problems: _Problems) -> None:
    index = {ind.get("code"): i for i, ind in enumerate(indicators)}
    for n, rec in _table(grid, _SPECIAL_COLUMNS, SHEET_SPECIAL, where, problems):

        def bad(name: str, message: str, n: int = n) -> None:
            problems.add(SHEET_SPECIAL, n, where.header(SHEET_SPECIAL, name), message)

        code = _text(rec.get("code"))
        if code not in index:
            bad("code", f"không có chỉ tiêu mã “{code}” trong trang “{SHEET_INDICATORS}”")
            continue
        i = index[code]
        phase, level = _text(rec.get("phase")), _text(rec.get("level"))
        if bool(phase) == bool(level):
            bad("phase", "ghi đúng một trong hai cột: Đợt (chỉ tiêu riêng của một đợt) hoặc Cấp")
            continue
        target = _target(rec, indicators[i].get("kind"), bad)
        if phase:
            key, slot = phase, "targets_by_phase"
        else:
            try:
                (key,) = _levels(level)
            except ValueError as e:
                bad("level", str(e))
                continue
            slot = "level_targets"
        indicators[i].setdefault(slot, {})[key] = target
        where.special[(i, slot, key)] = n


# --- workbook: validating with cell positions ---------------------------------------------


def _validate_workbook(data: dict, where: _Where, source: str) -> Plan:
    try:
        return Plan.model_validate(data)
    except ValidationError as e:
        problems: list[str] = []
        for err in e.errors():
            problems.extend(_locate(err, data, where))
        raise PlanError(problems, source) from None


def _message(err) -> str:
    if err["type"] == "missing":
        return "thiếu (bắt buộc)"
    if err["type"] == "extra_forbidden":
        return "trường không được hỗ trợ"
    return err["msg"].removeprefix("Value error, ")


_TARGET_COLUMN = {"op": "op", "value": "value", "local": "local", "wording": "wording"}


def _locate(err, data: dict, where: _Where) -> list[str]:
    loc = list(err["loc"])
    msg = _message(err)
    if not loc:
        return [_locate_plan_line(line, data, where) for line in msg.splitlines()]
    head = loc[0]
    if head in _PLAN_FIELDS_HEADER:
        label = _PLAN_FIELDS_HEADER[head]
        row = where.plan_rows.get(head)
        if row is None:
            return [f"{_at(SHEET_PLAN)}: thiếu dòng “{label}” ({msg})"]
        return [f"{_at(SHEET_PLAN, row, f'Giá trị ({label})')}: {msg}"]
    if head in ("phases", "groups", "indicators") and len(loc) > 1 and isinstance(loc[1], int):
        sheet, rows = {
            "phases": (SHEET_PHASES, where.phases),
            "groups": (SHEET_GROUPS, where.groups),
            "indicators": (SHEET_INDICATORS, where.indicators),
        }[head]
        row = rows[loc[1]] if loc[1] < len(rows) else None
        rest = loc[2:]
        column = None
        if rest and rest[0] in ("targets_by_phase", "level_targets") and len(rest) > 1:
            row = where.special.get((loc[1], rest[0], str(rest[1])), row)
            sheet = SHEET_SPECIAL
            column = where.header(
                sheet, _TARGET_COLUMN.get(rest[2], "value") if len(rest) > 2 else "value"
            )
        elif rest and rest[0] == "target":
            column = where.header(
                sheet, _TARGET_COLUMN.get(rest[1], "value") if len(rest) > 1 else "value"
            )
        elif rest and rest[0] == "labels":
            column = where.header(sheet, "label1")
        elif rest:
            column = where.header(sheet, str(rest[0]))
        elif head == "phases" and "ngày kết thúc" in msg:
            column = where.header(sheet, "end")
        elif head == "indicators" and "thành phần" in msg:
            column = where.header(sheet, "parts")
        elif head == "indicators" and "coverage" in msg:
            column = where.header(sheet, "coverage")
        return [f"{_at(sheet, row, column)}: {msg}"]
    return [f"{' › '.join(str(x) for x in loc)}: {msg}"]


def _locate_plan_line(line: str, data: dict, where: _Where) -> str:
    """Point a whole-plan problem (overlap, unknown part, duplicate code) at its row."""
    phase_rows = _rows_by_code(data.get("phases"), where.phases)
    indicator_rows = _rows_by_code(data.get("indicators"), where.indicators)
    group_rows = _rows_by_code(data.get("groups"), where.groups)
    if m := re.match(r"^mã (đợt|chỉ tiêu|nhóm nội dung) “(.+?)” bị trùng", line):
        sheet, rows = {
            "đợt": (SHEET_PHASES, phase_rows),
            "chỉ tiêu": (SHEET_INDICATORS, indicator_rows),
            "nhóm nội dung": (SHEET_GROUPS, group_rows),
        }[m.group(1)]
        found = rows.get(m.group(2), [])
        column = where.header(sheet, "code")
        return f"{_at(sheet, found[-1] if found else None, column)}: {line}"
    if m := re.match(r"^(?:giữa )?đợt (\S+?)\b.*?(?:chồng lên|và) đợt (\S+?)\b", line):
        rows = phase_rows.get(m.group(2), [])
        return f"{_at(SHEET_PHASES, rows[0] if rows else None, where.header(SHEET_PHASES, 'start'))}: {line}"
    if m := re.match(r"^đợt (\S+?)\b", line):
        rows = phase_rows.get(m.group(1), [])
        return f"{_at(SHEET_PHASES, rows[0] if rows else None)}: {line}"
    if m := re.match(r"^chỉ tiêu ([^\s:]+)", line):
        rows = indicator_rows.get(m.group(1), [])
        rest = line[m.end() :]
        column = None
        if "thành phần" in rest:
            column = where.header(SHEET_INDICATORS, "parts")
        elif "nhóm" in rest:
            column = where.header(SHEET_INDICATORS, "group")
        elif "cho đợt" in rest:
            return f"{_at(SHEET_SPECIAL)}: {line}"
        return f"{_at(SHEET_INDICATORS, rows[0] if rows else None, column)}: {line}"
    if "ít nhất một đợt" in line:
        return f"{_at(SHEET_PHASES)}: {line}"
    if "ít nhất một chỉ tiêu" in line:
        return f"{_at(SHEET_INDICATORS)}: {line}"
    if "kế hoạch" in line:
        row = where.plan_rows.get("end")
        return f"{_at(SHEET_PLAN, row, 'Giá trị (Ngày kết thúc)' if row else None)}: {line}"
    return line


def _rows_by_code(items: list[dict] | None, rows: list[int]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for item, row in zip(items or [], rows, strict=False):
        out.setdefault(str(item.get("code")), []).append(row)
    return out


# --- cell values ----------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not clean_text(value))


def _text(value: Any) -> str:
    """A cell as clean text; whole numbers typed as codes lose their ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "x" if value else ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return f"{value:%d/%m/%Y}"
    return clean_text(str(value))


_DATE_TEXT = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def _date(value: Any) -> dt.date:
    """A real date, an Excel serial number, dd/mm/yyyy or yyyy-mm-dd text."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 200_000:
        return _EXCEL_EPOCH + dt.timedelta(days=int(value))
    text = _text(value)
    try:
        if m := _DATE_TEXT.match(text):
            return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"ngày “{text}” không hợp lệ (ghi dạng dd/mm/yyyy, ví dụ 19/08/2024)"
        ) from None


_VN_THOUSANDS = re.compile(r"^[1-9]\d{0,2}(\.\d{3})+$")
_PLAIN_NUMBER = re.compile(r"^\d+(\.\d+)?$")


def _number(value: Any) -> tuple[float, bool]:
    """A number typed the Vietnamese way ("80%", "0,8", "1.234") and whether it had "%"."""
    if isinstance(value, bool):
        raise ValueError(f"“{value}” không phải số")
    if isinstance(value, int | float):
        return float(value), False
    text = _text(value).replace(" ", "").replace("\u2212", "-")
    percent = text.endswith("%")
    body = text.removesuffix("%").strip()
    negative = body.startswith("-")
    body = body.lstrip("+-")
    if "," in body and "." in body:
        body = body.replace(".", "").replace(",", ".") if body.rfind(",") > body.rfind(".") else ""
    elif "," in body:
        body = body.replace(",", ".")
    elif _VN_THOUSANDS.match(body):
        body = body.replace(".", "")
    if not _PLAIN_NUMBER.match(body):
        raise ValueError(f"“{_text(value)}” không phải số (ví dụ: 80%, 0,8, 1.234)")
    number = float(body) * (-1 if negative else 1)
    return (number / 100 if percent else number), percent


def _kind(value: Any) -> str:
    key = fold(_text(value))
    if key in _KIND_WORDS:
        return _KIND_WORDS[key]
    choices = ", ".join(KIND_LABELS.values())
    raise ValueError(f"“{_text(value)}” không phải loại chỉ tiêu; chọn một trong: {choices}")


def _op(value: Any) -> str:
    text = _text(value).replace(" ", "")
    if text in _OP_SYMBOLS:
        return _OP_SYMBOLS[text]
    key = fold(_text(value))
    if key in _OP_WORDS:
        return _OP_WORDS[key]
    raise ValueError(
        f"“{_text(value)}” không phải phép so sánh; ghi ≥, >, ≤, <, = "
        "hoặc chữ: trên, đạt, ít nhất, tối thiểu, dưới, tối đa"
    )


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    key = fold(_text(value))
    if key in _YES:
        return True
    if key in _NO:
        return False
    raise ValueError(f"“{_text(value)}”: ghi x (có) hoặc để trống (không)")


def _levels(value: Any) -> tuple[str, ...]:
    out = []
    for word in re.split(r"[,;/]+", _text(value)):
        key = fold(word)
        if not key:
            continue
        if key not in _LEVEL_WORDS:
            raise ValueError(f"cấp “{clean_text(word)}” không hợp lệ; ghi: xã, huyện, tỉnh")
        out.append(_LEVEL_WORDS[key])
    if not out:
        raise ValueError("ghi ít nhất một cấp: xã, huyện, tỉnh")
    return tuple(out)


# --- workbook: writing ----------------------------------------------------------------------


@cache
def _style(name: str):
    from openpyxl.styles import Alignment, Font

    return {
        "bold": Font(bold=True),
        "title": Font(bold=True, size=13),
        "wrap": Alignment(wrap_text=True, vertical="top"),
    }[name]


_DATE_FORMAT = "DD/MM/YYYY"


def write_plan_workbook(plan: Plan, path: str | Path, *, units: Roster | None = None) -> Path:
    """Write ``plan`` as a plan workbook that ``load`` reads back to the same plan.

    ``units`` adds a "Đơn vị" sheet with the roster's rows. The file is written to a
    temporary name and then moved into place, so a failure never leaves half a file.
    """
    path = Path(path)
    import openpyxl  # here, not at the top: it pulls in numpy (~0.5 s) for every command

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = SHEET_PLAN
    _write_plan_sheet(ws, plan)
    _write_phases(book.create_sheet(SHEET_PHASES), plan)
    _write_groups(book.create_sheet(SHEET_GROUPS), plan)
    _write_indicators(book.create_sheet(SHEET_INDICATORS), plan)
    special = [
        (ind, slot, key, target)
        for ind in plan.indicators
        for slot, targets in (("phase", ind.targets_by_phase), ("level", ind.level_targets))
        for key, target in targets.items()
    ]
    if special:
        _write_special(book.create_sheet(SHEET_SPECIAL), special)
    if units is not None:
        _write_units(book.create_sheet(SHEET_UNITS), units)
    _write_help(book.create_sheet(SHEET_HELP))
    _save(book, path)
    return path


def _save(book, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".~", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        book.save(tmp)
        os.replace(tmp, path)
    except PermissionError:
        Path(tmp).unlink(missing_ok=True)
        raise ThiduaError(
            f"Không ghi được “{path.name}”: tệp đang mở trong Excel hoặc không có quyền ghi. "
            "Đóng tệp hoặc chọn tên khác."
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _put(ws, row: int, col: int, value: Any, number_format: str | None = None):
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str):
        value = safe_for_cell(value)
        cell.value = value
        if value.startswith("="):  # text, never a live formula
            cell.data_type = "s"
            cell.quotePrefix = True
    else:
        cell.value = value
    if number_format:
        cell.number_format = number_format
    return cell


def _column_letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col)


def _header_row(ws, headers: list[str], widths: list[int]) -> None:
    for col, (text, width) in enumerate(zip(headers, widths, strict=True), start=1):
        cell = _put(ws, 1, col, text)
        cell.font = _style("bold")
        cell.alignment = _style("wrap")
        ws.column_dimensions[_column_letter(col)].width = width
    ws.freeze_panes = "A2"


def _write_plan_sheet(ws, plan: Plan) -> None:
    _header_row(ws, ["Thông tin", "Giá trị"], [34, 90])
    values = {
        "id": plan.id, "name": plan.name, "theme": plan.theme, "issuer": plan.issuer,
        "start": plan.start, "end": plan.end, "roster": plan.roster, "scope": plan.scope,
        "version": plan.version, "source": plan.source, "allow_gaps": "x" if plan.allow_gaps else None,
    }  # fmt: skip
    for row, (name, label, _) in enumerate(_PLAN_FIELDS, start=2):
        _put(ws, row, 1, label).font = _style("bold")
        value = values[name]
        fmt = _DATE_FORMAT if isinstance(value, dt.date) else "@"
        _put(ws, row, 2, value, fmt).alignment = _style("wrap")


def _write_phases(ws, plan: Plan) -> None:
    _header_row(ws, [h for _, h, _ in _PHASE_COLUMNS], [10, 18, 70, 14, 14])
    for row, p in enumerate(plan.phases, start=2):
        _put(ws, row, 1, p.code, "@")
        _put(ws, row, 2, p.name)
        _put(ws, row, 3, p.theme).alignment = _style("wrap")
        _put(ws, row, 4, p.start, _DATE_FORMAT)
        _put(ws, row, 5, p.end, _DATE_FORMAT)


def _write_groups(ws, plan: Plan) -> None:
    _header_row(ws, [h for _, h, _ in _GROUP_COLUMNS], [10, 90])
    for row, g in enumerate(plan.groups, start=2):
        _put(ws, row, 1, g.code, "@")
        _put(ws, row, 2, g.name).alignment = _style("wrap")


def _value_format(kind: str, value: float | None) -> str | None:
    if value is None:
        return None
    if kind in ("ratio", "reduction"):
        return _percent_format(value)
    return "0" if float(value).is_integer() else "0.##"


def _percent_format(value: float) -> str:
    for digits in range(0, 4):
        if abs(round(value * 100, digits) - value * 100) < 1e-9:
            return "0%" if digits == 0 else "0." + "0" * digits + "%"
    return "0.0000%"


def _write_indicators(ws, plan: Plan) -> None:
    widths = [8, 7, 50, 12, 20, 12, 14, 12, 40, 18, 34, 34, 16, 12, 40, 30]
    _header_row(ws, [h for _, h, _ in _INDICATOR_COLUMNS], widths)
    ws.row_dimensions[1].height = 45
    default_levels = ("commune", "district", "province")
    for row, ind in enumerate(plan.indicators, start=2):
        t = ind.target
        comps = COMPONENTS[ind.kind]
        cells = [
            (ind.code, "@"), (ind.group, "@"), (ind.name, None), (ind.unit, None),
            (KIND_LABELS[ind.kind], None), (OP_WORDS[t.op], "@"),
            (t.value, _value_format(ind.kind, t.value)), ("x" if t.local else None, None),
            (t.wording, None), (", ".join(ind.parts) or None, "@"),
            (ind.labels.get(comps[0]) if comps else None, None),
            (ind.labels.get(comps[1]) if len(comps) > 1 else None, None),
            (None if ind.levels == default_levels else ", ".join(LEVEL_LABELS[lv] for lv in ind.levels), None),
            (None if ind.coverage == 1 else ind.coverage, _percent_format(ind.coverage)),
            (ind.note, None), (ind.source, None),
        ]  # fmt: skip
        for col, (value, fmt) in enumerate(cells, start=1):
            _put(ws, row, col, value, fmt).alignment = _style("wrap")
    last = max(len(plan.indicators) + 1, 200)
    from openpyxl.worksheet.datavalidation import DataValidation

    kinds = DataValidation(
        type="list", formula1='"' + ",".join(KIND_LABELS.values()) + '"', allow_blank=True
    )
    kinds.error = "Chọn loại chỉ tiêu trong danh sách"
    kinds.add(f"E2:E{last}")
    ops = DataValidation(type="list", formula1='"≥,>,≤,<,="', allow_blank=True)
    ops.add(f"F2:F{last}")
    local = DataValidation(type="list", formula1='"x"', allow_blank=True)
    local.add(f"H2:H{last}")
    for dv in (kinds, ops, local):
        ws.add_data_validation(dv)


def _write_special(ws, special) -> None:
    _header_row(ws, [h for _, h, _ in _SPECIAL_COLUMNS], [12, 8, 10, 12, 14, 12, 40])
    for row, (ind, slot, key, t) in enumerate(special, start=2):
        cells = [
            (ind.code, "@"), (key if slot == "phase" else None, "@"),
            (LEVEL_LABELS[key] if slot == "level" else None, None), (OP_WORDS[t.op], "@"),
            (t.value, _value_format(ind.kind, t.value)), ("x" if t.local else None, None),
            (t.wording, None),
        ]  # fmt: skip
        for col, (value, fmt) in enumerate(cells, start=1):
            _put(ws, row, col, value, fmt)


def _write_units(ws, roster: Roster) -> None:
    _header_row(ws, list(_UNIT_HEADERS), [10, 36, 8, 12, 13, 13, 20, 30])
    for row, u in enumerate(roster.units, start=2):
        cells = [
            (u.code, "@"), (u.name, None), (LEVEL_LABELS[u.level], None), (u.parent, "@"),
            (u.valid_from, _DATE_FORMAT), (u.valid_to, _DATE_FORMAT),
            (" ".join(u.replaces) or None, "@"), (" ".join(u.email) or None, None),
        ]  # fmt: skip
        for col, (value, fmt) in enumerate(cells, start=1):
            _put(ws, row, col, value, fmt)


_HELP = [
    "Cách điền kế hoạch thi đua",
    "",
    "Trang “Kế hoạch”: mỗi dòng một thông tin; bắt buộc Mã kế hoạch, Tên, Ngày bắt đầu, Ngày kết thúc.",
    "Trang “Các đợt”: mỗi dòng một đợt; các đợt nối tiếp nhau, không chồng lên nhau. Ngày ghi dd/mm/yyyy.",
    "Trang “Nhóm nội dung”: mã nhóm (A, B, …) và tên nhóm.",
    "Trang “Chỉ tiêu”: mỗi dòng một chỉ tiêu.",
    "  Loại: Tỷ lệ | Giảm so với cùng kỳ | Số lượng | Tối thiểu mỗi xã | Có/Không | Đạt tất cả.",
    "  Phép so sánh: ≥ (đạt, ít nhất, tối thiểu) | > (trên) | ≤ (tối đa) | < (dưới) | =.",
    "  Giá trị chỉ tiêu: 80% hoặc 0,8 cho tỷ lệ; 7% cho “giảm ít nhất 7%”; 0 cho “kiềm chế” (không tăng); số cho số lượng.",
    "  Văn bản không nêu con số: để trống Giá trị và đánh dấu x ở cột “Do địa phương đặt”.",
    "  Đạt tất cả: ghi mã các chỉ tiêu thành phần ở cột Thành phần, ví dụ “CT07, CT08, CT09”.",
    "  Tên thành phần 1, 2: tên cột số liệu xã báo cáo (tử số / mẫu số; kỳ này / cùng kỳ; số lượng).",
    "  Cấp áp dụng: để trống là mọi cấp; hoặc ghi “xã, huyện”.",
    "Trang “Chỉ tiêu riêng” (nếu có): chỉ tiêu khác cho một đợt (cột Đợt) hoặc một cấp (cột Cấp).",
    "Trang “Đơn vị” (nếu có): danh mục đơn vị (Mã, Tên, Cấp, Mã cấp trên, Hiệu lực từ, Hiệu lực đến, Thay cho, Email).",
    "Kiểm tra kế hoạch: thidua plan check <tệp .xlsx>",
]


def _write_help(ws) -> None:
    ws.column_dimensions["A"].width = 120
    for row, line in enumerate(_HELP, start=1):
        cell = _put(ws, row, 1, line)
        if row == 1:
            cell.font = _style("title")


# --- describing -----------------------------------------------------------------------------


def describe(plan: Plan, roster: Roster | None = None) -> str:
    """A readable Vietnamese description of the plan, for ``thidua plan check``.

    With ``roster``, also the number of units by level under the plan's scope at the start
    of each phase (the tree changes during a campaign).
    """
    lines = [f"Kế hoạch {plan.id} (phiên bản {plan.version})", plan.name]
    if plan.theme:
        lines.append(f"Chủ đề: “{plan.theme}”")
    if plan.issuer:
        lines.append(f"Đơn vị ban hành: {plan.issuer}")
    days = (plan.end - plan.start).days + 1
    lines.append(f"Thời gian: {_d(plan.start)} – {_d(plan.end)} ({days} ngày)")
    if plan.source:
        lines.append(f"Nguồn: {plan.source}")
    lines.append(f"Các đợt ({len(plan.phases)}):")
    for p in sorted(plan.phases, key=lambda p: p.start):
        title = p.name if p.name.startswith("Đợt") else f"Đợt {p.code} – {p.name}"
        text = f"  {title}: {_d(p.start)} – {_d(p.end)} ({p.days} ngày)"
        if p.theme:
            text += f" — “{p.theme}”"
        lines.append(text)
    local = sum(1 for i in plan.indicators if not i.target.judgeable)
    lines.append(
        f"Chỉ tiêu ({len(plan.indicators)}, trong đó {local} do địa phương đặt):"
        if local
        else f"Chỉ tiêu ({len(plan.indicators)}):"
    )
    grouped: dict[str | None, list] = {}
    for ind in plan.indicators:
        grouped.setdefault(ind.group, []).append(ind)
    order = [g.code for g in plan.groups if g.code in grouped]
    order += [g for g in grouped if g not in order]
    for code in order:
        indent = "  "
        if code is not None:
            lines.append(f"  {code}. {plan.group_name(code)}")
            indent = "    "
        for ind in grouped[code]:
            lines.append(
                f"{indent}{ind.code}  {ind.name} [{KIND_LABELS[ind.kind]}, {ind.unit}]: "
                f"{_target_words(ind, ind.target)}"
            )
            for ph, t in ind.targets_by_phase.items():
                lines.append(f"{indent}      đợt {ph}: {_target_words(ind, t)}")
            for lv, t in ind.level_targets.items():
                lines.append(f"{indent}      cấp {LEVEL_LABELS[lv]}: {_target_words(ind, t)}")
    if plan.roster:
        lines.append(
            f"Danh mục đơn vị: {plan.roster}" + (f", phạm vi {plan.scope}" if plan.scope else "")
        )
    if roster is not None:
        lines.extend(_unit_counts(plan, roster))
    return "\n".join(lines)


def _unit_counts(plan: Plan, roster: Roster) -> list[str]:
    lines = ["Số đơn vị theo từng đợt (ngày bắt đầu đợt):"]
    for p in sorted(plan.phases, key=lambda p: p.start):
        tree = roster.tree(p.start)
        if plan.scope and plan.scope not in tree:
            lines.append(
                f"  Đợt {p.code} ({_d(p.start)}): đơn vị phạm vi {plan.scope} không có trong danh mục"
            )
            continue
        sub = tree.subtree(plan.scope)
        counts = {lv: 0 for lv in ("province", "district", "commune")}
        for u in sub.units.values():
            counts[u.level] = counts.get(u.level, 0) + 1
        parts = [f"{n} {LEVEL_LABELS[lv]}" for lv, n in counts.items() if n]
        lines.append(f"  Đợt {p.code} ({_d(p.start)}): {', '.join(parts) or 'không có đơn vị'}")
    return lines


def _target_words(ind, target) -> str:
    """A target in words: "≥ 80%", "> 95%", "giảm ≥ 7%", "≥ 1 mô hình mỗi xã", "do địa phương đặt"."""
    if target.value is None:
        return "do địa phương đặt"
    op = OP_WORDS[target.op]
    v = target.value
    if ind.kind == "ratio":
        text = f"{op} {_pct(v)}"
    elif ind.kind == "reduction":
        if v == 0 and target.op == ">=":
            text = "không tăng so với cùng kỳ (kiềm chế)"
        elif v == 0 and target.op == ">":
            text = "giảm so với cùng kỳ"
        else:
            text = f"giảm {op} {_pct(v)} so với cùng kỳ"
    elif ind.kind == "yes_no":
        text = "có thực hiện"
    elif ind.kind == "all_of":
        text = "đạt tất cả " + ", ".join(ind.parts)
    else:
        text = f"{op} {_num(v)} {ind.unit}" + (" mỗi xã" if ind.kind == "minimum" else "")
        if ind.coverage < 1:
            text += f" (cấp trên: ≥ {_pct(ind.coverage)} số xã đạt)"
    if target.local:
        text += " (do địa phương đặt)"
    return text


def _d(day: dt.date) -> str:
    return f"{day:%d/%m/%Y}"


def _num(v: float) -> str:
    if float(v).is_integer():
        return f"{int(v):,}".replace(",", ".")
    return f"{v:g}".replace(".", ",")


def _pct(v: float) -> str:
    return _num(round(v * 100, 4)) + "%"
