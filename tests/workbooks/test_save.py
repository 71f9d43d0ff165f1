"""Atomic saving: a whole new file or the previous one, never half a file."""

from __future__ import annotations

import os

import openpyxl
import pytest

from logic.errors import ThiduaError
from workbooks.save import FileLockedError, SaveError, save_bytes, save_workbook


def _book(text: str) -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    wb.active["A1"] = text
    return wb


def test_saves_and_replaces(tmp_path):
    target = tmp_path / "sub" / "tong-hop.xlsx"
    assert save_workbook(_book("một"), target) == target
    save_workbook(_book("hai"), target)
    assert openpyxl.load_workbook(target).active["A1"].value == "hai"
    assert sorted(p.name for p in target.parent.iterdir()) == ["tong-hop.xlsx"]


def test_a_failed_write_leaves_the_previous_file(tmp_path):
    target = tmp_path / "tong-hop.xlsx"
    save_workbook(_book("cũ"), target)

    class Broken:
        def save(self, f):
            f.write(b"PK half a zip")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save_workbook(Broken(), target)
    assert openpyxl.load_workbook(target).active["A1"].value == "cũ"
    assert [p.name for p in tmp_path.iterdir()] == ["tong-hop.xlsx"]


def test_a_file_open_in_excel_gives_a_vietnamese_error(tmp_path, monkeypatch):
    # Windows refuses to replace a file Excel holds open; Linux has no such lock, so the
    # refusal is reproduced where it happens: in os.replace
    target = tmp_path / "tong-hop.xlsx"
    save_bytes(b"previous", target)

    def refuse(src, dst):
        raise PermissionError(13, "The process cannot access the file", str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(FileLockedError) as err:
        save_workbook(_book("mới"), target)
    assert isinstance(err.value, ThiduaError)
    assert "Tệp “tong-hop.xlsx” đang mở trong Excel; hãy đóng tệp hoặc chọn tên khác" in str(
        err.value
    )
    assert err.value.path == target
    monkeypatch.undo()
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["tong-hop.xlsx"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_a_read_only_folder_gives_a_vietnamese_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(SaveError, match="Không ghi được vào thư mục"):
            save_bytes(b"x", folder / "a.xlsx")
    finally:
        folder.chmod(0o700)
