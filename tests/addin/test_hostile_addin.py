"""The add-in's check button on every readable workbook of the hostile corpus.

``tests/hostile.py`` writes the corpus; the workbooks the pre-check lets through and Excel
can open (here: openpyxl, which builds the payload Office.js would post) go to the real
xlwings Server. The button must answer 200 with actions or 400 with a Vietnamese message,
never 500, and the files are not modified. Skipped while the add-in has no check button.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from pathlib import Path

import openpyxl
import pytest

from tests import hostile
from workbooks.precheck import precheck

CHECK_BUTTON = "kiem_tra_bao_cao"
# built from the project's template: the button checks them (200), whatever they carry
TEMPLATE_REPORTS = ("nfd", "tcvn3", "formula_text", "control_chars")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return hostile.write_corpus(tmp_path_factory.mktemp("corpus"))


def readable(files: dict[str, Path]) -> dict[str, Path]:
    """Workbooks the pre-check lets through and openpyxl (as Excel would) can open."""
    out = {}
    for name, path in files.items():
        data = path.read_bytes()
        pre = precheck(data, path.name)
        if not pre.ok or pre.kind not in ("xlsx", "xlsm"):
            continue
        try:
            openpyxl.load_workbook(io.BytesIO(data))
        except Exception:  # raw control characters are not XML: Excel repairs the file
            continue
        out[name] = path
    return out


def test_check_button_answers_every_readable_workbook(server, book_payload, corpus):
    meta = server.request("GET", "/xlwings/custom-scripts-meta")
    assert meta.status_code == 200
    if CHECK_BUTTON not in [m["function_name"] for m in meta.json()]:
        pytest.skip(f"the add-in has no “{CHECK_BUTTON}” button yet")
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in corpus.values()}
    books = readable(corpus)
    assert {"valid", "macro", "formula_injection", *TEMPLATE_REPORTS} <= set(books)
    answers = {}
    for name, path in books.items():
        response = server.call_script(CHECK_BUTTON, book_payload(path))
        answers[name] = response.status_code
        assert response.status_code in (200, 400), (name, response.status_code, response.text)
        if response.status_code == 200:
            assert response.json()["actions"], name
        else:
            message = response.text
            assert unicodedata.is_normalized("NFC", message), name
            assert re.search("[à-ỹđ]", message.lower()), (name, message)  # Vietnamese
    for name in TEMPLATE_REPORTS:
        assert answers[name] == 200, name
    # the report date python-calamine panics on: openpyxl cannot open that file (it makes
    # a datetime of the number), Excel sends the number as it is
    payload = book_payload(books["nfd"])
    payload["sheets"][0]["values"][11][2] = -1e12  # C12, the report date
    response = server.call_script(CHECK_BUTTON, payload)
    assert response.status_code == 200, response.text
    # outside development the button answers no one without the token
    anonymous = server.call_script(CHECK_BUTTON, book_payload(books["nfd"]), token="")
    assert anonymous.status_code == 401
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in corpus.values()} == before
