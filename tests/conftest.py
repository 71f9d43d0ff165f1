"""Shared fixtures: LibreOffice as a second opinion on the workbooks we write.

``soffice`` (session) finds LibreOffice (``soffice`` or ``libreoffice`` on PATH) and skips
the test when it is absent. ``lo_convert`` converts files headless with a fresh profile per
call that recalculates every formula on load (LibreOffice keeps the stored results of
OOXML files by default, which would prove nothing), and checks that each output exists:
its exit status is 0 even when loading failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

# org.openoffice.Office.Calc/Formula/Load: 0 = always recalculate, 1 = never, 2 = prompt
_RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def find_soffice() -> str | None:
    """The LibreOffice executable on PATH, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def lo_convert(
    src: Path | Sequence[Path],
    fmt: str,
    outdir: Path,
    *,
    binary: str | None = None,
    timeout: float = 240,
) -> list[Path]:
    """Convert one or many files with LibreOffice in one call; return the outputs in order.

    ``fmt`` is LibreOffice's ``--convert-to`` argument ("xlsx", "pdf",
    "xlsx:Calc MS Excel 2007 XML"). Formulas are recalculated on load. Raises
    AssertionError naming the inputs that produced no output.
    """
    binary = binary or find_soffice()
    assert binary, "LibreOffice not found"
    sources = [Path(src)] if isinstance(src, str | os.PathLike) else [Path(s) for s in src]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    ext = fmt.split(":", 1)[0]
    expected = [outdir / f"{s.stem}.{ext}" for s in sources]
    for s, out in zip(sources, expected, strict=True):
        assert s.resolve() != out.resolve(), f"converting {s} onto itself"
        out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(_RECALC_ALWAYS, encoding="utf-8")
        cmd = [
            binary,
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            fmt,
            "--outdir",
            str(outdir),
            *map(str, sources),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    missing = [str(s) for s, out in zip(sources, expected, strict=True) if not out.exists()]
    assert not missing, (
        f"LibreOffice produced no output for {missing}\n{proc.stdout}\n{proc.stderr}"
    )
    return expected


@dataclass(frozen=True)
class LibreOffice:
    """The LibreOffice found on this machine."""

    path: str

    def convert(
        self, src: Path | Sequence[Path], fmt: str, outdir: Path, *, timeout: float = 240
    ) -> list[Path]:
        return lo_convert(src, fmt, outdir, binary=self.path, timeout=timeout)


@pytest.fixture(scope="session")
def soffice() -> LibreOffice:
    """LibreOffice, or skip the test when it is not installed."""
    path = find_soffice()
    if path is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    return LibreOffice(path)
