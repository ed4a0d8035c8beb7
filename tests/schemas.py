"""The JSON Schemas in docs/schemas/, for tests that check a writer's or a reader's output."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "schemas"


@cache
def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def validate(instance: Any, name: str) -> Any:
    """`instance`, after checking it against docs/schemas/`name` (raises ValidationError)."""
    jsonschema.Draft202012Validator(schema(name)).validate(instance)
    return instance


def is_valid(instance: Any, name: str) -> bool:
    return jsonschema.Draft202012Validator(schema(name)).is_valid(instance)
