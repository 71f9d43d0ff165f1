"""Pre-check of untrusted workbooks: every hostile file refused with the right finding,
real workbooks accepted with their real extents, and fast enough for 10,000 files."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

from logic.findings import Finding
from tests import hostile
from tests.hostile import sheet_xml, write_zip, xlsx_parts
from workbooks.isolate import run_isolated
from workbooks.precheck import CheckedWorkbook, decrypt, precheck
from workbooks.settings import Settings

DATA = Path(__file__).parents[1] / "data" / "workbooks"


def short(findings: list[Finding]) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(f.code, f.sheet, f.cell, f.member) for f in findings]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return hostile.write_all(tmp_path_factory.mktemp("hostile"))


def check(path: Path, **kw):
    return precheck(path.read_bytes(), path.name, **kw)


# name → (kind, findings as (code, sheet, cell, member), words the first message must contain)
EXPECTED = {
    "valid": ("xlsx", [], None),
    "zip_bomb": (
        "xlsx",
        [
            ("file_too_large", None, None, "xl/sharedStrings.xml"),
            ("file_too_large", None, None, None),
        ],
        "vượt giới hạn dung lượng một phần tử sau giải nén (byte) (314.572.975 > 104.857.600)",
    ),
    "far_cell": (
        "xlsx",
        [("sheet_too_large", "Báo cáo", "XFD1048576", None)],
        "Trang “Báo cáo” có ô ở XFD1048576, vượt giới hạn số dòng của trang tính (100.000).",
    ),
    "wide_box": (
        "xlsx",
        [("sheet_too_large", "Báo cáo", "ALL100000", None)],
        "số ô của trang tính (số dòng × số cột) (5.000.000)",
    ),
    "implicit_far": (
        "xlsx",
        [("sheet_too_large", "Báo cáo", "ALM1", None)],
        "có ô ở ALM1, vượt giới hạn số cột của trang tính (cột ALL) (1.000)",
    ),
    "billion_laughs": (
        "xlsx",
        [("file_dangerous_xml", None, None, "xl/sharedStrings.xml")],
        "khai báo DOCTYPE",
    ),
    "external_entity": (
        "xlsx",
        [("file_dangerous_xml", None, None, "xl/worksheets/sheet1.xml")],
        "khai báo DOCTYPE",
    ),
    "utf16_doctype": (
        "xlsx",
        [("file_dangerous_xml", None, None, "xl/worksheets/sheet1.xml")],
        "khai báo DOCTYPE",
    ),
    "encrypted": ("encrypted", [("file_encrypted", None, None, None)], "đặt mật khẩu"),
    "truncated": ("unknown", [("file_unreadable", None, None, None)], "không đầy đủ"),
    "renamed_text": ("unknown", [("file_not_workbook", None, None, None)], "văn bản dạng CSV"),
    "renamed_html": ("unknown", [("file_not_workbook", None, None, None)], "trang web HTML"),
    "empty": ("unknown", [("file_not_workbook", None, None, None)], "tệp rỗng"),
    "pdf": ("unknown", [("file_not_workbook", None, None, None)], "tài liệu PDF"),
    "no_content_types": (
        "xlsx",
        [("file_unreadable", None, None, None)],
        "thiếu phần [Content_Types].xml",
    ),
    "many_sheets": (
        "xlsx",
        [("file_too_large", None, None, None)],
        "vượt giới hạn số trang tính (2.000 > 500)",
    ),
    "macro": ("xlsm", [("file_macros", None, None, None)], "macro không được chạy"),
    "path_traversal": (
        "xlsx",
        [
            ("file_path_traversal", None, None, "../../evil.txt"),
            ("file_path_traversal", None, None, "C:/Windows/evil.txt"),
            ("file_path_traversal", None, None, "xl\\..\\..\\evil.txt"),
            ("file_path_traversal", None, None, "/etc/evil.txt"),
        ],
        "tên phần tử bất thường “../../evil.txt”",
    ),
    "formula_injection": ("xlsx", [], None),
    "ods_repeated": (
        "ods",
        [("sheet_too_large", "Báo cáo", "ALL1000000", None)],
        "có ô ở ALL1000000, vượt giới hạn số dòng",
    ),
}


def test_every_hostile_file_has_an_expectation():
    assert set(EXPECTED) == set(hostile.MAKERS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_files_get_the_right_findings(files, name):
    kind, expected, words = EXPECTED[name]
    result = check(files[name])
    assert (result.kind, short(result.findings)) == (kind, expected)
    if words:
        assert words in result.findings[0].message
    assert all(f.path == files[name].name for f in result.findings)
    refused = any(f.severity == "error" for f in result.findings)
    assert result.ok is not refused
    assert (result.workbook is None) is refused


def test_far_cell_extent_ignores_the_lying_dimension(files):
    # the sheet says <dimension ref="A1:B2">; the real extent is the far cell
    assert check(files["far_cell"]).sheet_extents == {"Báo cáo": (1048576, 16384)}


def test_valid_workbook_passes_with_its_extents(files):
    result = check(files["valid"])
    assert result.ok and result.findings == []
    assert result.sheet_extents == {"Báo cáo": (30, 12)}
    wb = result.workbook
    assert isinstance(wb, CheckedWorkbook)
    assert (wb.kind, wb.name, dict(wb.sheet_extents)) == (
        "xlsx",
        "xa-dong-son.xlsx",
        {"Báo cáo": (30, 12)},
    )
    assert wb.data == files["valid"].read_bytes()


def test_formula_injection_text_is_a_valid_workbook(files):
    # the hazard is for writers (tested there); the file itself is an ordinary report
    result = check(files["formula_injection"])
    assert result.ok and result.sheet_extents == {"Báo cáo": (5, 3)}
    sheet = result.workbook.open_calamine().get_sheet_by_name("Báo cáo").to_python()
    assert sheet[2][1] == hostile.INJECTION


def test_macro_workbook_is_read_with_a_warning(files):
    result = check(files["macro"])
    assert result.ok and result.sheet_extents == {"Báo cáo": (1, 2)}
    assert [f.severity for f in result.findings] == ["warning"]


def test_several_sheets_are_named_from_the_workbook(tmp_path):
    data = hostile.openpyxl_workbook(rows=12, cols=4, sheets=["Xã Đông Sơn", "Tổng hợp", "Trống"])
    result = precheck(data, "huyen.xlsx")
    assert result.sheet_extents == {"Xã Đông Sơn": (12, 4), "Tổng hợp": (12, 4), "Trống": (12, 4)}
    empty = hostile.openpyxl_workbook(rows=0, cols=0, sheets=["Trống"])
    assert precheck(empty, "rong.xlsx").sheet_extents == {"Trống": (0, 0)}


@pytest.mark.parametrize(
    ("cell_xml", "cell"),
    [
        ('<c s="1" r="XFD1048576"><v>1</v></c>', "XFD1048576"),  # r not first
        ('<c r="xfd1048576"><v>1</v></c>', "XFD1048576"),  # lower case
        ('<c t=">" r="XFD1048576"><v>1</v></c>', "XFD1048576"),  # ">" inside a value
        ('<c\nr="XFD1048576"><v>1</v></c>', "XFD1048576"),  # a newline, not a space
        ('<c r="A1048577"><v>1</v></c>', "A1048577"),  # beyond Excel's own last row
        ('<c r="&#88;FD1048576"><v>1</v></c>', "XFD1048576"),  # a character reference
    ],
)
def test_unusual_cell_tags_are_still_measured(tmp_path, cell_xml, cell):
    xml = sheet_xml([("A1", 1)]).replace("</row>", cell_xml + "</row>")
    path = write_zip(tmp_path / "x.xlsx", xlsx_parts({"S": xml}))
    assert short(check(path).findings) == [("sheet_too_large", "S", cell, None)]


@pytest.mark.parametrize("rows", ["+1000000", "&#49;000000", " 1000000 "])
def test_ods_repeats_are_read_as_a_parser_reads_them(tmp_path, rows):
    content = zipfile.ZipFile(hostile.make_ods_repeated(tmp_path)).read("content.xml")
    content = content.replace(b'rows-repeated="1000000"', f'rows-repeated="{rows}"'.encode())
    path = tmp_path / "x.ods"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", content)
    assert short(check(path).findings) == [("sheet_too_large", "Báo cáo", "ALL1000000", None)]


def test_prefixed_cells_are_measured(tmp_path):
    xml = (
        f'<?xml version="1.0"?><x:worksheet xmlns:x="{hostile.MAIN_NS}"><x:sheetData>'
        '<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row>'
        '<x:row r="200000"><x:c r="B200000"><x:v>1</x:v></x:c></x:row>'
        "</x:sheetData></x:worksheet>"
    )
    path = write_zip(tmp_path / "x.xlsx", xlsx_parts({"S": xml}))
    assert short(check(path).findings) == [("sheet_too_large", "S", "B200000", None)]


def test_sheets_found_by_content_not_only_by_name(tmp_path):
    parts = xlsx_parts({"S": sheet_xml([("A1", 1)])})
    # a sheet part outside xl/worksheets, reached by a relationship
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        "worksheets/sheet1.xml", "data/a.xml"
    )
    parts["xl/data/a.xml"] = parts.pop("xl/worksheets/sheet1.xml")
    # and a part nobody names, rooted in <worksheet>
    parts["xl/orphan.xml"] = sheet_xml([("C9000", 1)])
    result = check(write_zip(tmp_path / "x.xlsx", parts))
    assert result.ok
    assert result.sheet_extents == {"S": (1, 1), "xl/orphan.xml": (9000, 3)}


def test_big_sheet_is_streamed_and_cells_across_chunks_count(tmp_path):
    xml = sheet_xml([(f"A{r}", r) for r in range(1, 45_001)])
    assert len(xml) > 2_000_000  # several 1 MB chunks, tags cut at their borders
    path = write_zip(tmp_path / "big.xlsx", xlsx_parts({"S": xml}))
    assert check(path).sheet_extents == {"S": (45_000, 1)}
    result = check(path, settings=Settings(max_rows=40_000))
    assert short(result.findings) == [("sheet_too_large", "S", "A40001", None)]


def test_doctype_behind_a_long_comment_is_refused(tmp_path):
    xml = '<?xml version="1.0"?><!--' + "x" * 70_000 + '--><!DOCTYPE a [<!ENTITY b "c">]><a/>'
    parts = xlsx_parts({"S": sheet_xml([("A1", 1)])})
    parts["xl/styles.xml"] = xml
    result = check(write_zip(tmp_path / "x.xlsx", parts))
    assert short(result.findings) == [("file_dangerous_xml", None, None, "xl/styles.xml")]
    assert "phần mở đầu XML quá dài" in result.findings[0].message


@pytest.mark.parametrize("encoding", ["UTF-7", "UTF-32", "IBM037"])
def test_exotic_xml_encodings_are_refused(tmp_path, encoding):
    parts = xlsx_parts({"S": sheet_xml([("A1", 1)])})
    parts["xl/styles.xml"] = f'<?xml version="1.0" encoding="{encoding}"?><a/>'
    result = check(write_zip(tmp_path / "x.xlsx", parts))
    assert short(result.findings) == [("file_dangerous_xml", None, None, "xl/styles.xml")]
    assert f"bảng mã XML lạ “{encoding}”" in result.findings[0].message


def test_duplicate_and_smuggled_member_names(tmp_path):
    parts = xlsx_parts({"S": sheet_xml([("A1", 1)])})
    path = write_zip(tmp_path / "dup.xlsx", parts)
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "a") as zf:
        zf.writestr("xl/worksheets/sheet1.xml", sheet_xml([("XFD1048576", 1)]))
    assert ("file_path_traversal", None, None, "xl/worksheets/sheet1.xml") in short(
        check(path).findings
    )
    # a local header that names its member differently from the central directory
    data = bytearray(write_zip(tmp_path / "ok.xlsx", parts).read_bytes())
    at = data.index(b"xl/worksheets/sheet1.xml")
    data[at : at + 24] = b"xl/worksheets/sheet9.xml"
    result = precheck(bytes(data), "x.xlsx")
    assert short(result.findings) == [
        ("file_path_traversal", None, None, "xl/worksheets/sheet9.xml")
    ]


def test_zip_methods_excel_never_uses_are_refused(tmp_path):
    path = tmp_path / "bz.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as zf:
        for name, content in xlsx_parts({"S": sheet_xml([("A1", 1)])}).items():
            zf.writestr(name, content)
    result = check(path)
    assert {f.code for f in result.findings} == {"file_unreadable"}
    assert "nén theo cách Excel không dùng" in result.findings[0].message


def test_high_ratio_member_is_refused(tmp_path):
    parts = xlsx_parts({"S": sheet_xml([("A1", 1)])})
    parts["xl/sharedStrings.xml"] = "<sst>" + " " * 3_000_000 + "</sst>"
    result = check(write_zip(tmp_path / "x.xlsx", parts))
    assert short(result.findings) == [("file_too_large", None, None, "xl/sharedStrings.xml")]
    assert "tỉ lệ nén của một phần tử" in result.findings[0].message


def test_word_and_ods_text_documents_are_not_workbooks(tmp_path):
    docx = tmp_path / "cong-van.docx"
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<Types><Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        zf.writestr("word/document.xml", "<w:document/>")
    result = check(docx)
    assert short(result.findings) == [("file_not_workbook", None, None, None)]
    assert "tài liệu Word (.docx)" in result.findings[0].message
    odt = tmp_path / "van-ban.odt"
    with zipfile.ZipFile(odt, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        zf.writestr("content.xml", "<office:document-content/>")
    assert "văn bản OpenDocument" in check(odt).findings[0].message


def test_settings_given_explicitly_set_the_limits(files):
    limits = Settings(max_rows=10, max_zip_members=5, max_file_bytes=1_000)
    result = check(files["valid"], settings=limits)
    assert short(result.findings) == [("file_too_large", None, None, None)]
    assert "dung lượng tệp (byte)" in result.findings[0].message
    result = check(files["valid"], settings=Settings(max_zip_members=5))
    assert "số phần tử trong tệp nén (9 > 5)" in result.findings[0].message
    result = check(files["valid"], settings=Settings(max_rows=10))
    assert short(result.findings) == [("sheet_too_large", "Báo cáo", "A11", None)]


def test_settings_come_from_the_environment_unless_given(monkeypatch):
    monkeypatch.setenv("THIDUA_MAX_ROWS", "77")
    assert Settings().max_rows == 77
    assert Settings(max_rows=5).max_rows == 5
    assert Settings().max_cols == 1_000


# --- passwords ---------------------------------------------------------------------------


def test_right_password_opens_the_encrypted_workbook(files):
    result = check(files["encrypted"], password=hostile.PASSWORD)
    assert (result.kind, result.ok, result.findings) == ("xlsx", True, [])
    assert result.sheet_extents == {"Báo cáo": (30, 12)}
    assert result.workbook.data[:4] == b"PK\x03\x04"


def test_wrong_password_is_a_finding(files):
    result = check(files["encrypted"], password="0000")
    assert (result.kind, short(result.findings)) == (
        "encrypted",
        [("file_bad_password", None, None, None)],
    )
    assert result.findings[0].message == "Không mở được tệp bằng mật khẩu đã cho."


def test_decrypt_directly(files):
    data = files["encrypted"].read_bytes()
    wrong = decrypt(data, "", name="x.xlsx")
    assert (wrong.ok, wrong.data, short(wrong.findings)) == (
        False,
        None,
        [("file_bad_password", None, None, None)],
    )
    right = decrypt(data, hostile.PASSWORD)
    assert right.ok and precheck(right.data, "x.xlsx").ok
    plain = files["valid"].read_bytes()
    assert decrypt(plain, "x").data == plain  # nothing to decrypt


# --- .xls and .ods written by LibreOffice ------------------------------------------------


@pytest.mark.parametrize(("name", "kind"), [("hai-trang.xls", "xls"), ("hai-trang.ods", "ods")])
def test_libreoffice_files_pass_with_real_extents(name, kind):
    result = check(DATA / name)
    assert (result.kind, result.findings) == (kind, [])
    extents = {"Xã Đông Sơn": (10, 5), "Tổng hợp": (3, 2)}
    assert result.sheet_extents == extents
    book = result.workbook.open_calamine()
    read = {n: (s.height, s.width) for n in book.sheet_names for s in [book.get_sheet_by_name(n)]}
    assert read == extents


def test_xls_limits_apply():
    result = precheck((DATA / "hai-trang.xls").read_bytes(), "x.xls", Settings(max_rows=5))
    assert short(result.findings) == [("sheet_too_large", "Xã Đông Sơn", "A6", None)]


def test_word_97_document_is_not_a_workbook():
    # an OLE file without a Workbook stream: make one by renaming the stream of our .xls
    data = bytearray((DATA / "hai-trang.xls").read_bytes())
    name = "Workbook".encode("utf-16-le")
    at = data.index(name)
    data[at : at + len(name)] = "Wordbook".encode("utf-16-le")
    result = precheck(bytes(data), "x.doc")
    assert short(result.findings) == [("file_not_workbook", None, None, None)]
    assert "tệp Office không phải bảng tính" in result.findings[0].message


# --- the gate ------------------------------------------------------------------------------


def test_a_checked_workbook_cannot_be_made_by_hand():
    with pytest.raises(TypeError, match="precheck"):
        CheckedWorkbook("x.xlsx", "xlsx", b"PK", {})


def test_openpyxl_opens_only_checked_ooxml(files):
    wb = check(files["valid"]).workbook.open_openpyxl()
    try:
        assert wb.sheetnames == ["Báo cáo"]
    finally:
        wb.close()
    with pytest.raises(ValueError, match="openpyxl"):
        check(DATA / "hai-trang.ods").workbook.open_openpyxl()


def test_precheck_never_raises_on_random_damage(files):
    data = files["valid"].read_bytes()
    for cut in range(0, len(data), 97):
        damaged = data[:cut] + bytes([data[cut] ^ 0x5A]) + data[cut + 1 :]
        result = precheck(damaged, "x.xlsx")  # must not raise
        assert result.ok or result.findings


def test_small_workbook_precheck_is_fast(files):
    data = files["valid"].read_bytes()
    settings = Settings()
    precheck(data, "x.xlsx", settings)
    runs = 200
    start = time.process_time()
    for _ in range(runs):
        precheck(data, "x.xlsx", settings)
    per_file = (time.process_time() - start) / runs
    # about 0.4 ms of CPU on the development machine; the bound only catches a regression
    assert per_file < 0.003, f"{per_file * 1e6:.0f} µs per file"


def test_bytes_like_input_is_accepted(files):
    data = files["valid"].read_bytes()
    assert precheck(io.BytesIO(data).getbuffer(), "x.xlsx").ok


# --- only the sheets a reader reads (precheck(…, sheets=…)) --------------------------------

FAR = [("A1", "Hướng dẫn"), ("XFD1048576", 1)]


def two_sheets() -> dict[str, str | bytes]:
    """A report and an instructions sheet holding a cell no reader survives."""
    report = sheet_xml([("A1", "Mã"), ("B2", 5)])
    return xlsx_parts({"Báo cáo": report, "Hướng dẫn": sheet_xml(FAR)})


def report_only(sheet: str) -> bool:
    return sheet != "Hướng dẫn"


def open_instructions(path: str) -> str:
    """In a child: pre-check for the report only, then ask for the instructions sheet."""
    from workbooks.precheck import SheetNotChecked

    result = precheck(Path(path).read_bytes(), "x.xlsx", sheets=report_only)
    book = result.workbook.open_calamine()
    refused = []
    for ask in (lambda: book.get_sheet_by_name("Hướng dẫn"), lambda: book.get_sheet_by_index(1)):
        try:
            ask()
        except SheetNotChecked:
            refused.append("SheetNotChecked")
    return " ".join(refused)


def test_only_the_sheets_a_reader_reads_are_measured(tmp_path):
    path = write_zip(tmp_path / "x.xlsx", two_sheets())
    assert short(check(path).findings) == [("sheet_too_large", "Hướng dẫn", "XFD1048576", None)]
    result = check(path, sheets=report_only)
    assert (result.ok, result.sheet_extents, result.readable) == (
        True,
        {"Báo cáo": (2, 2)},
        {"Báo cáo"},
    )
    book = result.workbook.open_calamine()
    assert book.sheet_names == ["Báo cáo", "Hướng dẫn"]
    assert book.get_sheet_by_name("Báo cáo").to_python() == [["Mã", ""], ["", 5.0]]
    with pytest.raises(ValueError, match="sheets=None"):
        result.workbook.open_openpyxl()


def test_a_sheet_not_measured_never_reaches_calamine(tmp_path):
    # in a child: had calamine been given the far cell, it would have aborted the process
    path = write_zip(tmp_path / "x.xlsx", two_sheets())
    result = run_isolated(open_instructions, str(path))
    assert (result.findings, result.value) == ([], "SheetNotChecked SheetNotChecked")


def _retarget(parts, old, new):
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(old, new)


def _rename(parts, old, new):
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(old, new)


UNUSUAL = {
    # python-calamine reads xl/worksheets/sheet2.xml, the package rules xl/xl/worksheets/…
    "target-with-xl": lambda p: _retarget(p, "worksheets/sheet2.xml", "xl/worksheets/sheet2.xml"),
    "target-up-a-folder": lambda p: _retarget(p, "worksheets/sheet2", "../xl/worksheets/sheet2"),
    "external-target": lambda p: _retarget(
        p, 'Target="worksheets/sheet2.xml"', 'Target="worksheets/sheet2.xml" TargetMode="External"'
    ),
    "two-ids": lambda p: _rename(p, 'r:id="rId1"', 'r:id="rId1" x:id="rId2"'),
    "single-quotes": lambda p: _rename(p, 'r:id="rId1"', "r:id='rId1'"),
    "entity-in-name": lambda p: _rename(p, "Báo cáo", "Báo cáo &amp; số liệu"),
    "names-differ-by-case": lambda p: _rename(p, "Báo cáo", "HƯỚNG DẪN"),
    # a parser normalizing attribute values would call it "Hướng dẫn": which one is read?
    "newline-in-name": lambda p: _rename(p, "Báo cáo", "Hướng\ndẫn"),
    "sheet-in-a-comment": lambda p: _rename(
        p, "</sheets>", '</sheets><!-- <sheet name="Hướng dẫn" sheetId="3" r:id="rId1"/> -->'
    ),
    # openpyxl follows the package to xl/book.xml, python-calamine opens xl/workbook.xml
    "second-workbook-part": lambda p: p.update(
        {
            "_rels/.rels": p["_rels/.rels"].replace("xl/workbook.xml", "xl/book.xml"),
            "xl/book.xml": p["xl/workbook.xml"],
        }
    ),
}


@pytest.mark.parametrize("change", sorted(UNUSUAL))
def test_unusual_packages_are_measured_whole(tmp_path, change):
    # where readers could map a sheet name to another part, every sheet is measured
    parts = two_sheets()
    UNUSUAL[change](parts)
    result = check(write_zip(tmp_path / "x.xlsx", parts), sheets=report_only)
    assert [f.code for f in result.findings] == ["sheet_too_large"]
    assert result.readable is None


def test_sheets_argument_is_ignored_for_xls_and_ods():
    # their readers parse every sheet on opening: every sheet is measured
    for name in ("hai-trang.xls", "hai-trang.ods"):
        result = check(DATA / name, sheets=lambda s: False)
        assert (len(result.sheet_extents), result.readable) == (2, None)


# --- what the pre-check hands on, and what it keeps between files --------------------------


def test_parts_handed_on_are_the_stored_bytes(files):
    data = hostile.report_bytes(hostile.UNITS["valid_a"])
    result = precheck(data, "x.xlsx", sheets=lambda s: True)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            assert result.workbook.part(name) == zf.read(name), name
    assert result.workbook.part("xl/none.xml") == b""


def test_a_damaged_part_handed_on_fails_its_crc(tmp_path):
    parts = xlsx_parts({"S": sheet_xml([("A1", "x" * 200)])})
    data = bytearray(write_zip(tmp_path / "x.xlsx", parts).read_bytes())
    # the central directory's CRC of the sheet, 16 bytes into its entry
    entry = data.rindex(b"PK\x01\x02", 0, data.rindex(b"xl/worksheets/sheet1.xml"))
    data[entry + 16] ^= 0xFF
    result = precheck(bytes(data), "x.xlsx", sheets=lambda s: True)
    with pytest.raises(zipfile.BadZipFile, match="CRC"):
        result.workbook.part("xl/worksheets/sheet1.xml")
    assert result.workbook.part("xl/workbook.xml").startswith(b"<?xml")


@pytest.mark.parametrize("padding", [990, 1000, 1005, 1010, 1020])
def test_a_root_element_cut_by_the_first_bytes_read_is_still_found(tmp_path, padding):
    # a part nobody names, rooted in <worksheet> just where the first bytes read end
    xml = sheet_xml([("A1", 1), ("B200000", 1)]).replace(
        "?>\n<worksheet", "?>" + " " * padding + "<worksheet"
    )
    parts = xlsx_parts({"S": sheet_xml([("A1", 1)])})
    parts["xl/data/a.xml"] = xml
    result = check(write_zip(tmp_path / "x.xlsx", parts), sheets=lambda s: True)
    assert short(result.findings) == [("sheet_too_large", "xl/data/a.xml", "B200000", None)]


def test_doctype_behind_a_short_comment_is_refused(tmp_path):
    xml = '<?xml version="1.0"?><!--' + "x" * 3000 + '--><!DOCTYPE a [<!ENTITY b "c">]><a/>'
    parts = xlsx_parts({"S": sheet_xml([("A1", 1)])})
    parts["xl/theme/theme1.xml"] = xml
    result = check(write_zip(tmp_path / "x.xlsx", parts), sheets=lambda s: True)
    assert short(result.findings) == [("file_dangerous_xml", None, None, "xl/theme/theme1.xml")]
    assert "khai báo DOCTYPE" in result.findings[0].message


def test_what_is_kept_between_files_is_kept_by_content(tmp_path):
    # a batch repeats parts byte for byte; a part one byte apart is checked again
    clean = xlsx_parts({"S": sheet_xml([("A1", 1)])})
    clean["xl/styles.xml"] = '<?xml version="1.0"?>            <styleSheet/>'
    dangerous = dict(clean)
    dangerous["xl/styles.xml"] = '<?xml version="1.0"?><!DOCTYPE a><styleSheet/>'  # same size
    ok, bad = write_zip(tmp_path / "ok.xlsx", clean), write_zip(tmp_path / "bad.xlsx", dangerous)
    for _ in range(2):
        assert check(ok, sheets=lambda s: True).ok
        assert [f.code for f in check(bad, sheets=lambda s: True).findings] == [
            "file_dangerous_xml"
        ]


def test_the_quick_directory_reading_agrees_with_zipfile(files):
    # plain archives are read without zipfile; whatever is read must be what zipfile reads
    from workbooks.precheck import _plain_directory

    attrs = ("filename", "orig_filename", "file_size", "compress_size", "compress_type")
    attrs += ("flag_bits", "header_offset", "CRC")
    datas = [p.read_bytes() for p in files.values() if p.read_bytes()[:2] == b"PK"]
    valid = files["valid"].read_bytes()
    datas += [
        valid[:cut] + bytes([valid[cut] ^ 0x5A]) + valid[cut + 1 :]
        for cut in range(len(valid) - 300, len(valid))
    ]
    read = 0
    for data in datas:
        quick = _plain_directory(data)
        if quick is None:
            continue
        read += 1
        slow = zipfile.ZipFile(io.BytesIO(data)).infolist()  # must not raise either
        assert [[getattr(i, a) for a in attrs] for i in quick] == [
            [getattr(i, a) for a in attrs] for i in slow
        ]
        assert [i.is_dir() for i in quick] == [i.is_dir() for i in slow]
    assert read > 100
