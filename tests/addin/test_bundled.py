"""The bundled plans travel inside the add-in (``addin/_bundled.py``) and cannot drift."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from addin._bundled import PLANS
from logic.plan import load_plan
from workbooks.plans import bundled_plans, load

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "build_bundled_plans", ROOT / "scripts" / "build_bundled_plans.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_add_in_carries_every_bundled_plan():
    assert sorted(PLANS) == bundled_plans()


@pytest.mark.parametrize("plan_id", bundled_plans())
def test_each_carried_plan_is_the_bundled_plan(plan_id):
    assert load_plan(PLANS[plan_id]) == load(plan_id)


def test_the_module_is_what_the_generator_writes_now():
    """Fails after a plan TOML changes: run ``uv run python scripts/build_bundled_plans.py``."""
    text = (ROOT / "addin" / "_bundled.py").read_text("utf-8")
    assert text == _generator().render()
