"""Build the bundled unit rosters (workbooks/data/rosters/<id>.csv) from the shared rosters.

Run by hand, not by tests or CI::

    pip download --no-deps --python-version 3.12 --only-binary=:all: \\
        -d /tmp/vp vietnam-provinces==2026.9.0
    uv run python scripts/build_rosters.py \\
        --conversion /tmp/vp/vietnam_provinces-2026.9.0-py3-none-any.whl [SHARED_ROSTERS_DIR]

Each roster holds three shapes of one province's tree, all in one file:

- until 2025-02-28: province → district → commune (the January 2025 roster);
- 2025-03-01 … 2025-06-30: district police dissolved, the same communes under the province;
- from 2025-07-01: the 2-level communes of the province that now holds the old one, each
  listing in ``replaces`` the old communes it absorbed (whole or in part).

The old → new mapping comes from the ward conversion table shipped inside the
``vietnam-provinces`` wheel (``_ward_conversion_2025.py``). The wheel is only read as a zip
file and its Python is parsed with ``ast``, never imported or installed. Its new-ward codes
follow that package's 2026 edition, which renumbered some communes that the shared July 2025
roster (package edition 2025.10.1) codes differently, so new communes are joined by name within
the province (by code only where a name was changed between editions).

Codes are written in GSO's official zero-padded form (province 2 digits, district 3, commune 5),
so that codes of different levels never collide (Hà Nội has a province, a district and a
commune all numbered 1 in the unpadded files).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import re
import sys
import unicodedata
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "workbooks" / "data" / "rosters"
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "rosters"
OLD_FILE = "vn-2025-01-3-levels.csv"
NEW_FILE = "vn-2025-07-2-levels.csv"

PROVINCES = {"thanh-hoa": "38", "nghe-an": "40", "tra-vinh": "84", "quang-ninh": "22"}
WIDTH = {"province": 2, "district": 3, "commune": 5}

END_3_LEVELS = "2025-02-28"
START_2_OLD, END_2_OLD = "2025-03-01", "2025-06-30"
START_NEW = "2025-07-01"
COLUMNS = ["code", "name", "level", "parent", "valid_from", "valid_to", "replaces", "email"]

# Old and new spellings of the same syllable ("Thuỷ" / "Thủy"); only used to compare names.
_TONE = {
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}  # fmt: skip


def clean(name: str) -> str:
    """NFC with single spaces: the shared files have a few doubled spaces."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def name_key(name: str) -> str:
    key = clean(name).casefold().replace("–", "-").replace(" - ", "-")
    for old, new in _TONE.items():
        key = key.replace(old, new)
    return key


def pad(code: str | int, level: str) -> str:
    return str(int(code)).zfill(WIDTH[level])


# --- the conversion table ------------------------------------------------------------------


@dataclass
class Conversion:
    """Old → new commune links from vietnam-provinces (codes as ints, package numbering)."""

    version: str
    source: str
    new_to_old: dict[int, list[tuple[int, bool]]]  # new code → [(old code, partly merged)]
    new_province: dict[int, int]  # new code → new province code
    new_wards: dict[int, dict[str, int]] = field(default_factory=dict)  # province → key → code
    new_names: dict[int, str] = field(default_factory=dict)


def _literal(node: ast.AST):
    """Evaluate the constants, tuples, dicts and NamedTuple calls of the conversion module."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.Call):
        return tuple(_literal(a) for a in node.args)
    raise ValueError(f"unexpected node {ast.dump(node)[:80]}")


def read_conversion(path: Path) -> Conversion:
    """Read the conversion table and the new-ward names from a vietnam-provinces wheel or dir."""
    if path.is_dir():
        files = {
            p.relative_to(path).as_posix(): p.read_bytes for p in path.rglob("*") if p.is_file()
        }
        read = {name: (lambda f=f: f()) for name, f in files.items()}
    else:
        zf = zipfile.ZipFile(path)
        read = {name: (lambda n=name: zf.read(n)) for name in zf.namelist()}

    def find(suffix: str) -> bytes:
        hits = [n for n in read if n.endswith(suffix)]
        if not hits:
            sys.exit(f"{path}: no {suffix} (need vietnam-provinces >= 2026.1)")
        return read[hits[0]]()

    module = ast.parse(find("vietnam_provinces/_ward_conversion_2025.py"))
    consts = {}
    for stmt in module.body:
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
            if isinstance(target, ast.Name) and target.id in ("NEW_TO_OLD", "SOURCE"):
                consts[target.id] = _literal(stmt.value)
    init = find("vietnam_provinces/__init__.py").decode()
    version = re.search(r"__version__ = '([^']+)'", init).group(1)
    conv = Conversion(version, consts["SOURCE"], {}, {})
    for new_code, ((code, province), olds) in consts["NEW_TO_OLD"].items():
        assert new_code == code
        conv.new_province[code] = province
        conv.new_to_old[code] = [(old, partly) for old, _district, _prov, partly in olds]
    for province in json.loads(find("vietnam_provinces/data/nested-divisions.json")):
        keys = conv.new_wards.setdefault(province["code"], {})
        for ward in province["wards"]:
            keys[name_key(ward["name"])] = ward["code"]
            conv.new_names[ward["code"]] = ward["name"]
    return conv


# --- building one roster -------------------------------------------------------------------


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


@dataclass
class Built:
    rows: list[dict]
    stats: dict


def build(province: str, old_rows: list[dict], new_rows: list[dict], conv: Conversion) -> Built:
    prov = next(r for r in old_rows if r["level"] == "province" and r["code"] == province)
    districts = [r for r in old_rows if r["level"] == "district" and r["parent_code"] == province]
    dcodes = {r["code"] for r in districts}
    communes = [r for r in old_rows if r["level"] == "commune" and r["parent_code"] in dcodes]
    old_codes = {int(r["code"]) for r in communes}

    # The province that holds the old communes now, by the conversion table.
    targets = Counter(
        conv.new_province[n]
        for n, olds in conv.new_to_old.items()
        for o, _ in olds
        if o in old_codes
    )
    if len(targets) != 1:
        sys.exit(f"province {province}: communes went to several provinces {dict(targets)}")
    new_prov = str(next(iter(targets)))
    new_prov_row = next(r for r in new_rows if r["level"] == "province" and r["code"] == new_prov)
    new_communes = [r for r in new_rows if r["level"] == "commune" and r["parent_code"] == new_prov]

    # Join the shared July communes to the package's numbering: by name, else by code where
    # neither side's name has a partner (a commune renamed between editions).
    keys = conv.new_wards[int(new_prov)]
    by_name = {r["code"]: keys.get(name_key(r["name"])) for r in new_communes}
    used = {c for c in by_name.values() if c is not None}
    by_code = 0
    for r in new_communes:
        code = int(r["code"])
        if by_name[r["code"]] is None and code in conv.new_to_old and code not in used:
            by_name[r["code"]] = code
            by_code += 1
    unjoined = [r["name"] for r in new_communes if by_name[r["code"]] is None]

    p = pad(province, "province")
    np_ = pad(new_prov, "province")
    same_province = new_prov == province
    name_of_old = {r["code"]: clean(r["name"]) for r in old_rows if r["level"] == "province"}
    rows: list[dict] = []

    def add(code, name, level, parent="", valid_from="", valid_to="", replaces=""):
        rows.append(
            dict(
                zip(
                    COLUMNS,
                    (code, clean(name), level, parent, valid_from, valid_to, replaces, ""),
                    strict=True,
                )
            )
        )

    add(p, prov["name"], "province", valid_to="" if same_province else END_2_OLD)
    for d in districts:
        add(pad(d["code"], "district"), d["name"], "district", p, valid_to=END_3_LEVELS)
        for c in communes:
            if c["parent_code"] == d["code"]:
                add(
                    pad(c["code"], "commune"),
                    c["name"],
                    "commune",
                    pad(d["code"], "district"),
                    valid_to=END_3_LEVELS,
                )
    for c in communes:
        add(pad(c["code"], "commune"), c["name"], "commune", p, START_2_OLD, END_2_OLD)
    if not same_province:
        # A province keeps its full name ("Tỉnh …") from the January file, which the July one drops.
        add(
            np_,
            name_of_old.get(new_prov, new_prov_row["name"]),
            "province",
            valid_from=START_NEW,
            replaces=p,
        )

    successors: dict[int, list[int]] = defaultdict(list)
    mapped = reused_code = reused_name = 0
    old_names = {int(c["code"]): name_key(c["name"]) for c in communes}
    for r in new_communes:
        pkg = by_name[r["code"]]
        olds = sorted(o for o, _ in conv.new_to_old.get(pkg, []) if o in old_codes) if pkg else []
        for o in olds:
            successors[o].append(int(r["code"]))
        if olds:
            mapped += 1
            reused_code += int(r["code"]) in olds
            reused_name += name_key(r["name"]) in {old_names[o] for o in olds}
        add(pad(r["code"], "commune"), r["name"], "commune", np_, START_NEW,
            replaces=" ".join(pad(o, "commune") for o in olds))  # fmt: skip

    stats = {
        "province": f"{prov['name']} ({p})" + ("" if same_province else f" → {np_}"),
        "districts": len(districts),
        "old_communes": len(communes),
        "new_province": clean(new_prov_row["name"]),
        "new_communes": len(new_communes),
        "new_with_known_predecessors": mapped,
        "new_without": len(new_communes) - mapped,
        "old_with_successor": sum(1 for c in old_codes if successors.get(c)),
        "old_without_successor": sorted(
            pad(c, "commune") for c in old_codes if not successors.get(c)
        ),
        "old_split": sum(1 for v in successors.values() if len(v) > 1),
        "new_code_reuses_old": reused_code,
        "new_name_is_old": reused_name,
        "joined_by_code": by_code,
        "not_joined": unjoined,
    }
    return Built(rows, stats)


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        out.writeheader()
        out.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE,
                    help="folder with vn-2025-01-3-levels.csv and vn-2025-07-2-levels.csv")  # fmt: skip
    ap.add_argument("--conversion", type=Path, required=True,
                    help="vietnam-provinces wheel (>= 2026.1) or its unpacked folder")  # fmt: skip
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)

    old_rows = read_rows(args.source / OLD_FILE)
    new_rows = read_rows(args.source / NEW_FILE)
    conv = read_conversion(args.conversion)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"conversion": f"vietnam-provinces {conv.version}, {conv.source}", "rosters": {}}
    for roster_id, province in PROVINCES.items():
        built = build(province, old_rows, new_rows, conv)
        write(args.out / f"{roster_id}.csv", built.rows)
        report["rosters"][roster_id] = built.stats
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
