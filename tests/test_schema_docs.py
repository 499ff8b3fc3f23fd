"""Every configuration key is documented in workflow/schemas/config.schema.yaml: a description and a
default (its own, or the enclosing block's default that spells it out), and every default is valid
against its key's schema."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
DEFS = SCHEMA.get("$defs", {})
ABSENT = object()


def resolve(node: dict) -> dict:
    """A schema node with its $ref merged in (the node's own keys win)."""
    if "$ref" in node:
        target = resolve(DEFS[node["$ref"].rsplit("/", 1)[1]])
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def config_keys(node: dict, path: str = "", inherited=None):
    """(dotted key, resolved schema, its own node, default or ABSENT) of every configuration key.

    ``inherited`` is the enclosing block's default: a key without a default of its own takes its
    value from there. Keys inside a block whose default is null (an optional block, off unless
    given) have no default to document.
    """
    node = resolve(node)
    for branch in node.get("oneOf", []) + node.get("anyOf", []) + node.get("allOf", []):
        yield from config_keys(branch, path, inherited)
    for name, own in node.get("properties", {}).items():
        schema = resolve(own)
        key = f"{path}.{name}" if path else name
        if "default" in schema:
            default = schema["default"]
        elif isinstance(inherited, dict):
            default = inherited.get(name, ABSENT)
        else:
            default = None if inherited is None and path else ABSENT
        yield key, schema, own, default
        yield from config_keys(schema, key, default if default is not ABSENT else {})


KEYS = list(config_keys(SCHEMA))


def test_the_schema_has_keys():
    names = {key for key, *_ in KEYS}
    assert {"seed", "datasets", "donut.runs", "donut.attack.params.alpha"} <= names


def test_every_key_has_a_description_and_a_default():
    undocumented = [key for key, schema, _, _ in KEYS if not str(schema.get("description", "")).strip()]
    no_default = [key for key, _, _, default in KEYS if default is ABSENT]
    assert not undocumented, f"keys without a description: {undocumented}"
    assert not no_default, f"keys without a default (own or the enclosing block's): {no_default}"


def test_defaults_are_valid():
    invalid = []
    for key, schema, _, _ in KEYS:
        if "default" in schema:
            validator = jsonschema.Draft202012Validator({**schema, "$defs": DEFS})
            invalid += [f"{key}: {e.message}" for e in validator.iter_errors(schema["default"])]
    assert not invalid, "defaults that their own schema rejects:\n" + "\n".join(invalid)
