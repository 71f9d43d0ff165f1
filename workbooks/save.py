"""Save output files atomically: a whole new file or the previous one, never half a file.

The file is written to a temporary name in the target's folder, then moved over the target
with ``os.replace`` (atomic on one file system). On Windows a target open in Excel cannot be
replaced (``PermissionError``): that becomes :class:`FileLockedError` with a Vietnamese
message, the temporary file is removed and the previous file is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from logic.errors import ThiduaError

__all__ = ["FileLockedError", "SaveError", "atomic_write", "save_bytes", "save_workbook"]


class SaveError(ThiduaError):
    """An output file could not be written (message in Vietnamese)."""

    def __init__(self, message: str, path: Path):
        super().__init__(message)
        self.path = path


class FileLockedError(SaveError):
    """The target is open in another program (Excel) or otherwise locked."""


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then move it over ``path``.

    Creates the folder if needed. Raises :class:`FileLockedError` if ``path`` cannot be
    replaced, :class:`SaveError` if the folder cannot be written; any error of ``write``
    propagates. In every failure the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".~{target.name}.{secrets.token_hex(4)}.tmp"
        handle = open(tmp, "xb")  # noqa: SIM115 - closed below, before the rename
    except PermissionError as e:
        raise SaveError(
            f"Không ghi được vào thư mục “{folder}”: không có quyền ghi; hãy chọn thư mục khác.",
            target,
        ) from e
    try:
        with handle:
            write(handle)
        os.replace(tmp, target)
    except PermissionError as e:
        _remove(tmp)
        raise FileLockedError(
            f"Tệp “{target.name}” đang mở trong Excel; hãy đóng tệp hoặc chọn tên khác "
            f"(thư mục: {folder}).",
            target,
        ) from e
    except BaseException:
        _remove(tmp)
        raise
    return target


def _remove(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink()


def save_workbook(wb: Any, path: str | os.PathLike) -> Path:
    """Save an openpyxl workbook (anything with ``save(file)``) atomically to ``path``."""
    return atomic_write(path, wb.save)


def save_bytes(data: bytes, path: str | os.PathLike) -> Path:
    """Write ``data`` atomically to ``path``."""
    return atomic_write(path, lambda f: f.write(data))
