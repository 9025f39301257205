"""How a family describes its settings, so the training wizard can draw any family's form without knowing it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One setting as a user sees it; the value's type (from the family's defaults) picks the editor."""

    label: str
    main: bool = False  # in the main section of the form; the rest go under Advanced
    choices: tuple[str, ...] = ()  # offered in a drop-down (which stays editable)
    range: tuple[float, float, float] | None = None  # low, high, step of a number
    depends_on: tuple[str, Any] | None = None  # (other key, value): greyed out unless the other has that value
    help: str = ""


def describe(key: str, settings: dict[str, Setting]) -> Setting:
    """The family's description of ``key``, or a plain one made from the key (an advanced setting)."""
    return settings.get(key) or Setting(label=key.replace("_", " ").capitalize())
