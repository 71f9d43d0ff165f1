"""Findings: every problem in user data is a value, never an exception.

A ``Finding`` says what is wrong (a stable ``code``), how bad (``severity``: ``error``
means the value cannot be used, ``warning`` means it is used but deserves a look), where
(file, sheet, cell, unit, phase) and, in Vietnamese, what is wrong and how to fix it.

All messages come from one table, ``CATALOG``: code → (severity, title, message template,
hint). Build findings with :func:`finding`; the template's ``{placeholders}`` are filled
from keyword arguments. A check is a function that returns or yields findings and says in
its docstring which codes it can produce.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Literal

Severity = Literal["error", "warning"]

# code: (severity, title, message template, hint)
CATALOG: dict[str, tuple[Severity, str, str, str]] = {
    # --- identity of a report -------------------------------------------------------
    "unit_missing": (
        "error",
        "Thiếu mã đơn vị",
        "Báo cáo không ghi mã đơn vị.",
        "Ghi mã đơn vị (theo danh mục) vào ô Mã đơn vị.",
    ),
    "unit_unknown": (
        "error",
        "Mã đơn vị không có trong danh mục",
        "Mã đơn vị “{code}” không có trong danh mục đơn vị của kế hoạch.",
        "Kiểm tra lại mã đơn vị theo danh mục; dùng mẫu do cấp trên gửi.",
    ),
    "unit_name_mismatch": (
        "warning",
        "Tên đơn vị không khớp mã",
        "Tên đơn vị “{name}” không khớp với mã {code} ({expected}).",
        "Kiểm tra lại mã và tên đơn vị; có thể đơn vị gửi nhầm tệp của đơn vị khác.",
    ),
    "unit_not_commune": (
        "error",
        "Đơn vị không phải cấp xã",
        "Mã {code} là đơn vị cấp {level}, không phải cấp xã.",
        "Báo cáo số liệu theo từng xã, phường, thị trấn.",
    ),
    "unit_claims_other": (
        "warning",
        "Tệp của đơn vị khác",
        "Tệp “{name}” mang tên/địa chỉ của {expected} nhưng báo cáo ghi đơn vị {code}.",
        "Xác minh với đơn vị gửi xem có gửi nhầm tệp không.",
    ),
    "sender_not_registered": (
        "warning",
        "Người gửi không đúng địa chỉ đăng ký",
        "Báo cáo của {code} được gửi từ {sender}, không phải địa chỉ đã đăng ký ({expected}).",
        "Xác minh người gửi trước khi sử dụng số liệu.",
    ),
    "phase_missing": (
        "error",
        "Thiếu đợt thi đua",
        "Báo cáo không ghi đợt thi đua.",
        "Chọn đợt thi đua trong ô Đợt.",
    ),
    "phase_unknown": (
        "error",
        "Đợt thi đua không đúng",
        "Đợt “{phase}” không có trong kế hoạch (các đợt: {phases}).",
        "Chọn đúng đợt thi đua theo kế hoạch.",
    ),
    "report_date_missing": (
        "warning",
        "Thiếu ngày báo cáo",
        "Báo cáo không ghi ngày báo cáo.",
        "Ghi ngày báo cáo theo dạng dd/mm/yyyy.",
    ),
    "report_date_invalid": (
        "warning",
        "Ngày báo cáo không đọc được",
        "Không đọc được ngày báo cáo “{value}”.",
        "Ghi ngày báo cáo theo dạng dd/mm/yyyy.",
    ),
    "report_date_outside_phase": (
        "warning",
        "Ngày báo cáo ngoài đợt",
        "Ngày báo cáo {date} nằm ngoài đợt {phase} ({start} – {end}).",
        "Kiểm tra lại ngày báo cáo hoặc đợt thi đua.",
    ),
    "plan_mismatch": (
        "error",
        "Sai kế hoạch",
        "Tệp thuộc kế hoạch “{found}”, không phải “{expected}”.",
        "Dùng mẫu báo cáo của đúng phong trào thi đua.",
    ),
    "plan_missing": (
        "warning",
        "Không rõ kế hoạch",
        "Tệp không ghi mã kế hoạch; đã đọc theo kế hoạch “{expected}”.",
        "Dùng mẫu báo cáo do phần mềm tạo ra.",
    ),
    "not_a_report": (
        "warning",
        "Không phải trang báo cáo",
        "Trang tính không có bảng chỉ tiêu nào của kế hoạch.",
        "Nếu đây là báo cáo, giữ nguyên cột Mã chỉ tiêu của mẫu.",
    ),
    "template_empty": (
        "warning",
        "Mẫu chưa điền số liệu",
        "Báo cáo chưa điền số liệu nào.",
        "Điền số liệu rồi gửi lại.",
    ),
    # --- values ---------------------------------------------------------------------
    "value_blank": (
        "error",
        "Bỏ trống số liệu",
        "Chỉ tiêu {indicator}: ô “{component}” bị bỏ trống.",
        "Điền số liệu; nếu không phát sinh thì ghi 0.",
    ),
    "value_not_number": (
        "error",
        "Không phải số",
        "Chỉ tiêu {indicator}: “{value}” ở ô “{component}” không phải là số.",
        "Chỉ ghi chữ số, ví dụ 1234 hoặc 12,5.",
    ),
    "value_ambiguous": (
        "error",
        "Số viết không rõ",
        "Chỉ tiêu {indicator}: “{value}” có thể là {a} hoặc {b}.",
        "Ghi số không có dấu phân cách hàng nghìn, ví dụ 1234.",
    ),
    "value_text_number": (
        "warning",
        "Số được gõ dạng chữ",
        "Chỉ tiêu {indicator}: ô “{component}” chứa chữ “{value}”, đã đọc là {number}.",
        "Nhập số trực tiếp (không gõ dấu nháy, khoảng trắng).",
    ),
    "value_percent": (
        "error",
        "Ghi tỷ lệ thay cho số lượng",
        "Chỉ tiêu {indicator}: ô “{component}” ghi tỷ lệ “{value}”; ô này cần số lượng.",
        "Ghi số lượng (ví dụ số tin báo, số vụ); phần mềm tự tính tỷ lệ.",
    ),
    "value_negative": (
        "error",
        "Số âm",
        "Chỉ tiêu {indicator}: “{component}” là số âm ({value}).",
        "Số liệu không được âm; kiểm tra lại.",
    ),
    "value_fractional": (
        "error",
        "Số đếm có phần lẻ",
        "Chỉ tiêu {indicator}: “{component}” = {value} phải là số nguyên.",
        "Số vụ, số người, số mô hình phải là số nguyên.",
    ),
    "value_not_yes_no": (
        "error",
        "Không phải Có/Không",
        "Chỉ tiêu {indicator}: “{value}” không phải Có hoặc Không.",
        "Chọn “Có” hoặc “Không” (hoặc ghi 1/0).",
    ),
    "numerator_above_denominator": (
        "error",
        "Tử số lớn hơn mẫu số",
        "Chỉ tiêu {indicator}: {numerator_name} ({numerator}) lớn hơn {denominator_name} ({denominator}).",
        "Kiểm tra lại hai số; tử số không thể lớn hơn mẫu số.",
    ),
    "formula_no_cache": (
        "error",
        "Công thức chưa có kết quả",
        "Ô chứa công thức “{formula}” nhưng tệp không lưu kết quả tính.",
        "Mở tệp bằng Excel, nhấn Lưu (Ctrl+S) rồi gửi lại.",
    ),
    "formula_error": (
        "error",
        "Công thức bị lỗi",
        "Ô chứa công thức có kết quả lỗi {value}.",
        "Sửa công thức hoặc nhập số trực tiếp.",
    ),
    "outlier_previous": (
        "warning",
        "Khác thường so với đợt trước",
        "Chỉ tiêu {indicator}: {component} = {value}, gấp {ratio} lần đợt trước ({previous}).",
        "Kiểm tra lại số liệu; nếu đúng, ghi chú lý do ở cột Ghi chú.",
    ),
    "outlier_peers": (
        "warning",
        "Khác thường so với đơn vị khác",
        "Chỉ tiêu {indicator}: {component} = {value}, gấp {ratio} lần trung vị các đơn vị cùng cấp ({median}).",
        "Kiểm tra lại số liệu; nếu đúng, ghi chú lý do ở cột Ghi chú.",
    ),
    "legacy_encoding": (
        "warning",
        "Chữ mã cũ (TCVN3/VNI)",
        "Ô dùng phông {font}; đã chuyển “{value}” sang Unicode “{converted}”.",
        "Dùng phông Unicode (Times New Roman) khi nhập liệu.",
    ),
    # --- table structure ------------------------------------------------------------
    "indicator_missing": (
        "error",
        "Thiếu chỉ tiêu",
        "Không tìm thấy dòng của chỉ tiêu {indicator} ({name}).",
        "Không xóa dòng chỉ tiêu của mẫu; thêm lại dòng có mã {indicator}.",
    ),
    "indicator_unknown": (
        "warning",
        "Chỉ tiêu không có trong kế hoạch",
        "Mã chỉ tiêu “{indicator}” không có trong kế hoạch; dòng này bị bỏ qua.",
        "Kiểm tra lại mã chỉ tiêu ở cột Mã.",
    ),
    "indicator_duplicate": (
        "error",
        "Chỉ tiêu bị lặp",
        "Chỉ tiêu {indicator} xuất hiện nhiều lần (dòng {rows}); chỉ dùng dòng đầu.",
        "Xóa dòng thừa, mỗi chỉ tiêu chỉ một dòng.",
    ),
    "column_missing": (
        "error",
        "Thiếu cột số liệu",
        "Không tìm thấy cột “{component}”.",
        "Không xóa hay đổi tên các cột số liệu của mẫu.",
    ),
    # --- intake and consolidation -----------------------------------------------------
    "superseded": (
        "warning",
        "Báo cáo bị thay thế",
        "Báo cáo {unit} đợt {phase} này được thay bằng bản mới hơn ({by}).",
        "Không cần làm gì nếu bản mới là bản đúng.",
    ),
    "correction_changed": (
        "warning",
        "Số liệu thay đổi khi gửi lại",
        "Chỉ tiêu {indicator}, {component}: {old} → {new} (ô {cell}).",
        "Xác nhận bản sửa là bản đúng.",
    ),
    "district_tally_mismatch": (
        "warning",
        "Số tổng hợp của huyện lệch",
        "Chỉ tiêu {indicator}, {component}: huyện báo {reported}, cộng các xã được {computed} (lệch {diff}).",
        "Đề nghị đơn vị cấp huyện rà soát lại số tổng hợp.",
    ),
    "attachment_ignored": (
        "warning",
        "Tệp đính kèm bị bỏ qua",
        "Tệp “{name}” không phải bảng tính ({why}).",
        "Đề nghị gửi báo cáo dạng .xlsx.",
    ),
    "email_corrupt": (
        "error",
        "Thư điện tử bị hỏng",
        "Không đọc được thư điện tử: {why}.",
        "Đề nghị đơn vị gửi lại thư.",
    ),
    # --- hostile and broken files ---------------------------------------------------
    "file_unreadable": (
        "error",
        "Không đọc được tệp",
        "Không đọc được tệp: {why}.",
        "Đề nghị đơn vị mở tệp bằng Excel, chọn Lưu thành (.xlsx) rồi gửi lại.",
    ),
    "file_not_workbook": (
        "error",
        "Không phải tệp Excel",
        "Tệp không phải bảng tính Excel (nội dung là {what}).",
        "Đề nghị đơn vị gửi lại đúng tệp Excel (.xlsx).",
    ),
    "file_encrypted": (
        "error",
        "Tệp có mật khẩu",
        "Tệp được đặt mật khẩu nên không đọc được.",
        "Đề nghị đơn vị gỡ mật khẩu (Tệp → Thông tin → Bảo vệ sổ làm việc) hoặc cung cấp mật khẩu (--password).",
    ),
    "file_bad_password": (
        "error",
        "Sai mật khẩu",
        "Không mở được tệp bằng mật khẩu đã cho.",
        "Kiểm tra lại mật khẩu hoặc đề nghị đơn vị gỡ mật khẩu.",
    ),
    "file_too_large": (
        "error",
        "Tệp quá lớn",
        "Tệp vượt giới hạn {limit_name} ({value} > {limit}).",
        "Đề nghị đơn vị chỉ gửi trang báo cáo, lưu lại thành .xlsx mới.",
    ),
    "file_dangerous_xml": (
        "error",
        "Tệp chứa nội dung nguy hiểm",
        "Tệp chứa khai báo XML không hợp lệ ({what}) nên bị từ chối.",
        "Đề nghị đơn vị mở bằng Excel, lưu thành tệp .xlsx mới rồi gửi lại.",
    ),
    "file_path_traversal": (
        "error",
        "Tệp có cấu trúc bất thường",
        "Tệp nén chứa tên phần tử bất thường “{name}”.",
        "Đề nghị đơn vị lưu lại thành tệp .xlsx mới rồi gửi lại.",
    ),
    "sheet_too_large": (
        "error",
        "Trang tính quá lớn",
        "Trang “{sheet}” có ô ở {cell}, vượt giới hạn {limit_name} ({limit}).",
        "Xóa các ô thừa ở xa bảng số liệu (Ctrl+End để tìm), lưu rồi gửi lại.",
    ),
    "file_macros": (
        "warning",
        "Tệp có macro",
        "Tệp có macro (VBA); macro không được chạy, chỉ đọc số liệu.",
        "Nên lưu báo cáo dạng .xlsx (không macro).",
    ),
    "parse_timeout": (
        "error",
        "Đọc tệp quá lâu",
        "Đọc tệp quá {limit} giây nên đã dừng.",
        "Đề nghị đơn vị lưu lại thành tệp .xlsx mới, chỉ giữ trang báo cáo.",
    ),
    "parse_crashed": (
        "error",
        "Đọc tệp bị lỗi",
        "Trình đọc gặp lỗi khi đọc tệp: {why}.",
        "Đề nghị đơn vị mở bằng Excel, lưu thành tệp .xlsx mới rồi gửi lại.",
    ),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, located. ``message`` and ``hint`` are Vietnamese, for the user."""

    code: str
    severity: Severity
    message: str
    hint: str = ""
    path: str | None = None
    sheet: str | None = None
    cell: str | None = None
    unit: str | None = None
    phase: str | None = None
    member: str | None = None

    @property
    def title(self) -> str:
        return CATALOG[self.code][1] if self.code in CATALOG else self.code

    def at(self, **where) -> Finding:
        """A copy with location fields set (path, sheet, cell, unit, phase, member)."""
        return replace(self, **{k: v for k, v in where.items() if v is not None})

    def to_dict(self) -> dict:
        """The JSON-summary shape (contract schema 1) plus ``hint`` and ``member``."""
        return asdict(self)


class _SafeDict(dict):
    def __missing__(self, key):  # a template never fails on a missing detail
        return "…"


def finding(
    code: str,
    /,
    *,
    severity: Severity | None = None,
    path: str | None = None,
    sheet: str | None = None,
    cell: str | None = None,
    unit: str | None = None,
    phase: str | None = None,
    member: str | None = None,
    **details,
) -> Finding:
    """Build a finding from the catalog; ``details`` (and the location) fill the template."""
    sev, _title, template, hint = CATALOG[code]
    # Templates also name the location ("Trang “{sheet}” có ô ở {cell}"); details win.
    where = {"sheet": sheet, "cell": cell, "unit": unit, "phase": phase, "member": member}
    values = {k: v for k, v in where.items() if v is not None} | details
    text = template.format_map(_SafeDict({k: _fmt(v) for k, v in values.items()}))
    return Finding(
        code=code,
        severity=severity or sev,
        message=text,
        hint=hint,
        path=path,
        sheet=sheet,
        cell=cell,
        unit=unit,
        phase=phase,
        member=member,
    )


def _fmt(value) -> str:
    if isinstance(value, float):
        if value.is_integer():
            return f"{int(value):,}".replace(",", ".")
        return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}".replace(",", ".")
    return str(value)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def flatten(findings: Iterable[Finding]) -> list[tuple[str, str | None, str | None]]:
    """``(code, sheet, cell)`` tuples, the short form tests assert on."""
    return [(f.code, f.sheet, f.cell) for f in findings]
