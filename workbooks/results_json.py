"""The JSON summary's ``results``, one record per line, encoded without a dict per record.

A national consolidation has about 200,000 results. ``json.dumps(result.to_dict())`` per
record spends most of its time building the dict and entering the encoder; here each
record is one f-string whose repeated parts (unit codes, levels, phases, indicator codes,
kinds, statuses, targets) are encoded once and looked up. The text parses to exactly
``Result.to_dict()`` (a test compares them on a real consolidation).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from logic.aggregate import Result

_dumps = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _number(x: Any) -> str:
    """What ``json.dumps`` writes for a number or None (floats by ``repr``, like it)."""
    t = type(x)
    if t is float and math.isfinite(x):
        return repr(x)
    if t is int:
        return str(x)
    if x is None:
        return "null"
    return _dumps(x)


def result_lines(results: Iterable[Result]) -> Iterator[str]:
    """Each result as the JSON text of ``Result.to_dict()``, in order."""
    text: dict[Any, str] = {}  # repeated strings (and None) → their JSON
    targets: dict[int, tuple[Any, str]] = {}  # id(target) → (target kept alive, its JSON)

    def enc(value: Any) -> str:
        hit = text.get(value)
        if hit is None:
            hit = text[value] = _dumps(value)
        return hit

    heads: dict[tuple, str] = {}  # (unit, level, parent) → its JSON members
    mids: dict[tuple, str] = {}  # (phase, indicator, kind)
    for r in results:
        key = (r.unit, r.level, r.parent)
        head = heads.get(key)
        if head is None:
            head = heads[key] = (
                f'{{"unit": {enc(r.unit)}, "level": {enc(r.level)}, "parent": {enc(r.parent)}, '
            )
        key = (r.phase, r.indicator, r.kind)
        mid = mids.get(key)
        if mid is None:
            mid = mids[key] = (
                f'"phase": {enc(r.phase)}, "indicator": {enc(r.indicator)}, "kind": {enc(r.kind)}, '
            )
        t = r.target
        if t is None:
            target = "null"
        else:
            hit = targets.get(id(t))
            if hit is None or hit[0] is not t:
                body = {"op": t.op, "value": t.value} | ({"local": True} if t.local else {})
                hit = targets[id(t)] = (t, _dumps(body))
            target = hit[1]
        comps = r.components
        if type(comps) is dict and all(type(k) is str for k in comps):
            components = ", ".join(
                f"{text.get(k) or enc(k)}: {_number(v)}" for k, v in comps.items()
            )
            components = "{" + components + "}"
        else:
            components = _dumps(comps)
        note = r.note
        yield (
            f'{head}{mid}"components": {components}, "value": {_number(r.value)}, '
            f'"target": {target}, "status": {text.get(r.status) or enc(r.status)}, '
            f'"reported": {r.reported if type(r.reported) is int else _number(r.reported)}, '
            f'"expected": {r.expected if type(r.expected) is int else _number(r.expected)}, '
            f'"interim": {"true" if r.interim else "false"}, "gap": {_number(r.gap)}, '
            f'"note": {"null" if note is None else text.get(note) or enc(note)}}}'
        )
