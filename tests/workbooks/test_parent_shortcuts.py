"""Shortcuts the consolidating process takes 10,000 times a run give what the long way gives.

``consolidate._fold`` must equal ``logic.text.fold`` (it decides ``unit_claims_other``),
``FileHashes`` must key a file by its absolute path (a re-run finds its remembered hash),
``intake._head_of`` must give a file's first bytes (they decide what the file is).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logic.text import fold
from workbooks.cache import Cache
from workbooks.consolidate import _fold, _name_key
from workbooks.intake import HEAD_BYTES, _head_of
from workbooks.rosters import load_roster

VIETNAMESE = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
)
ODD = " \u00a0\t\u200b\u00ad\u0301\u0323-_.%/()\u00d7\u00df\u00e6\u00f8\u0130\u1e9e"
ALPHABET = VIETNAMESE + VIETNAMESE.upper() + "0123456789" + ODD


@pytest.mark.parametrize(
    "text",
    [
        "Phường Phúc Xá",
        "Thị trấn Nông trường Việt Lâm",
        "XÃ ĐỒNG THÁP",
        "bao-cao-00001-phuc-xa-dot-1",
        "Phuo\u031bng Phu\u0301c Xa\u0301",  # decomposed, as a Mac writes file names
        "Xã\u00a0Ea\u200bKao",
        "Tỷ lệ (%)",
        "",
    ],
)
def test_fold_shortcut_equals_fold(text):
    assert _fold(text) == fold(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=30))
def test_fold_shortcut_equals_fold_on_any_mix(text):
    assert _fold(text) == fold(text)


def test_fold_shortcut_equals_fold_on_every_unit_name_of_a_roster():
    names = [u.name for u in load_roster("thanh-hoa").units]
    assert len(names) > 500
    assert [_fold(n) for n in names] == [fold(n) for n in names]
    assert _name_key("Phường Phúc Xá") == "phucxa"
    assert _name_key("Xã Xanh") == "xanh"  # only a whole first word is a prefix


@pytest.mark.parametrize(
    "path",
    [
        "a.xlsx",
        "in/a.xlsx",
        "in/../other/a.xlsx",
        "./in/./a.xlsx",
        "in/sub/",
        "in/..",
        "/tmp/x/a.xlsx",
        "//tmp/x/a.xlsx",
        "/a.xlsx",
    ],
)
def test_remembered_hashes_are_keyed_by_absolute_path(tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    store = Cache.open(tmp_path / "cache")
    try:
        hashes = store.file_hashes([tmp_path])
        assert hashes._key(path) == os.path.abspath(path)
        assert hashes._key(path) == os.path.abspath(path)  # the folder's part kept
    finally:
        store.close()


def test_a_re_run_finds_the_hash_of_a_file_named_relative_to_the_working_folder(
    tmp_path, monkeypatch
):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.xlsx").write_bytes(b"PK\x03\x04 not really")
    old = 10**9 * 1_000_000_000  # long before "seen": not a racy modification
    os.utime(folder / "a.xlsx", ns=(old, old))
    monkeypatch.chdir(tmp_path)
    st_ = os.stat("in/a.xlsx")
    store = Cache.open(tmp_path / "cache")
    try:
        hashes = store.file_hashes(["in"])
        hashes.remember("in/a.xlsx", st_, "ab" * 32, old + 10**10)
        hashes.save()
        again = store.file_hashes([str(folder)])
        assert again.lookup(str(folder / "a.xlsx"), st_) == "ab" * 32
        assert again.lookup("in/./a.xlsx", st_) == "ab" * 32
    finally:
        store.close()


@pytest.mark.parametrize("size", [0, 5, HEAD_BYTES - 1, HEAD_BYTES, 3 * HEAD_BYTES])
def test_the_head_of_a_file_is_its_first_bytes(tmp_path: Path, size):
    data = bytes(range(256)) * (size // 256 + 1)
    path = tmp_path / "f.bin"
    path.write_bytes(data[:size])
    assert _head_of(str(path)) == data[: min(size, HEAD_BYTES)]


def test_the_head_of_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        _head_of(str(tmp_path / "none.xlsx"))
