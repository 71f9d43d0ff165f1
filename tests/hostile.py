"""Hostile and broken files, written by code for tests.

Each ``make_*`` function writes one file into ``folder`` and returns its path. They are
small and fast (the zip bomb is 300 KB on disk, 300 MB inflated, written in well under a
second) so any test can use them. :data:`MAKERS` lists them all by name and
:func:`write_all` writes every one. Workbooks are written by hand (raw OOXML parts) where
openpyxl would refuse to write the hazard, and by openpyxl where a real one is needed.

Helpers for your own variants: :func:`xlsx_parts` (the parts of a minimal workbook),
:func:`sheet_xml` (a worksheet part from cells) and :func:`write_zip`.
"""

from __future__ import annotations

import io
import struct
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
