"""The workflow's configuration schema, applied as its documentation reads it.

``workflow/schemas/config.schema.yaml`` gives some blocks a default that spells out their keys for
one dataset (``higgs.adversarial_training``: the paper's test attack and 10 iterations), while the
block's shared definition (``$defs``) carries generic defaults. JSON-schema validation with
defaults fills a block given only in part from the shared definition, so
``higgs: {adversarial_training: {iterations: 3}}`` would silently lose the Higgs test attack.
``with_block_defaults`` first merges the user's values over every such block default (the user's
values win, dictionaries merge key by key, anything else replaces), so a partial block keeps the
defaults the schema documents for the keys it leaves out; validation then fills the rest.

JSON schema also counts 2.0 (YAML ``2.0``, ``5.0e+4``) as an integer; ``with_declared_integers``
turns such values into ints where the schema asks for an integer, so that ``range(iterations)``
and friends work (2.5 is already a validation error).
"""

from __future__ import annotations

import copy
from pathlib import Path


def resolve(node: dict, defs: dict) -> dict:
    """A schema node with its local ``$ref`` merged in (the node's own keys, e.g. ``default``, win)."""
    if "$ref" in node:
        target = resolve(defs[node["$ref"].rsplit("/", 1)[1]], defs)
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def merged(default, value):
    """``value`` over ``default``: dictionaries merge key by key (recursively), anything else in
    ``value`` (a list, a scalar, null) replaces the default."""
    if isinstance(default, dict) and isinstance(value, dict):
        out = copy.deepcopy(default)
        for key, v in value.items():
            out[key] = merged(out[key], v) if key in out else copy.deepcopy(v)
        return out
    return copy.deepcopy(value)


def with_block_defaults(config: dict, schema: dict) -> dict:
    """A copy of ``config`` in which every block the user gave is merged over its schema default
    (where that default is a dictionary), at every depth."""
    defs = schema.get("$defs", {})

    def walk(value, node, inherited=None):
        # inherited: the enclosing block's default for this value; below a block whose default
        # spells out a sub-block, that sub-block's default is the enclosing one, not the $defs one
        # (donut's train_attack has no step; the shared ranges default has one)
        node = resolve(node, defs)
        if not isinstance(value, dict):
            return value
        for branch in node.get("anyOf", []) + node.get("oneOf", []) + node.get("allOf", []):
            value = walk(value, branch, inherited)
        out = dict(value)
        for name, sub in node.get("properties", {}).items():
            if name not in out:
                continue
            sub = resolve(sub, defs)
            default = inherited[name] if isinstance(inherited, dict) and name in inherited else sub.get("default")
            if isinstance(default, dict) and isinstance(out[name], dict):
                out[name] = merged(default, out[name])
            out[name] = walk(out[name], sub, default if isinstance(default, dict) else None)
        return out

    return walk(config, schema)


def _scalar_types(node: dict, defs: dict) -> set[str]:
    """The JSON types a node accepts for a scalar, over its anyOf/oneOf branches."""
    node = resolve(node, defs)
    types = node.get("type", [])
    out = {types} if isinstance(types, str) else set(types)
    for branch in node.get("anyOf", []) + node.get("oneOf", []):
        out |= _scalar_types(branch, defs)
    return out


def with_declared_integers(config, schema: dict):
    """A copy of ``config`` with every integral float turned into an int where the schema accepts
    an integer but not a general number."""
    defs = schema.get("$defs", {})

    def walk(value, node):
        node = resolve(node, defs)
        if isinstance(value, float) and value.is_integer():
            types = _scalar_types(node, defs)
            return int(value) if "integer" in types and "number" not in types else value
        if isinstance(value, list):
            branches = [node, *(resolve(b, defs) for b in node.get("anyOf", []))]
            items = [b["items"] for b in branches if isinstance(b.get("items"), dict)]
            return [walk(v, items[0]) for v in value] if items else value
        if isinstance(value, dict):
            out = dict(value)
            for branch in node.get("anyOf", []) + node.get("oneOf", []) + node.get("allOf", []):
                out = walk(out, branch)
            for name, sub in node.get("properties", {}).items():
                if name in out:
                    out[name] = walk(out[name], sub)
            return out
        return value

    return walk(config, schema)


def check_splits(config: dict) -> None:
    """Every ``<dataset>.split`` sums to 1 (the schema checks three fractions in (0, 1), not their
    sum); otherwise a ValueError naming the key, before any rule runs."""
    for name, block in config.items():
        fractions = block.get("split") if isinstance(block, dict) else None
        if fractions is not None and abs(sum(fractions) - 1.0) > 1e-9:
            raise ValueError(f"config {name}.split: the train, validation and test fractions must sum to 1, "
                             f"got {fractions} (sum {sum(fractions):g})")


def check_attack_modes(config: dict) -> None:
    """No attack-parameter block holds both a grid ``step`` and ``num_candidates`` (random mode,
    where step is unused): a partial block merged over a random-mode default (Donut's) would
    otherwise ignore the step the user wrote. A ValueError names the block."""

    def walk(value, path):
        if not isinstance(value, dict):
            return
        step, n = value.get("step"), value.get("num_candidates")
        if n is not None and step is not None and (isinstance(step, list) or step != 0):
            raise ValueError(f"config {'.'.join(path)}: step {step} is the grid spacing, but num_candidates {n} "
                             "selects random mode, where step is unused; set num_candidates: null for the grid, "
                             "or leave step out for random mode")
        for key, v in value.items():
            walk(v, (*path, str(key)))

    walk(config, ())


def checked_config(config: dict, schema_path) -> dict:
    """The workflow's configuration as the rules see it: the user's blocks merged over their
    schema defaults, validated against the schema (which fills in the remaining defaults), whole
    floats made ints where integers are asked for, then the checks the schema cannot express
    (splits summing to 1, no attack block in both grid and random mode). Errors name the key."""
    import yaml
    from snakemake.utils import validate

    schema = yaml.safe_load(Path(schema_path).read_text())
    config = with_block_defaults(config, schema)
    validate(config, str(schema_path))
    config = with_declared_integers(config, schema)
    check_splits(config)
    check_attack_modes(config)
    return config
