"""Excel custom functions (UDFs) of the add-in: the same functions in every runtime.

Each function takes whole ranges and returns a 2-D array, so one call covers a whole
column (``=TD_DANH_GIA(B17:B40; F17:F40; G17:G40; E17:E40; _thidua!A1:Z5)``): Excel sends
one request instead of thousands. Ranges of one cell are repeated along the others
(``=TD_TY_LE(F17:F40; 100)``). A cell that cannot be judged gets a word in Vietnamese
("Chưa có số liệu", "Ngày không hợp lệ"); only an argument that is wrong as a whole (no
plan, ranges of different sizes) is an error: ``xw.XlwingsError`` with a Vietnamese
message (HTTP 400 in xlwings Server, shown in the cell).

The plan (``ke_hoach``) is the one the workbook carries (its hidden sheet, range
``_thidua!A1:Z5``) or the id of a bundled plan; see :mod:`addin.state`.

In Excel the functions carry the add-in's namespace: ``=THIDUA.TD_DOT(…)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import xlwings as xw

from logic.checks import check_phase
from logic.errors import ThiduaError
from logic.findings import finding
from logic.numbers import format_vn, parse_date
from logic.plan import Plan
from logic.text import clean_text

from .assess import (
    NO_DATA,
    NOT_APPLICABLE,
    Verdict,
    components,
    elapsed_share,
    judge_all_of,
    judge_row,
    read_number,
    row_spec,
)
from .report import check_grid
from .state import PLAN_ARG_HINT, plan_from_arg

__all__ = [
    "TD_CON_THIEU",
    "TD_DANH_GIA",
    "TD_DOT",
    "TD_KIEM_TRA",
    "TD_NGAY_DOT",
    "TD_TANG_GIAM",
    "TD_TY_LE",
]

PLAN_DOC = (
    f"Kế hoạch thi đua: {PLAN_ARG_HINT} (kế hoạch kèm trong sổ), hoặc mã kế hoạch có sẵn, "
    "ví dụ “thanh-hoa-2024”."
)
PHASE_DOC = "Mã đợt thi đua (“1”, “2”…); bỏ trống thì lấy đợt chứa ngày báo cáo."
DATE_DOC = "Ngày báo cáo (dd/mm/yyyy): báo cáo giữa đợt thì chỉ tiêu số lượng so theo tiến độ."
KIND_DOC = (
    "Cột mã chỉ tiêu của kế hoạch (CT01…), hoặc loại chỉ tiêu: Tỷ lệ, Giảm so với cùng kỳ, "
    "Số lượng, Tối thiểu mỗi xã, Có/Không."
)
V1_DOC = "Cột “Kỳ này / Số thực hiện”: tử số, số kỳ này, số lượng, hoặc Có/Không."
V2_DOC = "Cột “Tổng số / Cùng kỳ năm trước”: mẫu số hoặc số cùng kỳ (bỏ trống nếu không có)."
TARGET_DOC = (
    "Cột chỉ tiêu: “≥ 80%”, “> 95%”, “Giảm ≥ 7%”, “Không tăng”, “≥ 1 mô hình”, hoặc một số "
    "(80 hay 0,8 là 80%); bỏ trống thì lấy chỉ tiêu của kế hoạch."
)

BAD_DATE = "Ngày không hợp lệ"
OUTSIDE = "Ngoài các đợt"
BAD_VALUE = "Số liệu không hợp lệ"
NUM_ABOVE_DEN = "Tử số lớn hơn mẫu số"
NOT_OCCURRED = "Không phát sinh"
NEEDS_PLAN = "Cần mã chỉ tiêu và kế hoạch"
NO_FINDINGS = "Không phát hiện lỗi."


@xw.func
@xw.arg("ngay", ndim=2, doc="Ngày, hoặc cả một cột ngày (dd/mm/yyyy).")
@xw.arg("ke_hoach", ndim=2, doc=PLAN_DOC)
def TD_DOT(ngay, ke_hoach):
    """Đợt thi đua chứa mỗi ngày (mã đợt “1”, “2”…); “Ngoài các đợt” nếu không thuộc đợt nào."""
    with _user_errors():
        plan = _plan(ke_hoach)
        dates = _grid(ngay)
        out = []
        for row in dates:
            line = []
            for v in row:
                if _blank(v):
                    line.append("")
                    continue
                day = parse_date(v)
                if day is None:
                    line.append(BAD_DATE)
                    continue
                phase = plan.phase_on(day)
                line.append(phase.code if phase else OUTSIDE)
            out.append(line)
        return out


@xw.func
@xw.arg("dot", ndim=2, doc="Mã đợt (“1”, “2”…), hoặc một cột mã đợt.")
@xw.arg("ke_hoach", ndim=2, doc=PLAN_DOC)
def TD_NGAY_DOT(dot, ke_hoach):
    """Ngày bắt đầu và ngày kết thúc của đợt thi đua (2 cột: từ ngày, đến ngày)."""
    with _user_errors():
        plan = _plan(ke_hoach)
        out: list[list[Any]] = []
        for v in (v for row in _grid(dot) for v in row):
            if _blank(v):
                out.append(["", ""])
                continue
            code, found = check_phase(plan, v)
            if code is None:
                out.append([found[0].message, ""])
                continue
            p = plan.phase(code)
            out.append([p.start, p.end])
        return out


@xw.func
@xw.arg("tu_so", ndim=2, doc="Tử số: số đạt, số đã giải quyết… (một ô hoặc một cột).")
@xw.arg("mau_so", ndim=2, doc="Mẫu số: tổng số phải giải quyết… (cùng kích thước, hoặc một ô).")
def TD_TY_LE(tu_so, mau_so):
    """Tỷ lệ tử số / mẫu số (0,8 là 80%); “Không phát sinh” khi cả hai bằng 0."""
    with _user_errors():
        spec = row_spec("ratio", None)

        def rate(num, den):
            comps = components(spec, num, den)
            n, d = comps["numerator"], comps["denominator"]
            if n is None or d is None:
                return _why_unusable(num, den)
            return NOT_OCCURRED if d == 0 else n / d

        return _pairwise(("tử số", tu_so), ("mẫu số", mau_so), rate)


@xw.func
@xw.arg("ky_nay", ndim=2, doc="Số vụ (trường hợp) kỳ này (một ô hoặc một cột).")
@xw.arg("cung_ky", ndim=2, doc="Số cùng kỳ năm trước (cùng kích thước, hoặc một ô).")
def TD_TANG_GIAM(ky_nay, cung_ky):
    """Tăng (+) / giảm (−) so với cùng kỳ năm trước: −0,1 là giảm 10%, 0,05 là tăng 5%."""
    with _user_errors():
        spec = row_spec("reduction", None)

        def change(cur, base):
            comps = components(spec, cur, base)
            now, before = comps["current"], comps["baseline"]
            if now is None or before is None:
                return BAD_VALUE
            if before == 0:
                return NOT_OCCURRED if now == 0 else f"Tăng {_count(now)} (cùng kỳ: 0)"
            return (now - before) / before

        return _pairwise(("kỳ này", ky_nay), ("cùng kỳ", cung_ky), change)


@xw.func
@xw.arg("loai", ndim=2, doc=KIND_DOC)
@xw.arg("so_1", ndim=2, doc=V1_DOC)
@xw.arg("so_2", ndim=2, doc=V2_DOC)
@xw.arg("chi_tieu", ndim=2, doc=TARGET_DOC)
@xw.arg("ke_hoach", ndim=2, doc=PLAN_DOC + " Bỏ trống nếu cột đầu ghi loại chỉ tiêu.")
@xw.arg("dot", ndim=2, doc=PHASE_DOC)
@xw.arg("ngay_bao_cao", ndim=2, doc=DATE_DOC)
def TD_DANH_GIA(loai, so_1, so_2=None, chi_tieu=None, ke_hoach=None, dot=None, ngay_bao_cao=None):
    """Đánh giá chỉ tiêu: Đạt, Không đạt, Không phát sinh, Chưa có số liệu, Chưa có chỉ tiêu."""
    with _user_errors():
        verdicts = _verdicts(loai, so_1, so_2, chi_tieu, None, ke_hoach, dot, ngay_bao_cao)
        return [[v.word for v in row] for row in verdicts]


@xw.func
@xw.arg("loai", ndim=2, doc=KIND_DOC)
@xw.arg("so_1", ndim=2, doc=V1_DOC)
@xw.arg("so_2", ndim=2, doc=V2_DOC)
@xw.arg("chi_tieu", ndim=2, doc=TARGET_DOC)
@xw.arg(
    "don_vi_tinh",
    ndim=2,
    doc="Cột đơn vị tính (tin báo, vụ, mô hình…); bỏ trống thì theo kế hoạch.",
)
@xw.arg("ke_hoach", ndim=2, doc=PLAN_DOC + " Bỏ trống nếu cột đầu ghi loại chỉ tiêu.")
@xw.arg("dot", ndim=2, doc=PHASE_DOC)
@xw.arg("ngay_bao_cao", ndim=2, doc=DATE_DOC)
def TD_CON_THIEU(
    loai,
    so_1,
    so_2=None,
    chi_tieu=None,
    don_vi_tinh=None,
    ke_hoach=None,
    dot=None,
    ngay_bao_cao=None,
):
    """Còn thiếu bao nhiêu để đạt chỉ tiêu, theo đơn vị tính: “còn thiếu 12 tin báo”."""
    with _user_errors():
        verdicts = _verdicts(loai, so_1, so_2, chi_tieu, don_vi_tinh, ke_hoach, dot, ngay_bao_cao)
        return [[v.gap for v in row] for row in verdicts]


@xw.func
@xw.arg("vung", ndim=2, doc="Vùng trang báo cáo cần kiểm tra, ví dụ A1:J60.")
@xw.arg("ke_hoach", ndim=2, doc=PLAN_DOC + " Chọn cả A1:Z5 để kiểm tra mã đơn vị theo danh mục.")
@xw.arg(
    "o_dau",
    ndim=2,
    doc="Địa chỉ ô đầu (trên cùng bên trái) của vùng, để gọi đúng tên ô; mặc định A1.",
)
def TD_KIEM_TRA(vung, ke_hoach, o_dau=None):
    """Kiểm tra một trang báo cáo: mỗi lỗi một dòng (mã lỗi, ô, nội dung)."""
    with _user_errors():
        plan, roster = plan_from_arg(ke_hoach)
        origin = _origin(o_dau)
        checked = check_grid(_grid(vung), plan, roster, origin=origin)
        if not checked.found:
            f = finding("not_a_report")
            return [[f.code, "", f"{f.message} {f.hint}"]]
        if not checked.findings:
            return [["", "", NO_FINDINGS]]
        return [[f.code, f.cell or "", f.message] for f in checked.findings]


# --- the shared machinery -----------------------------------------------------------------


@contextmanager
def _user_errors() -> Iterator[None]:
    """Problems the user can fix (a broken plan, a wrong argument) as a 400 message."""
    try:
        yield
    except ThiduaError as e:
        raise xw.XlwingsError(str(e)) from None


class _ArgumentError(ThiduaError):
    """An argument that is wrong as a whole."""


def _plan(value: Any) -> Plan:
    return plan_from_arg(value, roster=False)[0]  # only TD_KIEM_TRA needs the roster


def _grid(value: Any) -> list[list[Any]]:
    """An argument as rows (``ndim=2`` gives rows; an omitted one is None)."""
    if value is None:
        return [[None]]
    if not isinstance(value, list):
        return [[value]]
    if value and not isinstance(value[0], list):
        return [value]
    return value or [[None]]


def _pairwise(a: tuple[str, Any], b: tuple[str, Any], compute) -> list[list[Any]]:
    """``compute(x, y)`` cell by cell over two ranges of one shape; blank where either is."""
    rows, cols, grids = _broadcast(a, b)
    out = []
    for r in range(rows):
        line = []
        for c in range(cols):
            x, y = (_at(g, r, c) for g in grids)
            line.append("" if _blank(x) or _blank(y) else compute(x, y))
        out.append(line)
    return out


def _broadcast(*named: tuple[str, Any]) -> tuple[int, int, list[list[list[Any]]]]:
    """The common shape of the arguments; a one-cell argument fits any shape."""
    grids = [_grid(v) for _, v in named]
    shape = None
    shape_of = None
    for (name, _), g in zip(named, grids, strict=True):
        s = (len(g), max((len(row) for row in g), default=0))
        if s == (1, 1):
            continue
        if shape is None:
            shape, shape_of = s, name
        elif s != shape:
            raise _ArgumentError(
                f"Các vùng phải cùng kích thước (hoặc chỉ là một ô): vùng {shape_of} có "
                f"{shape[0]} dòng × {shape[1]} cột, vùng {name} có {s[0]} dòng × {s[1]} cột."
            )
    rows, cols = shape or (1, 1)
    return rows, cols, grids


def _at(grid: list[list[Any]], r: int, c: int) -> Any:
    if len(grid) == 1 and len(grid[0]) == 1:
        return grid[0][0]
    row = grid[r]
    return row[c] if c < len(row) else None


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _scalar(value: Any) -> Any:
    g = _grid(value)
    return g[0][0] if g and g[0] else None


def _count(x: float) -> str:
    return format_vn(x)


def _why_unusable(num: Any, den: Any) -> str:
    usable = read_number("ratio", "numerator", num), read_number("ratio", "denominator", den)
    return NUM_ABOVE_DEN if None not in usable else BAD_VALUE


def _verdicts(loai, so_1, so_2, chi_tieu, don_vi_tinh, ke_hoach, dot, ngay_bao_cao):
    """One Verdict per cell of the broadcast arguments (TD_DANH_GIA, TD_CON_THIEU)."""
    plan = None if _blank(_scalar(ke_hoach)) and _is_single(ke_hoach) else _plan(ke_hoach)
    phase = None
    day = None
    if not _blank(_scalar(ngay_bao_cao)):
        day = parse_date(_scalar(ngay_bao_cao))
        if day is None:
            raise _ArgumentError(
                f"Ngày báo cáo “{clean_text(str(_scalar(ngay_bao_cao)))[:40]}” không đọc được "
                "(ghi dạng dd/mm/yyyy)."
            )
    if plan is not None:
        if not _blank(_scalar(dot)):
            phase, found = check_phase(plan, _scalar(dot))
            if phase is None:
                raise _ArgumentError(found[0].message)
        elif day is not None:
            on = plan.phase_on(day)
            phase = on.code if on else None
    elapsed = None
    if plan is not None and phase is not None and day is not None:
        p = plan.phase(phase)
        elapsed = elapsed_share(p.start, p.end, day)
    rows, cols, (kinds, v1s, v2s, targets, units) = _broadcast(
        ("loại/mã chỉ tiêu", loai),
        ("số 1", so_1),
        ("số 2", so_2),
        ("chỉ tiêu", chi_tieu),
        ("đơn vị tính", don_vi_tinh),
    )
    out: list[list[Verdict]] = []
    words: dict[str, str] = {}
    pending: list[tuple[int, int, Any]] = []
    specs: dict[tuple, Any] = {}  # a column repeats few (code, target, unit) triples
    for r in range(rows):
        line = []
        for c in range(cols):
            key = (_at(kinds, r, c), _at(targets, r, c), _at(units, r, c))
            try:
                spec = specs[key]
            except KeyError:
                spec = specs[key] = row_spec(key[0], key[1], unit=key[2], plan=plan, phase=phase)
            except TypeError:  # an unhashable cell value: no caching
                spec = row_spec(key[0], key[1], unit=key[2], plan=plan, phase=phase)
            if spec is None:
                line.append(Verdict(""))
                continue
            if spec.kind == "all_of" and spec.word is None:
                if spec.indicator is None:
                    line.append(Verdict(NEEDS_PLAN))
                else:
                    pending.append((r, c, spec))
                    line.append(Verdict(NO_DATA))
                continue
            verdict = judge_row(spec, _at(v1s, r, c), _at(v2s, r, c), elapsed=elapsed)
            if spec.indicator is not None:
                words[spec.indicator.code] = verdict.word
            line.append(verdict)
        out.append(line)
    for r, c, spec in pending:
        if spec.target is None:  # not judged at this level
            out[r][c] = Verdict(NOT_APPLICABLE)
            continue
        out[r][c] = judge_all_of(spec.indicator.parts, words)
    return out


def _is_single(value: Any) -> bool:
    g = _grid(value)
    return len(g) == 1 and len(g[0]) == 1


_A1 = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")


def _origin(value: Any) -> tuple[int, int]:
    """0-based (row, column) of an A1 address ("B3"); (0, 0) when omitted."""
    v = _scalar(value)
    if _blank(v):
        return 0, 0
    text = clean_text(str(v)).split("!")[-1]
    m = _A1.match(text)
    if m is None:
        raise _ArgumentError(f"“{text[:40]}” không phải địa chỉ ô (ví dụ A1, B3).")
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1
