"""Buttons of the add-in: one ``do_x(book)`` each, wrapped for every runtime.

Temporary demo content for the runtime plumbing; the campaign buttons replace it.
``@xw.script def x(book)`` serves xlwings Server and Lite; ``x_macro()`` serves the
classic ribbon (``RunPython "import addin.buttons; addin.buttons.x_macro()"``).
"""

from __future__ import annotations

import xlwings as xw

RESULT_SHEET = "Kết quả"


def do_hello(book: xw.Book) -> None:
    """Write a greeting with a colour and a note, and add a result sheet."""
    cell = book.sheets[0]["A1"]
    cell.value = "Xin chào, đồng chí!"
    cell.color = "#FFF2CC"
    cell.add_note("Ô này do add-in Thi đua ghi.")
    if RESULT_SHEET not in [sheet.name for sheet in book.sheets]:
        book.sheets.add(RESULT_SHEET, after=book.sheets[-1])


@xw.script
def hello(book: xw.Book):
    """Chào hỏi (thử add-in)."""
    do_hello(book)


def hello_macro() -> None:
    """Classic ribbon entry point (no arguments)."""
    do_hello(xw.Book.caller())
