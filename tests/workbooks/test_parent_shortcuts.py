"""Shortcuts the consolidating process takes 10,000 times a run give what the long way gives.

``consolidate._name_key`` drops only a whole first word, ``FileHashes`` must key a file by its absolute path (a re-run finds its remembered hash),
``intake._head_of`` must give a file's first bytes (they decide what the file is).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbooks.cache import Cache
from workbooks.consolidate import _name_key
from workbooks.intake import HEAD_BYTES, _head_of


def test_name_keys_drop_only_a_whole_first_word():
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
