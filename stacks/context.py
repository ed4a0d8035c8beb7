"""CDK context keys: motflow's settings live under the ``motflow:`` prefix
(``-c motflow:instance_type=ml.g5.xlarge``), so they cannot clash with another app's keys when
motflow is composed into it. The old, unprefixed names are still read (the prefixed name wins)
and reported, so the app can warn."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

PREFIX = "motflow:"


def key(name: str) -> str:
    """The context key of the setting `name`."""
    return f"{PREFIX}{name}"


def read(get: Callable[[str], Any], names: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
    """({name: value} for each setting, the names given only by their old unprefixed key)."""
    values: dict[str, Any] = {}
    legacy: list[str] = []
    for name in names:
        value = get(key(name))
        if value is None:
            value = get(name)
            if value is not None:
                legacy.append(name)
        values[name] = value
    return values, legacy


def legacy_warning(names: Iterable[str]) -> str:
    """The warning for settings given by their old names."""
    listed = ", ".join(f"{name} (now {key(name)})" for name in names)
    return f"motflow: unprefixed CDK context keys are deprecated; rename {listed}"
