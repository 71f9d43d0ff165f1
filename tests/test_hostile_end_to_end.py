"""Hostile and broken inputs end to end: no crash, no hang, nothing lost, nothing let in.

The corpus is every file of ``tests/hostile.py`` (hostile files, reports carrying hazards,
an ``.eml`` cut mid-attachment) plus two valid reports. It goes through ``validate_files``
(with annotated copies) and ``thidua consolidate`` in a child process (its process tree's
memory polled, its time bounded, each read under a small ``parse_timeout_s``); encrypted
reports through ``--password`` and ``--passwords``. Every input ends in a stated state,
every record is counted once, text from inputs never becomes a formula, a link or a control
character in an output, and no input is modified. The add-in's check button gets the same
corpus in ``tests/addin/test_hostile_addin.py`` (it needs the add-in's server fixture).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import re
import sys
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import psutil
import pytest

from logic.findings import CATALOG
from tests import hostile
from workbooks.cli import main
from workbooks.consolidate import consolidate
from workbooks.validate import validate_files

ROOT = Path(__file__).resolve().parents[1]
PLAN_ID = hostile.PLAN_ID
PARSE_TIMEOUT_S = 10
RUN_BUDGET_S = 90  # the whole consolidate run: 10-15 s measured on 2 busy cores
MEMORY_BUDGET = 1024**3  # the consolidate process tree, workers included
POLL_S = 0.05
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_ESCAPE = re.compile(r"_x00[01][0-9A-Fa-f]_")  # how OOXML stores a control character
MARKERS = ("evil", "example.invalid", hostile.FORMULA_NOTE)  # input text that looks like code
STATUSES = ("accepted", "rejected", "superseded", "ignored")

# corpus name → (status, a finding code its file must carry, or None for none at all)
EXPECTED: dict[str, tuple[str, str | None]] = {
    "valid": ("ignored", "not_a_report"),  # a workbook, but no report of the plan
    "zip_bomb": ("rejected", "file_too_large"),
    "far_cell": ("rejected", "sheet_too_large"),
    "wide_box": ("rejected", "sheet_too_large"),
    "implicit_far": ("rejected", "sheet_too_large"),
    "billion_laughs": ("rejected", "file_dangerous_xml"),
    "external_entity": ("rejected", "file_dangerous_xml"),
    "utf16_doctype": ("rejected", "file_dangerous_xml"),
    "encrypted": ("rejected", "file_encrypted"),
    "truncated": ("rejected", "file_unreadable"),
    "renamed_text": ("rejected", "file_not_workbook"),
    "renamed_html": ("rejected", "file_not_workbook"),
    "empty": ("rejected", "file_not_workbook"),
    "pdf": ("rejected", "file_not_workbook"),
    "no_content_types": ("rejected", "file_unreadable"),
    "many_sheets": ("rejected", "file_too_large"),
    "macro": ("ignored", "file_macros"),  # read (macros never run), but not a report
    "path_traversal": ("rejected", "file_path_traversal"),
    "formula_injection": ("ignored", "not_a_report"),
    "ods_repeated": ("rejected", "sheet_too_large"),
    "nfd": ("accepted", None),
    "tcvn3": ("accepted", "legacy_encoding"),
    "formula_text": ("accepted", "unit_name_mismatch"),
    "control_chars": ("accepted", "value_text_number"),
    "control_chars_raw": ("accepted", "value_text_number"),
    "date_panic": ("ignored", "not_a_report"),  # its sheet unreadable, said so, no crash
    "encrypted_report": ("rejected", "file_encrypted"),
    "encrypted_own_password": ("rejected", "file_encrypted"),
    "valid_a": ("accepted", None),
    "valid_b": ("accepted", None),
}
# the .eml: the message itself and each attachment, one record each
MAIL_RECORDS = {
    None: ("rejected", "email_corrupt"),
    "Báo cáo Đông Vệ.xlsx": ("rejected", "email_corrupt"),
    "Báo cáo Ngọc Trạo.xlsx": ("accepted", None),
}
# reports whose figures must reach the results exactly: name → (seed of its figures, the
# first ratio's numerator when the report changed it); the unit is ``hostile.UNITS[name]``
READ_CORRECTLY = {
    "valid_a": (0, None),
    "valid_b": (9, None),
    "nfd": (1, None),
    "tcvn3": (2, None),
    "formula_text": (3, None),
    "control_chars": (4, 7),  # typed "<control characters>7"
    "control_chars_raw": (8, 7),
}
ENCRYPTED_SEEDS = {"encrypted_report": 5, "encrypted_own_password": 6}


# --- the corpus -----------------------------------------------------------------------------


@dataclass
class Corpus:
    folder: Path
    files: dict[str, Path]
    hashes: dict[Path, tuple[str, int]]

    def assert_untouched(self) -> None:
        """Every input has the bytes and the modification time it was written with."""
        assert _fingerprints(self.folder) == self.hashes


def _fingerprints(folder: Path) -> dict[Path, tuple[str, int]]:
    return {
        p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    folder = tmp_path_factory.mktemp("corpus")
    files = hostile.write_corpus(folder)
    files["valid_a"] = hostile.write_report(
        folder, "phuong-ham-rong.xlsx", hostile.UNITS["valid_a"]
    )
    files["valid_b"] = hostile.write_report(
        folder, "phuong-dong-tho.xlsx", hostile.UNITS["valid_b"], seed=9
    )
    assert set(files) == set(EXPECTED) | {"mail_truncated"}
    assert sorted(folder.iterdir()) == sorted(files.values())  # nothing else in the folder
    return Corpus(folder, files, _fingerprints(folder))


def expected_components(seed: int, numerator: int | None = None) -> dict[str, dict[str, float]]:
    """The figures of ``hostile.report_values(seed)``, as readers and results state them."""
    plan, _roster = hostile.plan_and_roster()
    values = hostile.report_values(seed)
    if numerator is not None:
        ratio = next(i.code for i in plan.reported_indicators if i.kind == "ratio")
        values[ratio]["numerator"] = numerator
    return {
        ind: {c: 1.0 if v == "Có" else float(v) for c, v in comps.items()}
        for ind, comps in values.items()
    }


def records_by_file(summary: dict, corpus: Corpus) -> dict[str, list[dict]]:
    """Corpus name → the input records of its file (every record belongs to one file)."""
    names = {str(p): n for n, p in corpus.files.items()}
    out: dict[str, list[dict]] = {n: [] for n in corpus.files}
    for rec in summary["inputs"]:
        assert rec["path"] in names, f"a record for an unknown input: {rec}"
        out[names[rec["path"]]].append(rec)
    return out


def assert_accounted(summary: dict, inputs: list[Path]) -> None:
    """Inputs in = accepted + rejected + superseded + ignored; each input has its records."""
    records = summary["inputs"]
    counts = {s: sum(r["status"] == s for r in records) for s in STATUSES}
    assert all(r["status"] in STATUSES for r in records)
    expected = sum(len(MAIL_RECORDS) if p.suffix == ".eml" else 1 for p in inputs)
    assert sum(counts.values()) == len(records) == expected
    assert {r["path"] for r in records} == {str(p) for p in inputs}


def codes_of(summary: dict, path: Path, member: str | None = None) -> set[str]:
    return {
        f["code"]
        for f in summary["findings"]
        if f["path"] == str(path) and (member is None or f["member"] == member)
    }


# --- 1. validate_files, with annotated copies -----------------------------------------------


@pytest.fixture(scope="module")
def validated(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("kiem-tra")
    results = {}
    for name, path in corpus.files.items():
        started = time.perf_counter()
        result = validate_files([path], plan_ref=PLAN_ID, feedback_dir=out / name)
        results[name] = (result, time.perf_counter() - started)
    return results


def test_validate_states_every_file(corpus, validated):
    for name, (result, elapsed) in validated.items():
        status, code = EXPECTED.get(name, ("rejected", "file_not_workbook"))  # .eml: no book
        assert elapsed < PARSE_TIMEOUT_S, name
        assert [i["status"] for i in result.inputs] == [status], name
        codes = {f.code for f in result.findings}
        assert codes <= set(CATALOG)
        if code is None:
            assert not any(f.severity == "error" for f in result.findings), name
        else:
            assert code in codes, (name, codes)
        assert result.exit_code == (1 if status == "rejected" else 0), name
        assert len(result.feedback) == 1 and result.feedback[0].exists(), name
    corpus.assert_untouched()


def test_validate_reads_the_hazardous_reports_correctly(validated):
    for name, (seed, numerator) in READ_CORRECTLY.items():
        [report] = validated[name][0].reports
        unit = hostile.UNITS[name]
        assert (report.unit, report.phase) == (unit, hostile.PHASE)
        assert report.values == expected_components(seed, numerator), name
        if name != "formula_text":
            assert report.unit_name == hostile.unit_name(unit)
    nfd = validated["nfd"][0].reports[0]
    assert unicodedata.is_normalized("NFC", nfd.unit_name)
    tcvn3 = validated["tcvn3"][0].reports[0]
    assert tcvn3.prepared_by == "Lê Thị Hương"
    for name in ("control_chars", "control_chars_raw"):
        assert validated[name][0].reports[0].prepared_by == "Lê Thị Hương"


def test_validate_survives_a_date_the_reader_panics_on(corpus, validated):
    # python-calamine panics (pyo3's PanicException, a BaseException) on a date cell
    # holding -10¹²: the sheet is lost, with its reason, and nothing else
    result, _elapsed = validated["date_panic"]
    assert result.inputs[0]["reason"] == "không đọc được trang (PanicException)"
    assert result.feedback[0].exists()


@pytest.mark.libreoffice
def test_validate_survives_the_same_date_in_an_xls(corpus, soffice, tmp_path):
    # in an .xls the feedback copy is made by python-calamine too: it panics there as well
    [xls] = soffice.convert(corpus.files["date_panic"], "xls", tmp_path / "xls")
    result = validate_files([xls], plan_ref=PLAN_ID, feedback_dir=tmp_path / "kiem-tra")
    assert [(i["status"], i["reason"]) for i in result.inputs] == [
        ("ignored", "không đọc được trang (PanicException)")
    ]
    [copy] = result.feedback
    assert openpyxl.load_workbook(copy).sheetnames == ["Kết quả kiểm tra"]
    corpus.assert_untouched()


def test_feedback_copies_keep_formula_text_as_text(validated):
    [copy] = validated["formula_text"][0].feedback
    wb = openpyxl.load_workbook(copy)
    report = wb[wb.sheetnames[1]]
    name, note = report["G10"], report["J17"]
    assert (name.value, name.data_type, name.hyperlink) == (hostile.FORMULA_NAME, "s", None)
    assert (note.value, note.data_type, note.hyperlink) == (hostile.FORMULA_NOTE, "s", None)
    quoting = [c for c in _text_cells(wb) if hostile.FORMULA_NAME in c.value]
    assert len(quoting) >= 2  # the cell itself and the finding that quotes it
    for cell in quoting:
        assert (cell.data_type, cell.hyperlink) == ("s", None), cell.coordinate


def test_feedback_copies_are_safe_packages(validated):
    for name, (result, _elapsed) in validated.items():
        [copy] = result.feedback
        # the copied cells keep what the sender typed (an escaped control character
        # included); what we write ourselves never holds one
        assert_safe_package(copy, MARKERS, escapes=name == "control_chars")
        wb = openpyxl.load_workbook(copy)
        for cell in _text_cells_of(wb["Kết quả kiểm tra"]):
            assert not CONTROL.search(cell.value), (name, cell.coordinate, cell.value)
            assert not CONTROL_ESCAPE.search(cell.value), (name, cell.coordinate, cell.value)
        for ws in wb.worksheets:
            for link in ws._hyperlinks:  # only the findings list's links to cells
                assert link.target is None and link.location, (name, link)
        assert [p.name for p in copy.parent.iterdir()] == [copy.name], "a temporary file left"


# --- 2. thidua consolidate in a child process -----------------------------------------------


@dataclass
class Run:
    code: int
    summary: dict
    stdout: str
    stderr: str
    tally: Path
    peak_bytes: int
    elapsed_s: float


def run_measured(argv: list[str], env: dict[str, str], workdir: Path, budget_s: float) -> tuple:
    """Run ``thidua`` in a child process; poll its tree's memory; (code, out, err, peak, s)."""
    out, err = workdir / "stdout.txt", workdir / "stderr.txt"
    code = "import sys; from workbooks.cli import main; sys.exit(main(sys.argv[1:]))"
    started = time.perf_counter()
    with out.open("wb") as o, err.open("wb") as e:
        proc = psutil.Popen([sys.executable, "-c", code, *argv], cwd=ROOT, env=env, stdout=o,
                            stderr=e)  # fmt: skip
        peak = 0
        try:
            while proc.poll() is None:
                peak = max(peak, _tree_rss(proc))
                if time.perf_counter() - started > budget_s:
                    pytest.fail(f"thidua still running after {budget_s} s")
                time.sleep(POLL_S)
        finally:
            if proc.poll() is None:  # overran: stop the whole tree, workers included
                with contextlib.suppress(psutil.Error):
                    for child in proc.children(recursive=True):
                        child.kill()
                proc.kill()
                proc.wait(10)
    elapsed = time.perf_counter() - started
    return proc.returncode, out.read_text("utf-8"), err.read_text("utf-8"), peak, elapsed


def _tree_rss(proc: psutil.Process) -> int:
    """RSS of a process and all its descendants (shared pages counted in each: an upper bound)."""
    total = 0
    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in family:
        with contextlib.suppress(psutil.Error):  # ended between the listing and the reading
            total += p.memory_info().rss
    return total


def child_env(tmp: Path) -> dict[str, str]:
    """This environment without THIDUA_* settings, a small read budget, a fresh cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THIDUA_")}
    env.update(THIDUA_PARSE_TIMEOUT_S=str(PARSE_TIMEOUT_S), THIDUA_CACHE_DIR=str(tmp / "cache"))
    return env


@pytest.fixture(scope="module")
def consolidated(corpus, tmp_path_factory) -> Run:
    tmp = tmp_path_factory.mktemp("tong-hop")
    out_dir = tmp / "ket-qua"
    out_dir.mkdir()
    tally, js = out_dir / "tong-hop.xlsx", out_dir / "tong-hop.json"
    argv = ["consolidate", str(corpus.folder), "--plan", PLAN_ID, "--out", str(tally)]
    argv += ["--json", str(js), "--workers", "2"]
    code, out, err, peak, elapsed = run_measured(argv, child_env(tmp), tmp, RUN_BUDGET_S)
    summary = json.loads(js.read_text("utf-8")) if js.exists() else {}
    return Run(code, summary, out, err, tally, peak, elapsed)


def test_consolidate_survives_the_corpus_within_its_budgets(consolidated):
    run = consolidated
    assert run.code == 1, run.stderr[-3000:]  # some inputs rejected, some used
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.elapsed_s < RUN_BUDGET_S
    assert 0 < run.peak_bytes < MEMORY_BUDGET, f"peak {run.peak_bytes / 2**20:.0f} MB"
    codes = {f["code"] for f in run.summary["findings"]}
    # no read overran its parse_timeout_s, none killed its worker
    assert not codes & {"parse_timeout", "parse_crashed"}, codes
    assert codes <= set(CATALOG)
    print(f"consolidate: {run.elapsed_s:.1f} s, peak {run.peak_bytes / 2**20:.0f} MB (tree RSS)")


def test_consolidate_accounts_for_every_input(corpus, consolidated):
    summary = consolidated.summary
    assert_accounted(summary, [p for p in corpus.files.values()])
    by_file = records_by_file(summary, corpus)
    for name, (status, code) in EXPECTED.items():
        [rec] = by_file[name]
        assert rec["status"] == status, (name, rec)
        path = corpus.files[name]
        if code is not None:
            assert code in codes_of(summary, path), (name, codes_of(summary, path))
        if status == "rejected":
            assert rec["reason"], name
        if status == "accepted":
            unit = hostile.UNITS.get(name)
            assert (rec["unit"], rec["phase"]) == (unit, hostile.PHASE), name
    mail = corpus.files["mail_truncated"]
    got = {r["member"]: r["status"] for r in by_file["mail_truncated"]}
    assert got == {m: s for m, (s, _code) in MAIL_RECORDS.items()}
    for member, (_status, code) in MAIL_RECORDS.items():
        if code is not None:
            assert code in codes_of(summary, mail, member), member
    # the console summary says the same
    counts = {s: sum(r["status"] == s for r in summary["inputs"]) for s in STATUSES}
    line = next(ln for ln in consolidated.stdout.splitlines() if ln.startswith("Đầu vào:"))
    assert (
        f"{counts['accepted']} được dùng, {counts['rejected']} bị từ chối, "
        f"{counts['superseded']} bị thay thế, {counts['ignored']} bỏ qua"
    ) in line


def test_a_date_the_reader_panics_on_costs_its_sheet_not_the_run(corpus, consolidated):
    [rec] = records_by_file(consolidated.summary, corpus)["date_panic"]
    assert rec["reason"] == "không đọc được trang (PanicException)"


def test_encrypted_without_password_is_refused_with_the_advice_to_remove_it(corpus, consolidated):
    for name in ("encrypted", "encrypted_report", "encrypted_own_password"):
        [f] = [
            f
            for f in consolidated.summary["findings"]
            if f["path"] == str(corpus.files[name]) and f["code"] == "file_encrypted"
        ]
        assert f["message"] == "Tệp được đặt mật khẩu nên không đọc được."
        assert "gỡ mật khẩu" in f["hint"] and "--password" in f["hint"]


def test_the_figures_of_every_readable_report_are_in_the_results(corpus, consolidated):
    results = commune_results(consolidated.summary)
    for name, (seed, numerator) in READ_CORRECTLY.items():
        unit = hostile.UNITS[name]
        for ind, components in expected_components(seed, numerator).items():
            assert results[(unit, hostile.PHASE, ind)] == components, (name, ind)
    status = {
        (r["unit"], r["indicator"]): r["status"]
        for r in consolidated.summary["results"]
        if r["phase"] == hostile.PHASE
    }
    assert status[(hostile.UNITS["mail_kept"], "CT01")] in ("met", "missed")
    for lost in ("mail_cut", "encrypted_report", "encrypted_own_password"):
        assert status[(hostile.UNITS[lost], "CT01")] == "no_data", lost  # never counted as 0


def test_tally_keeps_text_from_inputs_as_plain_text(consolidated):
    tally = consolidated.tally
    assert sorted(p.name for p in tally.parent.iterdir()) == ["tong-hop.json", tally.name]
    assert_safe_package(tally, MARKERS, escapes=False)
    wb = openpyxl.load_workbook(tally, read_only=True)
    quoting = [
        cell
        for name in ("Kết quả kiểm tra", "Nguồn")
        for row in wb[name].iter_rows()
        for cell in row
        if isinstance(cell.value, str) and hostile.FORMULA_NAME in cell.value
    ]
    wb.close()
    assert quoting, "the unit-name finding quotes the formula-looking text"
    assert all(cell.data_type == "s" for cell in quoting)


# --- passwords --------------------------------------------------------------------------


def consolidate_in_process(inputs: list[Path], out: Path, *extra: str) -> tuple[int, dict]:
    js = out.with_suffix(".json")
    code = main(["consolidate", *map(str, inputs), "--plan", PLAN_ID, "--out", str(out),
                 "--json", str(js), "--workers", "2", *extra])  # fmt: skip
    summary = json.loads(js.read_text("utf-8"))
    assert_accounted(summary, inputs)
    return code, summary


def commune_results(summary: dict) -> dict[tuple[str, str, str], dict]:
    """(unit, phase, indicator) → components, for every commune result of a summary."""
    return {
        (r["unit"], r["phase"], r["indicator"]): r["components"]
        for r in summary["results"]
        if r["level"] == "commune"
    }


def assert_figures(summary: dict, name: str) -> None:
    results = commune_results(summary)
    for ind, components in expected_components(ENCRYPTED_SEEDS[name]).items():
        assert results[(hostile.UNITS[name], hostile.PHASE, ind)] == components, (name, ind)


def status_of(summary: dict, path: Path) -> tuple[str, set[str]]:
    [rec] = [r for r in summary["inputs"] if r["path"] == str(path)]
    return rec["status"], codes_of(summary, path)


def test_password_opens_the_encrypted_report(corpus, tmp_path):
    mine, other = corpus.files["encrypted_report"], corpus.files["encrypted_own_password"]
    inputs = [mine, other, corpus.files["valid_a"]]
    code, summary = consolidate_in_process(inputs, tmp_path / "o.xlsx", "--password",
                                           hostile.PASSWORD, "--no-cache")  # fmt: skip
    assert code == 1
    assert status_of(summary, mine) == ("accepted", set())
    assert status_of(summary, other) == ("rejected", {"file_bad_password"})
    assert_figures(summary, "encrypted_report")
    corpus.assert_untouched()


def test_per_file_password_list_written_by_notepad(corpus, tmp_path):
    mine = corpus.files["encrypted_report"]
    # the other one saved from a Mac: its name on disk is NFD, the list's is typed NFC
    shown = "Báo cáo Ba Đình.xlsx"
    other = tmp_path / unicodedata.normalize("NFD", shown)
    other.write_bytes(corpus.files["encrypted_own_password"].read_bytes())
    passwords = tmp_path / "mat-khau.txt"
    lines = [f"{mine.name}\t{hostile.PASSWORD}", f"{shown}\t{hostile.OWN_PASSWORD}"]
    passwords.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")  # Notepad: BOM, CRLF
    code, summary = consolidate_in_process(
        [mine, other], tmp_path / "o.xlsx", "--passwords", str(passwords), "--no-cache"
    )
    assert code == 0
    assert status_of(summary, mine) == ("accepted", set())
    assert status_of(summary, other) == ("accepted", set())
    assert_figures(summary, "encrypted_report")
    assert_figures(summary, "encrypted_own_password")
    corpus.assert_untouched()


def test_right_password_after_a_wrong_one_is_not_refused_from_the_cache(corpus, tmp_path):
    plan, roster = hostile.plan_and_roster()
    mine = corpus.files["encrypted_report"]
    runs = [
        consolidate([mine], plan, roster, cache_dir=tmp_path, passwords={"*0": pw}, workers=1)
        for pw in ("sai", hostile.PASSWORD)
    ]
    for run in runs:
        assert_accounted(run.summary(), [mine])
    wrong, right = (run.summary() for run in runs)
    assert status_of(wrong, mine) == ("rejected", {"file_bad_password"})
    bad = next(f for f in wrong["findings"] if f["code"] == "file_bad_password")
    assert bad["message"] == "Không mở được tệp bằng mật khẩu đã cho."
    assert status_of(right, mine) == ("accepted", set())
    assert_figures(right, "encrypted_report")
    corpus.assert_untouched()


# --- inputs never modified --------------------------------------------------------------


def test_inputs_are_never_modified(corpus, validated, consolidated):
    corpus.assert_untouched()


# --- helpers ----------------------------------------------------------------------------


def _text_cells_of(ws):
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                yield cell


def _text_cells(wb):
    for ws in wb.worksheets:
        yield from _text_cells_of(ws)


_FORMULA = re.compile(rb"<(?:\w+:)?f\b[^>]*>(.*?)</(?:\w+:)?f>", re.S)
_TARGET = re.compile(rb"""\bTarget\s*=\s*["']([^"']*)""")
_HYPERLINK = re.compile(rb"<(?:\w+:)?hyperlink\b([^>]*)>")
_RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_WELL_FORMED_MAX = 4 * 1024 * 1024  # larger parts (the 14 MB commune sheet): bytes only


def assert_safe_package(path: Path, markers: tuple[str, ...], *, escapes: bool) -> None:
    """What Excel would find in an output we wrote.

    Every XML part is well-formed (parts over 4 MB are only searched for raw control
    characters, which are what would break them); no formula, relationship target or
    hyperlink holds a marker (text from inputs); unless ``escapes``, no control character
    is stored in Excel's escaped form (``_x0007_``) either.
    """
    encoded = [html.escape(m, quote=True).encode() for m in markers] + [m.encode() for m in markers]
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if not name.endswith((".xml", ".rels")):
                continue
            raw = zf.read(name)
            assert not _RAW_CONTROL.search(raw), (path.name, name)
            if len(raw) <= _WELL_FORMED_MAX:
                ElementTree.fromstring(raw)
            if not escapes:
                assert not CONTROL_ESCAPE.search(raw.decode("utf-8")), (path.name, name)
            for found in _FORMULA.findall(raw) + _TARGET.findall(raw) + _HYPERLINK.findall(raw):
                assert not any(m in found for m in encoded), (path.name, name, found[:200])
