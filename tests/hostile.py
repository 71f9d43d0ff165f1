"""Hostile and broken files, written by code for tests.

Each ``make_*`` function writes one file into ``folder`` and returns its path. They are
small and fast (the zip bomb is 300 KB on disk, 300 MB inflated, written in well under a
second) so any test can use them. :data:`MAKERS` lists them all by name and
:func:`write_all` writes every one. Workbooks are written by hand (raw OOXML parts) where
openpyxl would refuse to write the hazard, and by openpyxl where a real one is needed.

Helpers for your own variants: :func:`xlsx_parts` (the parts of a minimal workbook),
:func:`sheet_xml` (a worksheet part from cells) and :func:`write_zip`.

:data:`REPORT_MAKERS` are filled reports written from the project's own template (plan
``thanh-hoa-2024``, phase 1, each for another commune: none supersedes another), each with
one hazard: NFD text, TCVN3 text in a ``.VnTime`` font, formula-looking text and control
characters (all to be read correctly, not refused), a report date python-calamine panics
on, and encrypted reports (:data:`PASSWORD`, or :data:`OWN_PASSWORD` for a per-file
password list). :func:`mail_truncated` writes an ``.eml`` cut in the middle of its second
attachment's base64; :func:`write_corpus` writes all of it.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import openpyxl

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
XLSM_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
PASSWORD = "1234"
INJECTION = '=HYPERLINK("http://example.invalid/x","Bấm vào đây")'
OWN_PASSWORD = "Mật khẩu riêng 2024"  # a second encrypted report, opened by a password list


# --------------------------------------------------------------------------------------
# building blocks


def sheet_xml(cells: Iterable[tuple[str, object]], *, dimension: str = "A1") -> str:
    """A worksheet part holding ``(ref, value)`` cells; ``dimension`` may lie on purpose."""
    rows: dict[int, list[str]] = {}
    for ref, value in cells:
        row = int("".join(ch for ch in ref if ch.isdigit()))
        if isinstance(value, str):
            cell = f'<c r="{ref}" t="inlineStr"><is><t>{_esc(value)}</t></is></c>'
        else:
            cell = f'<c r="{ref}"><v>{value}</v></c>'
        rows.setdefault(row, []).append(cell)
    body = "".join(f'<row r="{r}">{"".join(cs)}</row>' for r, cs in sorted(rows.items()))
    return (
        f'{DECL}<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><dimension ref="{dimension}"/>'
        f"<sheetData>{body}</sheetData></worksheet>"
    )


def xlsx_parts(
    sheets: Mapping[str, str], *, macro: bool = False, content_types: bool = True
) -> dict[str, str | bytes]:
    """The parts of a minimal workbook: sheet name → worksheet XML (see :func:`sheet_xml`)."""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{SHEET_TYPE}"/>'
        for i in range(1, len(sheets) + 1)
    )
    vba = (
        '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
        if macro
        else ""
    )
    parts: dict[str, str | bytes] = {}
    if content_types:
        parts["[Content_Types].xml"] = (
            f'{DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{vba}'
            f'<Override PartName="/xl/workbook.xml" ContentType="{XLSM_MAIN if macro else XLSX_MAIN}"/>'
            f"{overrides}</Types>"
        )
    parts["_rels/.rels"] = (
        f'{DECL}<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" '
        f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    entries = "".join(
        f'<sheet name="{_esc(name)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(sheets, 1)
    )
    parts["xl/workbook.xml"] = (
        f'{DECL}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>{entries}</sheets></workbook>'
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    if macro:
        rels += (
            f'<Relationship Id="rId{len(sheets) + 1}" '
            'Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
            'Target="vbaProject.bin"/>'
        )
        # Not a working VBA project, only its container's signature: nothing may run it.
        parts["xl/vbaProject.bin"] = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504)
    parts["xl/_rels/workbook.xml.rels"] = (
        f'{DECL}<Relationships xmlns="{PKG_REL_NS}">{rels}</Relationships>'
    )
    for i, xml in enumerate(sheets.values(), 1):
        parts[f"xl/worksheets/sheet{i}.xml"] = xml
    return parts


def write_zip(path: Path, parts: Mapping[str, str | bytes]) -> Path:
    """Write parts as a deflated zip, names exactly as given (``..`` and all)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in parts.items():
            zf.writestr(name, content.encode("utf-8") if isinstance(content, str) else content)
    return path


def openpyxl_workbook(
    rows: int = 30, cols: int = 12, sheets: Iterable[str] = ("Báo cáo",)
) -> bytes:
    """A real workbook written by openpyxl: a header row, then numbers, on every sheet."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title in sheets:
        ws = wb.create_sheet(title)
        ws.append([f"Cột {c}" for c in range(1, cols + 1)])
        for r in range(2, rows + 1):
            ws.append([r * 100 + c for c in range(1, cols + 1)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


# --------------------------------------------------------------------------------------
# the files


def make_valid(folder: Path) -> Path:
    """A normal 30 × 12 report written by openpyxl (passes the pre-check)."""
    path = folder / "xa-dong-son.xlsx"
    path.write_bytes(openpyxl_workbook())
    return path


def make_zip_bomb(folder: Path, megabytes: int = 300) -> Path:
    """A workbook whose shared-strings part is one cell of ``megabytes`` MB of 'A' (~300 KB)."""
    parts = xlsx_parts({"Báo cáo": sheet_xml([("A1", 1)])})
    head = f'{DECL}<sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>'.encode()
    block = b"A" * (1 << 20)
    # Deflate one block, reset the window, repeat the same bytes: a valid stream, built fast.
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = co.compress(head) + co.flush(zlib.Z_FULL_FLUSH)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    repeated = co.compress(block) + co.flush(zlib.Z_FULL_FLUSH)
    tail_raw = b"</t></si></sst>"
    tail = co.compress(tail_raw) + co.flush()
    crc = zlib.crc32(head)
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail_raw, crc)
    size = len(head) + megabytes * len(block) + len(tail_raw)
    bomb = ("xl/sharedStrings.xml", first + repeated * megabytes + tail, crc, size)
    entries = [_deflated(name, content) for name, content in parts.items()]
    path = folder / "bom-nen.xlsx"
    path.write_bytes(_raw_zip([*entries, bomb]))
    return path


def make_far_cell(folder: Path) -> Path:
    """A 1 KB workbook with a cell at XFD1048576 and a lying ``<dimension ref="A1:B2">``."""
    xml = sheet_xml([("A1", "Mã"), ("B2", 5), ("XFD1048576", 1)], dimension="A1:B2")
    return write_zip(folder / "o-xa.xlsx", xlsx_parts({"Báo cáo": xml}))


def make_wide_box(folder: Path) -> Path:
    """Cells at A1 and ALL100000: each within its own limit, 100 million cells together."""
    xml = sheet_xml([("A1", 1), ("ALL100000", 1)])
    return write_zip(folder / "hinh-hop.xlsx", xlsx_parts({"Báo cáo": xml}))


def make_implicit_far(folder: Path) -> Path:
    """Cells without ``r``: 1,001 of them in one row put the last at column ALM."""
    cells = "<c><v>1</v></c>" * 1001
    xml = (
        f'{DECL}<worksheet xmlns="{MAIN_NS}"><dimension ref="A1"/>'
        f"<sheetData><row>{cells}</row></sheetData></worksheet>"
    )
    return write_zip(folder / "khong-toa-do.xlsx", xlsx_parts({"Báo cáo": xml}))


def make_billion_laughs(folder: Path) -> Path:
    """Entity expansion in the shared strings (``&lol9;`` is 10⁹ 'lol')."""
    ents = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    sst = (
        f'<?xml version="1.0"?><!DOCTYPE lolz [{ents}]>'
        f'<sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'
    )
    parts = xlsx_parts({"Báo cáo": sheet_xml([("A1", 1)])})
    parts["xl/sharedStrings.xml"] = sst
    return write_zip(folder / "cuoi-ty-lan.xlsx", parts)


def make_external_entity(folder: Path) -> Path:
    """A worksheet whose cell would pull in /etc/passwd through an external entity."""
    xml = (
        '<?xml version="1.0"?><!DOCTYPE ws [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        f'<worksheet xmlns="{MAIN_NS}"><sheetData><row r="1"><c r="A1" t="inlineStr">'
        "<is><t>&xxe;</t></is></c></row></sheetData></worksheet>"
    )
    return write_zip(folder / "thuc-the-ngoai.xlsx", xlsx_parts({"Báo cáo": xml}))


def make_utf16_doctype(folder: Path) -> Path:
    """A DOCTYPE hidden in a UTF-16 worksheet part (a byte search for ASCII misses it)."""
    xml = sheet_xml([("A1", 1)]).replace(DECL, "")
    xml = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]>' + xml
    parts = xlsx_parts({"Báo cáo": ""})
    parts["xl/worksheets/sheet1.xml"] = b"\xff\xfe" + xml.encode("utf-16-le")
    return write_zip(folder / "utf16.xlsx", parts)


def make_encrypted(folder: Path, password: str = PASSWORD) -> Path:
    """A real openpyxl workbook encrypted by msoffcrypto-tool (agile encryption)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(openpyxl_workbook())).encrypt(password, out)
    path = folder / "co-mat-khau.xlsx"
    path.write_bytes(out.getvalue())
    return path


def make_truncated(folder: Path) -> Path:
    """A real workbook cut in half, as a failed download leaves it."""
    data = openpyxl_workbook()
    path = folder / "tai-do-dang.xlsx"
    path.write_bytes(data[: len(data) // 2])
    return path


def make_renamed_text(folder: Path) -> Path:
    """A CSV export saved with an .xlsx name."""
    path = folder / "bao-cao-csv.xlsx"
    path.write_text("Mã;Chỉ tiêu;Số liệu\nCT01;Tin báo;12\nCT02;Vụ việc;3\n", encoding="utf-8")
    return path


def make_renamed_html(folder: Path) -> Path:
    """An HTML table with an .xls name, as some web systems export "Excel" files."""
    path = folder / "xuat-tu-web.xls"
    path.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><table>"
        "<tr><td>Mã</td><td>Số liệu</td></tr><tr><td>CT01</td><td>12</td></tr>"
        "</table></body></html>",
        encoding="utf-8",
    )
    return path


def make_empty(folder: Path) -> Path:
    path = folder / "rong.xlsx"
    path.write_bytes(b"")
    return path


def make_pdf(folder: Path) -> Path:
    path = folder / "bao-cao.pdf.xlsx"
    path.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    return path


def make_no_content_types(folder: Path) -> Path:
    """A zip with workbook parts but no ``[Content_Types].xml``."""
    parts = xlsx_parts({"Báo cáo": sheet_xml([("A1", 1)])}, content_types=False)
    return write_zip(folder / "thieu-content-types.xlsx", parts)


def make_many_sheets(folder: Path, count: int = 2000) -> Path:
    """A workbook with ``count`` tiny sheets."""
    xml = sheet_xml([("A1", 1)])
    sheets = {f"Trang {i}": xml for i in range(1, count + 1)}
    return write_zip(folder / "nhieu-trang.xlsx", xlsx_parts(sheets))


def make_macro(folder: Path) -> Path:
    """A macro-enabled workbook (.xlsm) with a ``vbaProject.bin`` part."""
    parts = xlsx_parts({"Báo cáo": sheet_xml([("A1", "Mã"), ("B1", 12)])}, macro=True)
    return write_zip(folder / "co-macro.xlsm", parts)


def make_path_traversal(folder: Path) -> Path:
    """A workbook with member names that escape the folder they are extracted into."""
    parts = xlsx_parts({"Báo cáo": sheet_xml([("A1", 1)])})
    parts["../../evil.txt"] = "x"
    parts["C:/Windows/evil.txt"] = "x"
    parts["xl\\..\\..\\evil.txt"] = "x"
    parts["/etc/evil.txt"] = "x"
    return write_zip(folder / "duong-dan-la.xlsx", parts)


def make_formula_injection(folder: Path) -> Path:
    """A valid report whose text cell reads ``=HYPERLINK(…)`` (text, not a formula)."""
    wb = openpyxl.load_workbook(io.BytesIO(openpyxl_workbook(rows=5, cols=3)))
    ws = wb.active
    ws["B3"] = INJECTION
    ws["B3"].data_type = "s"  # stored as a shared string: what a clerk typed
    path = folder / "chen-cong-thuc.xlsx"
    wb.save(path)
    return path


def make_ods_repeated(folder: Path) -> Path:
    """A 1 KB .ods whose one non-empty cell is repeated over 1,000,000 rows × 1,000 columns."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Báo cáo">'
        '<table:table-row table:number-rows-repeated="1000000">'
        '<table:table-cell office:value-type="float" office:value="1" '
        'table:number-columns-repeated="1000"><text:p>1</text:p></table:table-cell>'
        "</table:table-row></table:table></office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    path = folder / "lap-lai.ods"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path


MAKERS: dict[str, Callable[[Path], Path]] = {
    name.removeprefix("make_"): fn
    for name, fn in dict(globals()).items()
    if name.startswith("make_") and callable(fn)
}


def write_all(folder: Path) -> dict[str, Path]:
    """Write every file of :data:`MAKERS` into ``folder``; name → path."""
    folder.mkdir(parents=True, exist_ok=True)
    return {name: make(folder) for name, make in MAKERS.items()}


# --------------------------------------------------------------------------------------
# a raw zip writer (zipfile would inflate 300 MB to write the bomb)


def _deflated(name: str, content: str | bytes) -> tuple[str, bytes, int, int]:
    raw = content.encode("utf-8") if isinstance(content, str) else content
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, co.compress(raw) + co.flush(), zlib.crc32(raw), len(raw)


_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_UTF8, _DEFLATE, _DOS_DATE = 0x800, 8, 0x21  # flag for UTF-8 names; 1 Jan 1980


def _raw_zip(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    out = io.BytesIO()
    central = []
    for name, data, crc, size in entries:
        encoded = name.encode("utf-8")
        offset = out.tell()
        sizes = (crc, len(data), size, len(encoded))
        out.write(_LOCAL.pack(0x04034B50, 20, _UTF8, _DEFLATE, 0, _DOS_DATE, *sizes, 0))
        out.write(encoded + data)
        head = (0x02014B50, 20, 20, _UTF8, _DEFLATE, 0, _DOS_DATE, *sizes)
        central.append(_CENTRAL.pack(*head, 0, 0, 0, 0, 0, offset) + encoded)
    start = out.tell()
    directory = b"".join(central)
    out.write(directory)
    count = len(entries)
    out.write(_END.pack(0x06054B50, 0, 0, count, count, len(directory), start, 0))
    return out.getvalue()


# --------------------------------------------------------------------------------------
# filled reports from the project's template, each with a hazard that must be READ

PLAN_ID = "thanh-hoa-2024"
PHASE = "1"
REPORT_DATE = dt.date(2025, 1, 25)
#: Commune of each report (phase 1): all different, so that none supersedes another.
UNITS = {
    "valid_a": "14755",  # Phường Hàm Rồng
    "valid_b": "14758",  # Phường Đông Thọ
    "nfd": "14761",  # Phường Nam Ngạn
    "tcvn3": "14764",  # Phường Trường Thi
    "formula_text": "14767",  # Phường Điện Biên
    "control_chars": "14770",  # Phường Phú Sơn
    "control_chars_raw": "14785",  # Phường Đông Sơn
    "date_panic": "14791",  # Phường Đông Cương
    "encrypted_report": "14773",  # Phường Lam Sơn
    "encrypted_own_password": "14776",  # Phường Ba Đình
    "mail_kept": "14779",  # Phường Ngọc Trạo: the attachment that survives the cut
    "mail_cut": "14782",  # Phường Đông Vệ: the attachment cut mid-base64
}
#: What a clerk (or an attacker) types into the unit-name cell and a note cell.
FORMULA_NAME = '=HYPERLINK("http://evil","x")'
FORMULA_NOTE = "@SUM(1)"
#: Control characters put into text cells: Excel's escaped form, then raw bytes.
CONTROL_ESCAPED = "_x0007__x001B_"
CONTROL_RAW = "\x0b\x1b\x08"


@functools.cache
def plan_and_roster():
    """The plan and roster every report here is written for (loaded once)."""
    from workbooks.plans import load
    from workbooks.rosters import load_roster

    plan = load(PLAN_ID)
    return plan, load_roster(plan.roster)


def unit_name(code: str) -> str:
    """The roster's name of a phase-1 unit ("Phường Hàm Rồng")."""
    plan, roster = plan_and_roster()
    return roster.scoped_tree(plan.phase(PHASE).end, plan.scope).unit(code).name


def report_values(seed: int = 0) -> dict[str, dict[str, object]]:
    """Plausible figures for every indicator of the plan (numerator ≤ denominator)."""
    plan, _roster = plan_and_roster()
    out: dict[str, dict[str, object]] = {}
    for n, ind in enumerate(plan.reported_indicators):
        a, b = 3 + (n + seed) % 5, 10 + (n * 7 + seed) % 9
        out[ind.code] = {
            "ratio": {"numerator": a, "denominator": b},
            "reduction": {"current": a, "baseline": b},
            "count": {"count": a},
            "minimum": {"count": a},
            "yes_no": {"done": "Có"},
        }[ind.kind]
    return out


def report_bytes(unit: str, *, seed: int = 0, values: dict | None = None) -> bytes:
    """A filled phase-1 report of ``unit`` written by the project's template writer."""
    import tempfile

    from workbooks.template import write_template

    plan, roster = plan_and_roster()
    with tempfile.TemporaryDirectory(prefix="thidua-hostile-") as tmp:
        path = Path(tmp) / "report.xlsx"
        filled = values if values is not None else report_values(seed)
        write_template(plan, roster, unit, PHASE, path, report_date=REPORT_DATE, values=filled)
        return path.read_bytes()


def write_report(folder: Path, name: str, unit: str, *, seed: int = 0) -> Path:
    """Write a filled report of ``unit`` as ``folder/name``."""
    path = folder / name
    path.write_bytes(report_bytes(unit, seed=seed))
    return path


def _edited(data: bytes, change: Callable[[object], None]) -> bytes:
    """Open with openpyxl, change the report sheet, save: a clerk's Excel session."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    change(wb.worksheets[0])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _replace_in_parts(data: bytes, replacements: Mapping[bytes, bytes]) -> bytes:
    """Rewrite every XML part of a zip with byte replacements (names and order kept)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            raw = src.read(info)
            if info.filename.endswith((".xml", ".rels")):
                for old, new in replacements.items():
                    raw = raw.replace(old, new)
            dst.writestr(info, raw, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def report_nfd(folder: Path) -> Path:
    """Saved on a Mac: the unit name and the sheet name in NFD, everywhere in the file."""
    name = unit_name(UNITS["nfd"])  # "Phường Nam Ngạn", the sheet is "Nam Ngạn"
    short = name.split(" ", 1)[1]
    nfd = {
        name.encode(): unicodedata.normalize("NFD", name).encode(),
        short.encode(): unicodedata.normalize("NFD", short).encode(),
    }
    path = folder / "bao-cao-tu-may-mac.xlsx"
    path.write_bytes(_replace_in_parts(report_bytes(UNITS["nfd"], seed=1), nfd))
    return path


def report_tcvn3(folder: Path) -> Path:
    """The unit name and the preparer typed in TCVN3 (ABC) in a ``.VnTime`` font."""
    from openpyxl.styles import Font

    from logic.text import to_tcvn3

    def change(ws) -> None:
        for ref, text in (("G10", unit_name(UNITS["tcvn3"])), ("C13", "Lê Thị Hương")):
            ws[ref] = to_tcvn3(text)
            ws[ref].font = Font(name=".VnTime", size=12)

    path = folder / "bao-cao-font-vntime.xlsx"
    path.write_bytes(_edited(report_bytes(UNITS["tcvn3"], seed=2), change))
    return path


def report_formula_text(folder: Path) -> Path:
    """Text that looks like formulas: the unit name and a note (stored as text, not ``<f>``)."""
    values = report_values(3)
    first = next(iter(values))
    values[first] = {**values[first], "note": FORMULA_NOTE}

    def change(ws) -> None:
        ws["G10"] = FORMULA_NAME
        ws["G10"].data_type = "s"  # what the clerk typed, kept as text

    data = _edited(report_bytes(UNITS["formula_text"], values=values), change)
    path = folder / "bao-cao-chen-cong-thuc.xlsx"
    path.write_bytes(data)
    return path


def _with_control_chars(unit: str, seed: int, control: str) -> bytes:
    """A report whose preparer, first note and first ratio's numerator hold ``control``.

    openpyxl refuses to write control characters, so placeholders are replaced in the XML
    afterwards. The numerator reads "<control>7": a number typed as text, which the
    reader reports quoting the cell, so the characters reach every output.
    """
    plan, _roster = plan_and_roster()
    values = report_values(seed)
    first = next(iter(values))
    values[first] = {**values[first], "note": "Ghi chú XXCTRLXX hết"}
    ratio = next(i.code for i in plan.reported_indicators if i.kind == "ratio")
    values[ratio] = {**values[ratio], "numerator": "XXCTRLXX7"}

    def change(ws) -> None:
        ws["C13"] = "Lê XXCTRLXX Thị Hương"

    data = _edited(report_bytes(unit, values=values), change)
    return _replace_in_parts(data, {b"XXCTRLXX": control.encode()})


def report_control_chars(folder: Path) -> Path:
    """Control characters as Excel stores them (``_x0007_``) in three text cells."""
    path = folder / "bao-cao-ky-tu-dieu-khien.xlsx"
    path.write_bytes(_with_control_chars(UNITS["control_chars"], 4, CONTROL_ESCAPED))
    return path


def report_control_chars_raw(folder: Path) -> Path:
    """Raw control characters in three text cells: not even well-formed XML 1.0."""
    path = folder / "bao-cao-ky-tu-tho.xlsx"
    path.write_bytes(_with_control_chars(UNITS["control_chars_raw"], 8, CONTROL_RAW))
    return path


def report_date_panic(folder: Path) -> Path:
    """The report date cell (date-formatted) holding -10¹²: python-calamine panics on it."""

    def change(ws) -> None:
        ws["C12"] = -(10**12)

    path = folder / "bao-cao-ngay-am.xlsx"
    path.write_bytes(_edited(report_bytes(UNITS["date_panic"], seed=10), change))
    return path


def _encrypt(data: bytes, password: str) -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


def report_encrypted(folder: Path) -> Path:
    """A filled report encrypted with :data:`PASSWORD` ("1234")."""
    path = folder / "bao-cao-co-mat-khau.xlsx"
    path.write_bytes(_encrypt(report_bytes(UNITS["encrypted_report"], seed=5), PASSWORD))
    return path


def report_encrypted_own_password(folder: Path) -> Path:
    """A filled report encrypted with :data:`OWN_PASSWORD` (for a per-file password list)."""
    data = report_bytes(UNITS["encrypted_own_password"], seed=6)
    path = folder / "bao-cao-mat-khau-rieng.xlsx"
    path.write_bytes(_encrypt(data, OWN_PASSWORD))
    return path


REPORT_MAKERS: dict[str, Callable[[Path], Path]] = {
    "nfd": report_nfd,
    "tcvn3": report_tcvn3,
    "formula_text": report_formula_text,
    "control_chars": report_control_chars,
    "control_chars_raw": report_control_chars_raw,
    "date_panic": report_date_panic,
    "encrypted_report": report_encrypted,
    "encrypted_own_password": report_encrypted_own_password,
}


def mail_truncated(folder: Path) -> Path:
    """An ``.eml`` with two reports attached, cut in the middle of the second's base64.

    The first attachment (:data:`UNITS` ``mail_kept``) arrives whole; the second
    (``mail_cut``) loses its second half, cut inside a base64 quantum.
    """
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "conganphuong.ngoctrao@thanhhoa.gov.vn"
    msg["To"] = "tonghop.pv01@thanhhoa.gov.vn"
    msg["Subject"] = "Báo cáo thi đua đợt 1"
    msg["Date"] = "Sat, 25 Jan 2025 09:30:00 +0700"
    msg.set_content("Kính gửi Công an tỉnh,\nĐơn vị gửi báo cáo kết quả thi đua.\n")
    xlsx = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    kept, cut = UNITS["mail_kept"], UNITS["mail_cut"]
    for unit, fname in ((kept, "Báo cáo Ngọc Trạo.xlsx"), (cut, "Báo cáo Đông Vệ.xlsx")):
        msg.add_attachment(report_bytes(unit, seed=7), maintype=xlsx[0], subtype=xlsx[1],
                           filename=fname)  # fmt: skip
    raw = msg.as_bytes()
    marker = raw.rindex(b"Content-Transfer-Encoding: base64")
    start = raw.index(b"\n\n", marker) + 2
    cut_at = start + (len(raw) - start) // 2
    while sum(not chr(b).isspace() for b in raw[start:cut_at]) % 4 == 0:
        cut_at += 1  # a cut inside a 4-character quantum: undecodable padding
    path = folder / "thu-bi-cat-cut.eml"
    path.write_bytes(raw[:cut_at])
    return path


def write_corpus(folder: Path) -> dict[str, Path]:
    """Every hostile and broken input: :data:`MAKERS`, :data:`REPORT_MAKERS` and the
    truncated ``.eml`` (key ``mail_truncated``), written into ``folder``; name → path."""
    out = write_all(folder)
    out.update({name: make(folder) for name, make in REPORT_MAKERS.items()})
    out["mail_truncated"] = mail_truncated(folder)
    return out
