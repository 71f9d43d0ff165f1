"""The benchmark's corpus: N filled commune workbooks, half of them saved by LibreOffice.

Workbooks come from the project's own template writer (``workbooks.template``), filled with
``workbooks.demo.figures`` (plausible values per indicator) and a report date inside phase 1,
for the communes of a 3-level roster (``code, name, level, parent_code``, the shared
national list). Every second file is then opened and saved by LibreOffice with formulas
recalculated, so that it carries shared strings and cached formula values the way a file
saved by Excel does.

Generation runs on ``workers`` processes; LibreOffice converts in big batches (200 files),
one ``soffice`` process per batch with its own profile, as many batches at a time as
workers.
The corpus is cached in ``workdir/corpus-n<N>-<key>/``: the key hashes everything that
shapes the files (N, seed, roster file, plan, template and layout sources, this module's
``GENERATOR_VERSION``, with or without LibreOffice), so a second run reuses it and any
change to the template regenerates it.

Communes are taken province by province, largest province first (Thanh Hóa, 549 communes,
then Hà Nội, …): N = 700 is one whole province plus 151 communes of the next; N = 10,051
is the whole country.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GENERATOR_VERSION = "1"
NATIONAL_ROSTER = ROOT.parent / "shared" / "data" / "rosters" / "vn-2025-01-3-levels.csv"
PLAN_ID = "thanh-hoa-2024"
PHASE = "1"
SEED = 2025
# LibreOffice reads OOXML without recalculating unless told to; 0 = always recalculate.
_LO_REGISTRY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

Log = Callable[[str], None]


@dataclass(frozen=True)
class CorpusFile:
    """One workbook of the corpus and the unit it reports for."""

    name: str
    unit: str
    district: str | None
    province: str | None
    libreoffice: bool


@dataclass
class Corpus:
    """A generated corpus on disk (``folder`` holds the workbooks and nothing else)."""

    n: int
    key: str
    folder: Path
    roster_path: Path
    files: list[CorpusFile]
    generated_s: float  # 0 when reused from the cache
    libreoffice_s: float
    libreoffice_failed: int  # files LibreOffice could not convert (kept as written by us)

    @property
    def paths(self) -> list[Path]:
        return [self.folder / f.name for f in self.files]

    @property
    def bytes(self) -> int:
        return sum(p.stat().st_size for p in self.paths)


def national_plan():
    """The bundled Thanh Hóa plan's indicators and phases, without scope or roster."""
    from workbooks.plans import load

    return load(PLAN_ID).model_copy(update={"scope": None, "roster": None})


def load_roster(path: str | os.PathLike):
    from workbooks.rosters import national_roster

    return national_roster(str(path))


def pick_communes(roster_path: Path, n: int) -> list[tuple[str, str | None, str | None]]:
    """``n`` communes as (code, district, province): whole provinces, largest first."""
    from logic.aggregate import phase_tree

    plan = national_plan()
    tree = phase_tree(plan, load_roster(roster_path), PHASE)
    by_province: dict[str | None, list[tuple[str, str | None, str | None]]] = {}
    for code, unit in tree.units.items():
        if unit.level != "commune":
            continue
        up = tree.ancestors(code)
        district = next((c for c in up if tree.units[c].level == "district"), None)
        province = next((c for c in up if tree.units[c].level == "province"), None)
        by_province.setdefault(province, []).append((code, district, province))
    ordered = sorted(by_province.values(), key=len, reverse=True)
    communes = [c for group in ordered for c in group]
    if n > len(communes):
        raise ValueError(f"the roster has {len(communes)} communes, fewer than N = {n}")
    return communes[:n]


def corpus_key(n: int, roster_path: Path, libreoffice: bool, seed: int = SEED) -> str:
    """A short hash of everything that shapes the corpus files.

    The template's version and what the writer actually produces for a sample commune (zip
    members but ``docProps``, which carry the time of writing), rather than its source: a
    refactoring of the writer reuses the corpus, a change to the workbook regenerates it.
    """
    from workbooks.layout import TEMPLATE_VERSION

    h = hashlib.sha256(
        f"{GENERATOR_VERSION}|{TEMPLATE_VERSION}|{n}|{seed}|{libreoffice}|{PLAN_ID}|{PHASE}".encode()
    )
    h.update(roster_path.read_bytes())
    h.update((ROOT / "workbooks" / "data" / "plans" / f"{PLAN_ID}.toml").read_bytes())
    h.update(_sample_workbook(roster_path, seed))
    return h.hexdigest()[:12]


def _sample_workbook(roster_path: Path, seed: int) -> bytes:
    """The parts of one filled template that do not depend on the time it was written."""
    from workbooks.template import write_template

    plan = national_plan()
    code = pick_communes(roster_path, 1)[0][0]
    values, day = values_for(plan, code, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_template(plan, load_roster(roster_path), code, PHASE, Path(tmp) / "x.xlsx",
                              report_date=day, values=values)  # fmt: skip
        with zipfile.ZipFile(path) as z:
            return b"".join(
                i.filename.encode() + z.read(i)
                for i in sorted(z.infolist(), key=lambda i: i.filename)
                if not i.filename.startswith("docProps/")
            )


def build_corpus(
    workdir: str | os.PathLike,
    n: int,
    *,
    roster_path: str | os.PathLike = NATIONAL_ROSTER,
    libreoffice: bool = True,
    workers: int = 2,
    batch: int = 200,
    seed: int = SEED,
    reuse_stale: bool = False,
    log: Log = print,
) -> Corpus:
    """The corpus for ``n`` communes, from the cache in ``workdir`` or generated there.

    ``reuse_stale``: take a cached corpus for ``n`` even if the template changed since it
    was built (its key is in ``Corpus.key``); for a re-run when only wording changed.
    """
    roster_path = Path(roster_path).resolve()
    key = corpus_key(n, roster_path, libreoffice, seed)
    home = Path(workdir) / f"corpus-n{n}-{key}"
    candidates = [home]
    if reuse_stale:  # newest first
        others = [p for p in Path(workdir).glob(f"corpus-n{n}-*") if p != home]
        candidates += sorted(others, key=lambda p: p.stat().st_mtime, reverse=True)
    for place in candidates:
        corpus = _cached(place, n, roster_path, libreoffice)
        if corpus is None:
            continue
        if place == home:
            log(f"corpus N={n}: reusing {place}")
        else:
            log(f"corpus N={n}: reusing {place}, built by an older template (key {corpus.key}, "
                f"current {key}): --reuse-corpus")  # fmt: skip
        return corpus
    for stale in Path(workdir).glob(f"corpus-n{n}-*"):  # other keys: an older template
        shutil.rmtree(stale, ignore_errors=True)
    folder = home / "files"
    staging = home / "for-libreoffice"
    folder.mkdir(parents=True)
    staging.mkdir()

    communes = pick_communes(roster_path, n)
    jobs = []
    for i, (code, district, province) in enumerate(communes):
        via_lo = libreoffice and i % 2 == 1
        jobs.append((code, district, province, via_lo))
    log(f"corpus N={n}: writing {n} workbooks on {workers} processes …")
    t0 = time.perf_counter()
    chunks = [jobs[k::workers] for k in range(workers)] if workers > 1 else [jobs]
    files: dict[str, CorpusFile] = {}
    if workers > 1 and n >= 200:  # below that, starting processes costs more than it saves
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [
                pool.submit(_write_chunk, str(roster_path), chunk, str(folder), str(staging), seed)
                for chunk in chunks
                if chunk
            ]
            for fut in as_completed(futures):
                for f in fut.result():
                    files[f.unit] = f
    else:
        for f in _write_chunk(str(roster_path), jobs, str(folder), str(staging), seed):
            files[f.unit] = f
    generated_s = time.perf_counter() - t0
    log(f"corpus N={n}: written in {generated_s:.1f} s")

    t1 = time.perf_counter()
    failed: set[str] = set()
    to_convert = sorted(p.name for p in staging.iterdir())
    if to_convert:
        log(f"corpus N={n}: LibreOffice saves {len(to_convert)} of them (batches of {batch}) …")
        failed = convert_with_libreoffice(
            staging, folder, to_convert, home / "lo-profiles", workers=workers, batch=batch, log=log
        )
        for name in failed:  # keep our own file rather than lose a commune
            shutil.move(staging / name, folder / name)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(home / "lo-profiles", ignore_errors=True)
    libreoffice_s = time.perf_counter() - t1
    if to_convert:
        log(f"corpus N={n}: LibreOffice took {libreoffice_s:.1f} s, {len(failed)} failed")

    ordered = [files[code] for code, _d, _p in communes]
    ordered = [
        CorpusFile(f.name, f.unit, f.district, f.province, f.libreoffice and f.name not in failed)
        for f in ordered
    ]
    corpus = Corpus(n, key, folder, roster_path, ordered, generated_s, libreoffice_s, len(failed))
    (home / "manifest.json").write_text(
        json.dumps(
            {
                "n": n,
                "key": key,
                "roster": str(roster_path),
                "plan": PLAN_ID,
                "phase": PHASE,
                "seed": seed,
                "libreoffice": libreoffice,
                "generated_s": generated_s,
                "libreoffice_s": libreoffice_s,
                "libreoffice_failed": len(failed),
                "files": [asdict(f) for f in ordered],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return corpus


def _cached(home: Path, n: int, roster_path: Path, libreoffice: bool) -> Corpus | None:
    """The corpus in ``home`` if it is complete and was built for this roster."""
    manifest = home / "manifest.json"
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text(encoding="utf-8"))
    if data.get("roster") != str(roster_path) or data.get("libreoffice", True) != libreoffice:
        return None
    corpus = Corpus(
        n=n,
        key=data["key"],
        folder=home / "files",
        roster_path=roster_path,
        files=[CorpusFile(**f) for f in data["files"]],
        generated_s=0.0,
        libreoffice_s=0.0,
        libreoffice_failed=data["libreoffice_failed"],
    )
    return corpus if all(p.is_file() for p in corpus.paths) else None


def values_for(plan, unit: str, seed: int, variant: int = 0) -> tuple[dict, dt.date]:
    """Seeded figures and report date of one commune (``variant`` > 0: a correction)."""
    from workbooks.demo import figures

    rnd = random.Random(f"{seed}/{unit}/{variant}")
    values = {ind.code: figures(ind, rnd, PHASE) for ind in plan.reported_indicators}
    end = plan.phase(PHASE).end
    return values, end - dt.timedelta(days=rnd.randint(0, 12) - variant)


def _write_chunk(
    roster_path: str, jobs: list[tuple], folder: str, staging: str, seed: int
) -> list[CorpusFile]:
    """Worker: write the workbooks of ``jobs`` (plan, roster and prototype loaded once)."""
    from workbooks.template import find_unit, template_name, write_template

    plan = national_plan()
    roster = load_roster(roster_path)
    out = []
    for code, district, province, via_lo in jobs:
        unit = find_unit(plan, roster, code, PHASE)
        name = template_name(unit, PHASE)
        values, day = values_for(plan, code, seed)
        target = Path(staging if via_lo else folder) / name
        write_template(plan, roster, code, PHASE, target, report_date=day, values=values)
        out.append(CorpusFile(name, code, district, province, via_lo))
    return out


def write_correction(corpus: Corpus, index: int, seed: int = SEED) -> Path:
    """Overwrite file ``index`` with the same commune's report carrying other figures."""
    plan = national_plan()
    roster = load_roster(corpus.roster_path)
    f = corpus.files[index]
    values, day = values_for(plan, f.unit, seed, variant=1)
    from workbooks.template import write_template

    return write_template(plan, roster, f.unit, PHASE, corpus.folder / f.name,
                          report_date=day, values=values)  # fmt: skip


# A cell where no sheet of a report may reach: unchecked, python-calamine would allocate
# the whole box up to it and abort the process.
_FAR_ROW = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'


def write_hostile(corpus: Corpus, folder: Path) -> dict[str, str]:
    """Hostile inputs beside the corpus, and the finding the pre-check must give each.

    One of the corpus's own reports with a far cell added to each of its sheets (a file
    the reader would otherwise accept), and from the tests' kit (``tests/hostile.py``): a
    zip bomb, entity expansion, a sheet 100 million cells wide, and cells without
    references that run past the last column allowed. A contender that reads them without
    the pre-checks crashes or refuses them with another finding.
    """
    from tests import hostile

    folder.mkdir(parents=True, exist_ok=True)
    source = corpus.paths[0]
    far = folder / f"o-xa-{source.name}"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(far, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.startswith("xl/worksheets/sheet"):
                data = data.replace(b"</sheetData>", _FAR_ROW, 1)
            zout.writestr(info.filename, data)
    expected = {far.name: "sheet_too_large"}
    for make, code in (
        (hostile.make_zip_bomb, "file_too_large"),
        (hostile.make_billion_laughs, "file_dangerous_xml"),
        (hostile.make_wide_box, "sheet_too_large"),
        (hostile.make_implicit_far, "sheet_too_large"),
    ):
        expected[make(folder).name] = code
    return expected


def soffice_binary() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert_with_libreoffice(
    src: Path,
    out: Path,
    names: list[str],
    profiles: Path,
    *,
    workers: int = 2,
    batch: int = 200,
    timeout_s: float = 3600,
    log: Log = print,
) -> set[str]:
    """Open and save ``names`` (in ``src``) with LibreOffice into ``out``; return failures.

    One ``soffice --convert-to xlsx`` process per batch, each with a private profile that
    recalculates OOXML on load; up to ``workers`` batches at a time. LibreOffice exits 0 even
    when a file failed to load, so success is the output file existing. A ``soffice`` that
    dies partway through a batch (LibreOffice 7.4 does, after a few hundred files) leaves
    the rest of it: those go back in the queue as a new batch, up to three times.
    """
    binary = soffice_binary()
    if binary is None:
        raise RuntimeError("LibreOffice (soffice) is not on PATH; use --no-libreoffice")
    size = max(1, min(batch, -(-len(names) // max(1, workers))))  # keep every worker busy
    pending = [names[i : i + size] for i in range(0, len(names), size)]
    tries: dict[str, int] = {}
    running: list[tuple[subprocess.Popen, list[str], float, int]] = []
    slots = list(range(max(1, workers)))
    failed: set[str] = set()
    total, done = len(names), 0
    while pending or running:
        while pending and slots:
            slot = slots.pop()
            names_now = pending.pop(0)
            for name in names_now:
                tries[name] = tries.get(name, 0) + 1
            running.append((_start_soffice(binary, src, out, names_now, profiles / f"p{slot}"),
                            names_now, time.perf_counter(), slot))  # fmt: skip
        time.sleep(0.2)
        for item in list(running):
            proc, names_now, start, slot = item
            if proc.poll() is None and time.perf_counter() - start < timeout_s:
                continue
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            running.remove(item)
            slots.append(slot)
            missing = [name for name in names_now if not (out / name).is_file()]
            done += len(names_now) - len(missing)
            retry = [name for name in missing if tries[name] < 3]
            failed.update(name for name in missing if tries[name] >= 3)
            if retry:
                pending.append(retry)
            note = f" (soffice exit {proc.returncode}, {len(missing)} left)" if missing else ""
            log(f"  LibreOffice: {done}/{total} files{note}")
    return failed


def _start_soffice(
    binary: str, src: Path, out: Path, names: list[str], profile: Path
) -> subprocess.Popen:
    (profile / "user").mkdir(parents=True, exist_ok=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_LO_REGISTRY)
    cmd = [
        binary,
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        "--headless",
        "--norestore",
        "--nologo",
        "--convert-to",
        "xlsx:Calc MS Excel 2007 XML",
        "--outdir",
        str(out),
        *[str(src / name) for name in names],
    ]
    with open(profile / "soffice.log", "ab") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=log, cwd=tempfile.gettempdir())
