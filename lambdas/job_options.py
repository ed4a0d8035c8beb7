"""Per-job options: read from the upload's S3 metadata, checked against the published schema.

An upload chooses options with ``x-amz-meta-motflow-<option>`` headers (``motflow-stride: 2``,
``motflow-classes: person,car``, ``motflow-tracker: {"track_buffer_s": 2}``) and labels itself
with ``motflow-tag``. Values are text; each is read as the type the schema gives the option.
``job_options.schema.json`` (generated from the engine's ``TrackOptions`` by
``python -m model_code.option_schema``) is the schema; this module checks the subset of JSON Schema
that file uses, so the Lambda needs no extra package. Every number must also fit a DynamoDB record
(``dynamo_limits``). `check_for_deployment` adds what the schema publishes as data: the cross-field
rules (``x-not-above``), the deployed detector and its class names (``x-detector-classes``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

try:
    from . import dynamo_limits
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import dynamo_limits

SCHEMA_FILE = Path(__file__).resolve().with_name("job_options.schema.json")
METADATA_PREFIX = "motflow-"
TAG = "tag"
RETRY_OF = "retry-of"
TAG_MAX = 256
# S3 user metadata is at most 2 KB in all (keys and values, UTF-8).
METADATA_MAX_BYTES = 2048

_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


class OptionError(ValueError):
    """A bad per-job option; the message names it and says what is allowed."""


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def option_names() -> list[str]:
    return list(schema()["properties"])


def _types(node: Mapping[str, Any]) -> list[str]:
    kind = node.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def _is_type(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    if kind == "number" and isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, _TYPES[kind])


def check(value: Any, node: Mapping[str, Any], where: str) -> None:
    """Raise OptionError when `value` breaks the schema `node`; `where` names it."""
    kinds = _types(node)
    if kinds and not any(_is_type(value, kind) for kind in kinds):
        raise OptionError(f"option '{where}' must be {' or '.join(kinds)}, got {value!r}")
    if "enum" in node and value not in node["enum"]:
        allowed = ", ".join(map(str, node["enum"]))
        raise OptionError(f"option '{where}' must be one of {allowed}, got {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        problem = dynamo_limits.number_problem(value)
        if problem:
            raise OptionError(f"option '{where}' = {value!r} {problem}")
        if "minimum" in node and value < node["minimum"]:
            raise OptionError(f"option '{where}' must be >= {node['minimum']}, got {value}")
        if "maximum" in node and value > node["maximum"]:
            raise OptionError(f"option '{where}' must be <= {node['maximum']}, got {value}")
        if "exclusiveMinimum" in node and value <= node["exclusiveMinimum"]:
            raise OptionError(f"option '{where}' must be > {node['exclusiveMinimum']}, got {value}")
    if isinstance(value, str):
        if len(value) < node.get("minLength", 0):
            raise OptionError(f"option '{where}' must not be empty")
        if len(value) > node.get("maxLength", len(value)):
            raise OptionError(
                f"option '{where}' must be at most {node['maxLength']} characters, got {len(value)}"
            )
    if isinstance(value, list):
        if len(value) < node.get("minItems", 0):
            raise OptionError(f"option '{where}' needs at least {node['minItems']} item(s)")
        if len(value) > node.get("maxItems", len(value)):
            raise OptionError(
                f"option '{where}' takes at most {node['maxItems']} items, got {len(value)}"
            )
        for index, item in enumerate(value):
            check(item, node.get("items", {}), f"{where}[{index}]" if where else str(index))
    if isinstance(value, dict):
        properties = node.get("properties", {})
        missing = [name for name in node.get("required", []) if name not in value]
        if missing:
            raise OptionError(f"option '{where}' is missing {', '.join(missing)}")
        if node.get("additionalProperties") is False:
            unknown = sorted(set(value) - set(properties))
            if unknown:
                raise OptionError(
                    f"unknown option(s) {', '.join(_joined(where, n) for n in unknown)}; "
                    f"known: {', '.join(_joined(where, n) for n in properties)}"
                )
        for name, item in value.items():
            if name in properties:
                check(item, properties[name], _joined(where, name))


def _joined(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def validate(options: Mapping[str, Any]) -> dict[str, Any]:
    """`options` checked against the schema (and an analytics spec's cross-field rules);
    returns them as a plain dict."""
    check(dict(options), schema(), "")
    if options.get("analytics") is not None:
        try:
            from .analytics_spec import check_rules
        except ImportError:  # Lambda runtime: modules are top-level
            from analytics_spec import check_rules  # type: ignore[no-redef]

        check_rules(options["analytics"])
    return dict(options)


def check_for_deployment(
    options: Mapping[str, Any], defaults: Mapping[str, Any], trained_classes: bool = False
) -> None:
    """Raise OptionError when schema-valid `options` cannot run on this deployment.

    `defaults` are the deployment's job options (``JOB_OPTIONS``: its detector among them); a
    deployment serves one detector, so another one has no weights on the endpoint. Class names
    must be the detector's (unless `trained_classes`: the deployment's weights were trained with
    class names of their own, which only the container knows), and the tracker's cross-field
    rules hold on the user's settings laid over the detector's preset (a rule is checked when the
    user set one of its two settings). The container checks all of this again.
    """
    properties = schema()["properties"]
    deployed = defaults.get("detector", properties["detector"]["default"])
    detector = options.get("detector", deployed)
    if detector != deployed:
        raise OptionError(
            f"option 'detector' is {detector!r}, but this deployment serves only {deployed!r}"
            f" (the endpoint has no weights for {detector!r}); leave it out or use {deployed!r}"
        )
    known = properties["classes"]["x-detector-classes"].get(detector)
    if known is not None and not trained_classes:
        lowered = {name.lower() for name in known}
        unknown = [
            name for name in options.get("classes", []) if name.strip().lower() not in lowered
        ]
        if unknown:
            raise OptionError(
                f"option 'classes' names {', '.join(map(repr, unknown))}, not a class of "
                f"{detector}; its {len(known)} classes are: {', '.join(known)}"
            )
    tracker_node = properties["tracker"]
    presets = tracker_node["x-tracker-presets"]
    chosen = options.get("tracker", {})
    settings = {**presets.get(detector, presets["generic"]), **chosen}
    for low, high in tracker_node["x-not-above"]:
        if (low in chosen or high in chosen) and settings[low] > settings[high]:
            raise OptionError(
                f"option 'tracker.{low}' ({settings[low]}) must not exceed "
                f"'tracker.{high}' ({settings[high]})"
            )


def merge_options(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`overrides` laid over `base`: each option replaced whole, except the tracker settings,
    which are replaced one by one (a retry's ``tracker.x`` keeps the job's other settings)."""
    merged = {**base, **overrides}
    tracker, extra = base.get("tracker"), overrides.get("tracker")
    if isinstance(tracker, Mapping) and isinstance(extra, Mapping):
        merged["tracker"] = {**tracker, **extra}
    return merged


def parse_value(name: str, text: str) -> Any:
    """The option `name` (``tracker.x`` for a tracker setting) read from its text form."""
    root, _, child = name.partition(".")
    properties = schema()["properties"]
    if root not in properties:
        raise OptionError(f"unknown option '{root}'; known: {', '.join(properties)}")
    node = properties[root]
    if child:
        node = node.get("properties", {}).get(child)
        if node is None:
            known = ", ".join(properties[root].get("properties", {}))
            raise OptionError(f"unknown option '{name}'; known: {known}")
    return _from_text(name, text, _types(node))


def _from_text(name: str, text: str, kinds: list[str]) -> Any:
    text = text.strip()
    if "null" in kinds and text.lower() in ("null", "none", ""):
        return None
    if "boolean" in kinds:
        if text.lower() in ("true", "yes", "1", "on"):
            return True
        if text.lower() in ("false", "no", "0", "off"):
            return False
        raise OptionError(f"option '{name}' must be true or false, got {text!r}")
    if "integer" in kinds:
        try:
            return int(text)
        except ValueError:
            raise OptionError(f"option '{name}' must be a whole number, got {text!r}") from None
    if "number" in kinds:
        try:
            return float(text)
        except ValueError:
            raise OptionError(f"option '{name}' must be a number, got {text!r}") from None
    if "array" in kinds:
        if text.startswith("["):
            return _json(name, text)
        return [part.strip() for part in text.split(",") if part.strip()]
    if "object" in kinds:
        return _json(name, text)
    return text


def _json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise OptionError(f"option '{name}' is not valid JSON ({error.msg})") from None


def from_pairs(pairs: Mapping[str, str]) -> dict[str, Any]:
    """Options from ``name -> text`` (``tracker.x`` keys fill the ``tracker`` object), checked."""
    options: dict[str, Any] = {}
    for raw_name, text in pairs.items():
        name = raw_name.strip().lower().replace("-", "_")
        value = parse_value(name, text)
        root, _, child = name.partition(".")
        if child:
            options.setdefault(root, {})[child] = value
        elif root == "tracker" and isinstance(value, dict):
            options = merge_options({root: value}, options)  # tracker.x pairs win
        else:
            options[root] = value
    return validate(options)


def from_metadata(metadata: Mapping[str, str]) -> tuple[dict[str, Any], str | None, str | None]:
    """(options, tag, retried job id) from an object's user metadata (keys without
    ``x-amz-meta-``); metadata not starting with ``motflow-`` is ignored."""
    pairs: dict[str, str] = {}
    tag = retry_of = None
    for key, value in metadata.items():
        key = key.lower()
        if not key.startswith(METADATA_PREFIX):
            continue
        name = key[len(METADATA_PREFIX) :]
        if name == TAG:
            tag = value.strip()[:TAG_MAX] or None
        elif name == RETRY_OF:
            retry_of = value.strip() or None
        else:
            pairs[name] = value
    return from_pairs(pairs), tag, retry_of


def to_metadata(
    options: Mapping[str, Any], tag: str | None = None, retry_of: str | None = None
) -> dict[str, str]:
    """The user metadata (keys without ``x-amz-meta-``) that `from_metadata` reads back."""
    metadata = {}
    for name, value in validate(options).items():
        key = METADATA_PREFIX + name.replace("_", "-")
        if isinstance(value, dict | list) or value is None:
            metadata[key] = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, bool):
            metadata[key] = "true" if value else "false"
        else:
            metadata[key] = str(value)
    if tag:
        metadata[METADATA_PREFIX + TAG] = tag[:TAG_MAX]
    if retry_of:
        metadata[METADATA_PREFIX + RETRY_OF] = retry_of
    size = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
    if size > METADATA_MAX_BYTES:
        raise OptionError(
            f"the options take {size} bytes of S3 metadata, over its {METADATA_MAX_BYTES}-byte"
            " limit; pass fewer tracker settings"
        )
    return metadata
