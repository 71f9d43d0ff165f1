"""Classic Windows add-in only: "Tổng hợp thư mục", a whole folder of reports in one tally.

xlwings Server and Lite have no local files, so this button exists only on the classic
ribbon (``RunPython "import addin.classic; addin.classic.tong_hop_thu_muc_macro()"``) and
is not an ``@xw.script``. It may use ``workbooks`` (files, worker processes): this module
is left out of the xlwings Lite export (``addin.lite``).

The folder is the one holding the workbook the button is pressed in; that workbook gives
the plan (its ``_thidua`` sheet, or a bundled plan named on a report sheet) and the roster
(carried, else the plan's bundled roster). Every workbook, ``.eml`` and ``.mbox`` in the
folder is read by ``workbooks.consolidate`` (inputs are never modified) and the tally is
written next to them as ``tong-hop-<plan id>.xlsx``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import xlwings as xw

from logic.errors import ThiduaError

from .buttons import TITLE
from .sheets import book_plan
from .state import StateError

__all__ = ["INPUT_SUFFIXES", "do_tong_hop_thu_muc", "tally_name", "tong_hop_thu_muc_macro"]

INPUT_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods", ".eml", ".mbox"})


def tally_name(plan_id: str) -> str:
    """The tally's file name in the folder: ``tong-hop-thanh-hoa-2024.xlsx``."""
    return f"tong-hop-{plan_id}.xlsx"


def do_tong_hop_thu_muc(
    book: Any,
    folder: str | os.PathLike | None = None,
    *,
    use_cache: bool = True,
    workers: int | None = None,
) -> Path:
    """Consolidate every report in ``folder`` (default: the book's folder); return the tally.

    Leaves out earlier tallies and feedback copies (``…-kiem-tra.xlsx``) and Excel's lock
    files (``~$…``); the book itself is read as last saved, like every other file. Raises ``StateError`` (Vietnamese) when the book has
    no plan or roster, or the folder holds nothing to read.
    """
    from workbooks.consolidate import consolidate
    from workbooks.rosters import load_roster
    from workbooks.tally import write_tally

    bp = book_plan(book)
    plan, roster = bp.plan, bp.roster
    if roster is None and plan.roster:
        roster = load_roster(plan.roster)
    if roster is None:
        raise StateError(
            "Không có danh mục đơn vị: sổ này không mang danh mục (trang ẩn “_thidua”) và "
            "kế hoạch không có danh mục kèm theo."
        )
    own = Path(book.fullname)
    where = Path(folder) if folder is not None else own.parent
    if not where.is_dir():
        raise StateError(
            f"Không tìm thấy thư mục “{where}”. Hãy lưu sổ này vào thư mục chứa các tệp báo "
            "cáo rồi bấm lại."
        )
    out = where / tally_name(plan.id)
    inputs = sorted(
        p
        for p in where.iterdir()
        if p.is_file()
        and p.suffix.lower() in INPUT_SUFFIXES
        and not p.name.startswith("~$")
        and not p.stem.endswith("-kiem-tra")
        and not p.name.startswith("tong-hop-")
    )
    if not inputs:
        raise StateError(
            f"Thư mục “{where}” không có tệp báo cáo nào (.xlsx, .xlsm, .xls, .ods, .eml, .mbox)."
        )
    c = consolidate(inputs, plan, roster, use_cache=use_cache, workers=workers)
    path = write_tally(c, out)
    counts = c.counts()
    book.app.alert(
        f"Đã đọc {len(inputs)} tệp trong thư mục “{where.name}”: {counts['accepted']} báo cáo "
        f"dùng được, {counts['rejected']} bị từ chối, {counts['superseded']} bị thay bằng bản "
        f"mới hơn, {counts['ignored']} bỏ qua.\nBảng tổng hợp: {path.name} (cùng thư mục). "
        "Lý do từng tệp bị từ chối ở trang “Nguồn” và “Kết quả kiểm tra” của bảng tổng hợp.",
        title=f"{TITLE}: tổng hợp thư mục",
        mode="info",
    )
    return path


def tong_hop_thu_muc_macro() -> None:
    """Classic ribbon: Tổng hợp thư mục."""
    book = xw.Book.caller()
    try:
        do_tong_hop_thu_muc(book)
    except (ThiduaError, xw.XlwingsError) as e:
        book.app.alert(str(e), title=TITLE, mode="critical")
