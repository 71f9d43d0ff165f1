"""Build ``addin/classic/thidua.xlam``, the classic ribbon add-in, with xlwings' quickstart.

``xlwings quickstart thidua --addin --ribbon`` makes a ``.xlam`` (xlwings' own template:
the xlwings VBA module, a ribbon, a disabled config sheet ``_myaddin.conf``); it runs
without Excel, so it runs here. Its ribbon is replaced by ``addin/classic/customUI.xml``
(the tab "Thi đua"); everything else is copied byte for byte, so the output only changes
with xlwings' template. The ribbon's callbacks live in ``addin/classic/RibbonThiDua.bas``,
which cannot be compiled into the add-in's VBA project without Excel: it is imported once
on the Windows PC (``addin/classic/README.md``). Run::

    uv run python scripts/build_classic_addin.py

``tests/addin/test_classic.py`` rebuilds it and fails if the committed file differs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLASSIC = ROOT / "addin" / "classic"
TARGET = CLASSIC / "thidua.xlam"
RIBBON = "customUI/customUI.xml"


def quickstart(workdir: Path) -> Path:
    """Run ``xlwings quickstart thidua --addin --ribbon`` in ``workdir``; the .xlam's path."""
    cli = shutil.which("xlwings", path=str(Path(sys.executable).parent)) or "xlwings"
    subprocess.run(
        [cli, "quickstart", "thidua", "--addin", "--ribbon"],
        cwd=workdir,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return workdir / "thidua" / "thidua.xlam"


def build(target: Path = TARGET) -> Path:
    """Write the add-in to ``target`` (atomically) and return it."""
    ribbon = (CLASSIC / "customUI.xml").read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        source = quickstart(Path(tmp))
        partial = target.with_name(target.name + ".tmp")
        with zipfile.ZipFile(source) as src, zipfile.ZipFile(partial, "w") as out:
            names = src.namelist()
            if RIBBON not in names:
                raise RuntimeError(f"xlwings' template has no {RIBBON}: {names}")
            for info in src.infolist():
                data = ribbon if info.filename == RIBBON else src.read(info)
                out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
        partial.replace(target)
    return target


def main() -> int:
    print(build())
    return 0


if __name__ == "__main__":
    sys.exit(main())
