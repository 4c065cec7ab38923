"""Tool parameter schemas for each provider's function-calling rules.

- OpenAI strict mode (Structured Outputs, "Supported schemas"): every object has
  ``additionalProperties: false`` and lists all its properties in ``required``; optional
  properties become nullable. :func:`openai_strict_schema` makes that copy, or returns None
  when the schema uses something strict mode refuses (then the tool is sent non-strict).
- Gemini's older ``parameters`` field takes an OpenAPI 3.0 subset: no ``$ref``/``$defs``,
  ``additionalProperties``, ``$schema``, ``const``... :func:`gemini_legacy_schema`
  dereferences and strips. Its ``parameters_json_schema`` field takes JSON Schema as it is.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..errors import UsageError

__all__ = ["gemini_legacy_schema", "openai_strict_schema", "resolve_refs"]

#: keywords OpenAI strict mode rejects (Structured Outputs "Some type-specific keywords are
#: not yet supported" list, the ones it still refuses).
_STRICT_UNSUPPORTED = frozenset(
    {
        "patternProperties",
        "unevaluatedProperties",
        "if",
        "then",
        "else",
        "dependentRequired",
        "dependentSchemas",
        "not",
    }
)
#: keywords the legacy Gemini ``Schema`` (OpenAPI 3.0 subset) does not take.
_GEMINI_KEEP = frozenset(
    {
        "type",
        "format",
        "description",
        "nullable",
        "enum",
        "properties",
        "required",
        "items",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "anyOf",
        "title",
        "minLength",
        "maxLength",
        "pattern",
        "propertyOrdering",
        "default",
        "minProperties",
        "maxProperties",
    }
)
_MAX_DEPTH = 32


def resolve_refs(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` with local ``$ref`` (``#/$defs/...``, ``#/definitions/...``)
    replaced by what they point to, and ``$defs``/``definitions`` dropped.

    Raises:
        UsageError: a remote or unknown ``$ref``, or a recursive one (it cannot be inlined).
    """
    root = dict(schema)

    def lookup(ref: str) -> Any:
        if not ref.startswith("#/"):
            raise UsageError(f"cannot inline the non-local $ref {ref!r}")
        node: Any = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                raise UsageError(f"unknown $ref {ref!r}")
            node = node[part]
        return node

    def walk(node: Any, depth: int, seen: tuple[str, ...]) -> Any:
        if depth > _MAX_DEPTH:
            raise UsageError("schema nested too deeply to inline")
        if isinstance(node, Mapping):
            if isinstance(node.get("$ref"), str):
                ref = node["$ref"]
                if ref in seen:
                    raise UsageError(f"recursive $ref {ref!r} cannot be inlined")
                target = walk(lookup(ref), depth + 1, (*seen, ref))
                rest = {k: walk(v, depth + 1, seen) for k, v in node.items() if k != "$ref"}
                return {**target, **rest} if isinstance(target, dict) else target
            return {
                k: walk(v, depth + 1, seen)
                for k, v in node.items()
                if k not in ("$defs", "definitions")
            }
        if isinstance(node, list):
            return [walk(v, depth + 1, seen) for v in node]
        return node

    out = walk(root, 0, ())
    assert isinstance(out, dict)
    return out


def openai_strict_schema(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """``schema`` made valid for OpenAI strict mode, or None when it cannot be.

    Every object gets ``additionalProperties: false`` and all its properties in
    ``required``; a property that was optional becomes nullable (``type: [T, "null"]`` or
    ``anyOf`` with ``{"type": "null"}``), so the model may still leave it out by sending
    null. Refused (None): an object with ``additionalProperties`` other than false (a free
    map), an object without ``properties`` below the root, keywords strict mode does not
    take, or a recursive/remote ``$ref``.
    """
    try:
        work = resolve_refs(schema)
    except UsageError:
        return None

    def fix(node: Any, root: bool) -> Any:
        if not isinstance(node, dict):
            return node
        if _STRICT_UNSUPPORTED & node.keys():
            raise _NotStrict
        node = {k: v for k, v in node.items() if k != "$schema"}
        for key in ("anyOf", "allOf", "oneOf"):
            if key in node:
                node["anyOf" if key == "oneOf" else key] = [fix(s, False) for s in node[key]]
                if key == "oneOf":
                    del node["oneOf"]
        if "items" in node:
            node["items"] = fix(node["items"], False)
        if node.get("type") == "object" or "properties" in node:
            extra = node.get("additionalProperties", False)
            if extra is not False or ("properties" not in node and not root):
                raise _NotStrict
            props = dict(node.get("properties") or {})
            required = set(node.get("required") or ())
            for name, sub in props.items():
                sub = fix(sub, False)
                if name not in required:
                    sub = _nullable(sub)
                props[name] = sub
            node["properties"] = props
            node["required"] = list(props)
            node["additionalProperties"] = False
            node.setdefault("type", "object")
        return node

    try:
        out = fix(copy.deepcopy(work), True)
    except _NotStrict:
        return None
    assert isinstance(out, dict)
    return out


class _NotStrict(Exception):
    pass


def _nullable(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]} if kind != "null" else schema
    if isinstance(kind, list):
        return schema if "null" in kind else {**schema, "type": [*kind, "null"]}
    if "anyOf" in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    return {"anyOf": [schema, {"type": "null"}]}


def gemini_legacy_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` for Gemini's older ``parameters`` field (an OpenAPI 3.0 subset).

    ``$ref`` is inlined, unsupported keywords (``additionalProperties``, ``$schema``,
    ``const``, ``oneOf``...) are dropped, ``const`` becomes a one-value ``enum``, a type list
    with ``"null"`` becomes ``nullable: true``, and ``anyOf`` inside ``items`` (which Gemini
    refuses) is replaced by its first branch.

    Raises:
        UsageError: a recursive or non-local ``$ref``.
    """

    def strip(node: Any, in_items: bool) -> Any:
        if isinstance(node, list):
            return [strip(v, False) for v in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        if "const" in node:
            out["enum"] = [node["const"]]
        if "oneOf" in node and "anyOf" not in node:
            node = {**node, "anyOf": node["oneOf"]}
        kind = node.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            if len(kinds) < len(kind):
                out["nullable"] = True
            if kinds:
                out["type"] = kinds[0]
        for key, value in node.items():
            if key not in _GEMINI_KEEP or (key == "type" and isinstance(value, list)):
                continue
            if key == "properties" and isinstance(value, Mapping):
                out[key] = {name: strip(sub, False) for name, sub in value.items()}
            elif key == "items":
                out[key] = strip(value, True)
            elif key == "anyOf" and in_items and isinstance(value, list) and value:
                out.update(strip(value[0], False))
            elif key == "anyOf":
                out[key] = [strip(v, False) for v in value]
            else:
                out[key] = value
        return out

    result = strip(resolve_refs(schema), False)
    assert isinstance(result, dict)
    return result
