"""Excel custom functions (UDFs) of the add-in: the same functions in every runtime.

Temporary demo content for the runtime plumbing (``addin.runtime``, ``addin/server``,
``addin.lite``); the campaign UDFs replace it. Every argument arrives as a 2-D list
(``ndim=2``); a problem the user can fix raises ``xw.XlwingsError`` with a Vietnamese
message (HTTP 400 in xlwings Server, shown in the cell).
"""

from __future__ import annotations

import xlwings as xw


@xw.func
@xw.arg("values", ndim=2, doc="Vùng ô chứa các số cần cộng (ô trống được bỏ qua).")
def TD_ECHO_SUM(values):
    """Cộng tất cả các số trong một vùng ô; báo lỗi nếu có ô không phải là số."""
    total = 0.0
    for r, row in enumerate(values, start=1):
        for c, value in enumerate(row, start=1):
            if value is None or value == "":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise xw.XlwingsError(
                    f"Ô ở dòng {r}, cột {c} của vùng không phải là số: “{value}”."
                )
            total += value
    return total


@xw.func
@xw.arg("code", doc="Mã lỗi, ví dụ value_blank.")
def TD_FINDING_TITLE(code):
    """Tên của một mã lỗi kiểm tra báo cáo (hàm thử của add-in)."""
    from logic.findings import CATALOG

    if code not in CATALOG:
        raise xw.XlwingsError(f"Không có mã lỗi “{code}”.")
    return CATALOG[code][1]
