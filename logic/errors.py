"""Exceptions: only for misuse or an unusable whole, never for problems in user data.

Hierarchy::

    ThiduaError                 base of everything thidua raises on purpose
    ├── PlanError               a plan that cannot be used (message in Vietnamese,
    │                           names the sheet/field and what is wrong)
    ├── RosterError             a roster that cannot be used
    └── UnreadableInputError    a whole input that is not a workbook at all

Problems inside a report (a bad cell, an unknown unit, …) are ``Finding`` values
(see ``logic.findings``), never exceptions.
"""

from __future__ import annotations


class ThiduaError(Exception):
    """Base class; ``str(e)`` is a message for people, in Vietnamese."""


class PlanError(ThiduaError):
    """A plan is broken. ``problems`` lists every problem found, each in Vietnamese."""

    def __init__(self, problems: list[str] | str, source: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        head = f"Kế hoạch không hợp lệ ({source})" if source else "Kế hoạch không hợp lệ"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class RosterError(ThiduaError):
    """A roster is broken (duplicate codes, unknown parents, …)."""


class UnreadableInputError(ThiduaError):
    """An input is not usable as a whole (not a workbook at all)."""
