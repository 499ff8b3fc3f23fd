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

Errors are short and name the key by its dotted path: ``unknown_keys`` finds every key the schema
does not allow (a typo such as ``donutt`` or ``donut.attack.params.min_chnage``) before validation
and suggests the closest valid keys, and a JSON-schema validation error is reported as its key and
its message (``short_validation_error``), not with the schema it failed against.
"""

from __future__ import annotations

import copy
import difflib
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


def _branches(node: dict, defs: dict) -> list[dict]:
    """``node`` and, recursively, its anyOf/oneOf/allOf branches, each with its ``$ref`` resolved."""
    node = resolve(node, defs)
    out = [node]
    for branch in node.get("anyOf", []) + node.get("oneOf", []) + node.get("allOf", []):
        out += _branches(branch, defs)
    return out


def _is_object(node: dict) -> bool:
    types = node.get("type", [])
    return "properties" in node or "additionalProperties" in node or "object" in (
        [types] if isinstance(types, str) else types)


def _dotted(path) -> str:
    """``donut.attack.params`` for the keys (and ``[i]`` for the list positions) of ``path``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def unknown_keys(config: dict, schema: dict) -> list[tuple[str, list[str]]]:
    """Every key of ``config`` that the schema does not allow where it stands, at any depth: its
    dotted path and the keys allowed there (sorted). A key is unknown where every object branch
    of the schema node has ``additionalProperties: false`` and none lists it."""
    defs = schema.get("$defs", {})
    found: list[tuple[str, list[str]]] = []

    def walk(value, node, path):
        branches = _branches(node, defs)
        if isinstance(value, dict):
            objects = [b for b in branches if _is_object(b)]
            if not objects:
                return
            allowed: dict[str, list[dict]] = {}
            for b in objects:
                for name, sub in b.get("properties", {}).items():
                    allowed.setdefault(name, []).append(sub)
            extra = [b["additionalProperties"] for b in objects if isinstance(b.get("additionalProperties"), dict)]
            closed = all(b.get("additionalProperties") is False for b in objects)
            for key, v in value.items():
                if key in allowed:
                    walk(v, {"anyOf": allowed[key]}, (*path, key))
                elif extra:
                    walk(v, {"anyOf": extra}, (*path, key))
                elif closed:
                    found.append((_dotted((*path, str(key))), sorted(allowed)))
        elif isinstance(value, list):
            items = [b["items"] for b in branches if isinstance(b.get("items"), dict)]
            if items:
                for i, v in enumerate(value):
                    walk(v, {"anyOf": items}, (*path, i))

    walk(config, schema, ())
    return found


def unknown_key_message(path: str, allowed: list[str]) -> str:
    """One line naming an unknown key by its dotted path and the closest valid keys (difflib)."""
    parent, _, key = path.rpartition(".")
    where = f"in {parent}" if parent else "at the top level"
    close = difflib.get_close_matches(key, allowed, n=3, cutoff=0.7)
    hint = (f"did you mean {' or '.join(close)}?" if close
            else f"valid keys {where}: {', '.join(allowed) if allowed else 'none'}")
    return f"config {path}: unknown key {key!r} {where}; {hint}"


def check_unknown_keys(config: dict, schema: dict) -> None:
    """A ValueError naming every key the schema does not allow (see ``unknown_keys``), with the
    closest valid keys; nothing else of the schema is printed."""
    found = unknown_keys(config, schema)
    if found:
        raise ValueError("\n".join(unknown_key_message(path, allowed) for path, allowed in found))


def _leaf_errors(error) -> list:
    """The errors at the bottom of ``error``'s anyOf/oneOf context (itself when it has none)."""
    if not error.context:
        return [error]
    return [leaf for sub in error.context for leaf in _leaf_errors(sub)]


def short_validation_error(error) -> str:
    """A jsonschema ``ValidationError`` as one line: the dotted path of the key and the message,
    without the schema it failed against. For a value that no alternative (anyOf) accepts, the
    error of the alternative of the value's own type, at the deepest key (``2 is greater than the
    maximum of 1`` rather than ``... is not of type 'null'``); long values are abridged."""

    def abridged(message: str, limit: int = 300) -> str:
        return message if len(message) <= limit else message[: limit - 5] + " ..."

    leaves = _leaf_errors(error)
    # an alternative of another type than the value says nothing about what is wrong with it
    typed = [e for e in leaves if not (e.validator == "type" and not e.relative_path)]
    if error.context and not typed:  # of none of the alternatives' types: name them all
        types = []
        for e in leaves:
            types += [e.validator_value] if isinstance(e.validator_value, str) else list(e.validator_value)
        message = f"{error.instance!r} is not of type {', '.join(repr(t) for t in dict.fromkeys(types))}"
        return f"config {_dotted(error.absolute_path) or '(top level)'}: {abridged(message)}"
    best = max(typed, key=lambda e: len(e.absolute_path)) if error.context else error
    path = _dotted(best.absolute_path) or "(top level)"
    return f"config {path}: {abridged(best.message)}"


def validated(config: dict, schema_path) -> dict:
    """Snakemake's schema validation (which fills the defaults into ``config``), with a failure
    reported as a short ValueError (``short_validation_error``) instead of the schema dump."""
    import yaml
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError, best_match
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(config, str(schema_path))
    except WorkflowError as exc:
        cause = exc.__cause__ or exc.__context__
        if not isinstance(cause, ValidationError):
            raise
        raise ValueError(short_validation_error(cause)) from None
    except (AttributeError, TypeError):
        # Snakemake's default-filling validator stumbles on a scalar where the schema has an
        # object with defaults (``test_attack: 3``); the plain validator names the key
        schema = yaml.safe_load(Path(schema_path).read_text())
        error = best_match(Draft202012Validator(schema).iter_errors(config))
        if error is None:
            raise
        raise ValueError(short_validation_error(error)) from None
    return config


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
    """The workflow's configuration as the rules see it: no unknown key (a short error naming it
    and the closest valid keys), the user's blocks merged over their schema defaults, validated
    against the schema (which fills in the remaining defaults; a failure is one line), whole
    floats made ints where integers are asked for, then the checks the schema cannot express
    (splits summing to 1, no attack block in both grid and random mode, each attack's rule
    fitting its parameters). Errors name the key. The attack rules' own parameters are left out
    where they have their defaults (``without_later_defaults``)."""
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    check_unknown_keys(config, schema)
    check_calibrated_blocks(config)
    config = with_block_defaults(config, schema)
    validated(config, schema_path)
    config = with_declared_integers(config, schema)
    check_splits(config)
    check_attack_modes(config)
    check_attack_rules(config)
    check_rule_comparison(config)
    check_scaling(config)
    return without_later_defaults(config)


# the number of features of each study's data, where the configuration alone tells it
def _ttww_features(block) -> int:
    from ..data.ttww import feature_names

    return len(feature_names(block["constituents"]))


_FEATURES = {"donut": lambda block: 2, "higgs": lambda block: 30, "ttww": _ttww_features,
             "custom": lambda block: len((block.get("data") or {}).get("features") or [])}
# options of the exact rule that the reference rule does not have (attacks.params)
_NOT_IN_REFERENCE = ("optimize_already_fooled", "use_disco")


def feature_count(config: dict, dataset: str) -> int | None:
    """The number of features of ``dataset``'s data where the configuration alone tells it, else
    None (custom data without a feature list)."""
    return _FEATURES.get(dataset, lambda block: None)(config.get(dataset) or {}) or None


def _attack_param_blocks(value, path=()):
    """(dotted path, params dict) of every attack block's ``params`` in ``value``, at any depth."""
    if not isinstance(value, dict):
        return
    params = value.get("params")
    if isinstance(params, dict) and "min_change" in params:
        yield ".".join((*path, "params")), params
    for key, sub in value.items():
        yield from _attack_param_blocks(sub, (*path, str(key)))


def check_calibrated_blocks(config: dict) -> None:
    """No attack block of the user's configuration (before the schema's defaults are merged in)
    gives a per-move limit together with ``constraints: calibrated``: the budgets replace them
    (docs/method.md section 2.13). The limits the block's defaults bring are dropped later
    (``without_later_defaults``). A ValueError names the key."""
    from ..attacks.params import PARAMETERS

    for path, params in _attack_param_blocks(config):
        if params.get("constraints") == "calibrated":
            for p in PARAMETERS:
                if p.of_constraints == "per_move" and p.name in params:
                    raise ValueError(f"config {path}.{p.name}: a parameter of constraints 'per_move', but {path}."
                                     f"constraints is 'calibrated' (its budgets come from the sample); leave "
                                     f"{p.name} out or set constraints: per_move")


def check_attack_rules(config: dict) -> None:
    """Every attack block's decision rule fits its parameters: a parameter of the reference rule
    (``n_chunks``) given with the exact rule, a rule option the other rule lacks, or more chunks
    than the dataset has features, stop here with the key named (docs/method.md section 8.4)."""
    from ..attacks.params import BY_NAME, CALIBRATED_NEEDS, PARAMETERS

    for dataset in config.get("datasets", []):
        block = config.get(dataset) or {}
        d = feature_count(config, dataset)
        for path, params in _attack_param_blocks(block, (dataset,)):
            rule = params.get("rule", BY_NAME["rule"].default)
            for p in PARAMETERS:
                if p.of_rule is not None and p.of_rule != rule and params.get(p.name, p.default) != p.default:
                    raise ValueError(f"config {path}.{p.name}: a parameter of rule '{p.of_rule}', but "
                                     f"{path}.rule is '{rule}'; set rule: {p.of_rule} or leave {p.name} out")
            if rule == "reference":
                for name in _NOT_IN_REFERENCE:
                    if params.get(name):
                        raise ValueError(f"config {path}.{name}: not part of rule 'reference'; use rule: exact")
                chunks = params.get("n_chunks", BY_NAME["n_chunks"].default)
                if d and not isinstance(chunks, list) and chunks > d:
                    raise ValueError(f"config {path}.n_chunks: {chunks} chunks for {d} features; at most {d}")
            constraints = params.get("constraints", BY_NAME["constraints"].default)
            for p in PARAMETERS:  # (a calibrated block's per-move limits: check_calibrated_blocks, before the merge)
                if p.of_constraints == "calibrated" != constraints and params.get(p.name, p.default) != p.default:
                    raise ValueError(f"config {path}.{p.name}: a parameter of constraints '{p.of_constraints}', but "
                                     f"{path}.constraints is '{constraints}'; leave {p.name} out or set "
                                     f"constraints: {p.of_constraints}")
            if constraints == "calibrated":
                for name, (value, _) in CALIBRATED_NEEDS.items():
                    if params.get(name, BY_NAME[name].default) != value:
                        raise ValueError(f"config {path}.{name}: constraints: calibrated needs {name}: "
                                         f"{str(value).lower()} (docs/method.md section 2.13)")


def check_rule_comparison(config: dict) -> None:
    """Every enabled ``<dataset>.rule_comparison`` can run: it re-runs ``<dataset>.attack`` under
    the reference rule beside its exact-rule results, so that attack must use the exact rule and no
    option the reference rule lacks. A ValueError names the key (the chunk counts are checked by the
    schema: integers from 1, no repeats; ``comparison_chunks`` fits them to the features)."""
    for dataset in config.get("datasets", []):
        block = config.get(dataset) or {}
        comparison = block.get("rule_comparison") or {}
        if not comparison.get("enabled"):  # (and the calibrated attack, part of the comparison, is off too)
            continue
        path, params = f"{dataset}.attack.params", block["attack"]["params"]
        rule = params.get("rule", "exact")
        if rule != "exact":
            raise ValueError(f"config {dataset}.rule_comparison.enabled: compares {dataset}.attack under the exact "
                             f"rule with the reference rule, but {path}.rule is {rule!r}; use rule: exact there, or "
                             "enabled: false")
        for name in _NOT_IN_REFERENCE:
            if params.get(name):
                raise ValueError(f"config {dataset}.rule_comparison.enabled: {path}.{name} is not part of rule "
                                 f"'reference'; set it to false, or enabled: false")
        if (block["rule_comparison"].get("calibrated") or {}).get("enabled"):
            check_calibrated_attack(params, path, f"{dataset}.rule_comparison.calibrated.enabled", "false")


def check_calibrated_attack(params: dict, path: str, key: str, off: str) -> None:
    """The attack block ``params`` (at ``path``) can run under the calibrated constraints, which a
    study switches on with ``key`` (turned off by setting it to ``off``); else a ValueError naming
    both (docs/method.md section 2.13)."""
    from ..attacks.params import BY_NAME, CALIBRATED_NEEDS

    for name, (value, _) in CALIBRATED_NEEDS.items():
        if name != "rule" and params.get(name, BY_NAME[name].default) != value:  # (the studies set the rule)
            raise ValueError(f"config {key}: the calibrated constraints need {path}.{name}: {str(value).lower()} "
                             f"(docs/method.md section 2.13); change it, or set {key}: {off}")


def comparison_chunks(config: dict, dataset: str) -> list[int]:
    """The chunk counts of ``<dataset>.rule_comparison`` as the reference attacks run them, in
    increasing order: a count above the number of features is that number; with two features or
    fewer the authors' code works on one chunk whatever the count (attacks.reference.feature_chunks),
    so every count is 1 (the Donut); equal counts run once."""
    counts = config[dataset]["rule_comparison"]["n_chunks"]
    d = feature_count(config, dataset)
    if d is not None:
        counts = [1 if d <= 2 else min(k, d) for k in counts]
    return sorted(set(counts))


def comparison_runs(config: dict, dataset: str) -> list[int]:
    """The runs of ``<dataset>.rule_comparison``: the dataset's first ``runs`` (null, or more than
    the dataset has: all)."""
    k = config[dataset]["rule_comparison"]["runs"]
    return list(range(config[dataset]["runs"]))[: k if k else None]


def without_later_defaults(config: dict) -> dict:
    """``config`` with the parameters of the decision rules (``rule``, ``n_chunks``), which came
    after results may exist, left out of every attack block that uses the default rule, with their
    defaults: rules re-run when their params change, and these defaults change no number
    (AttackParams fills them in again). A block with another rule keeps them all. So are the
    constraint modes' parameters: ``constraints`` and the calibration's where the block has the
    per-move limits, and the per-move limits the schema filled in where it is calibrated (a
    calibrated block must not carry them)."""
    from ..attacks.params import BY_NAME, PARAMETERS

    out = copy.deepcopy(config)
    for _, params in _attack_param_blocks(out):
        if params.get("rule", BY_NAME["rule"].default) == BY_NAME["rule"].default:
            for name in ("rule", "n_chunks"):
                if params.get(name, BY_NAME[name].default) == BY_NAME[name].default:
                    params.pop(name, None)
        if params.get("constraints") == "calibrated":  # the per-move limits the block's defaults brought
            for p in PARAMETERS:
                if p.of_constraints == "per_move":
                    params.pop(p.name, None)
        else:  # the default mode: its name and the calibration's parameters
            for name in ["constraints", *(p.name for p in PARAMETERS if p.of_constraints == "calibrated")]:
                if params.get(name, BY_NAME[name].default) == BY_NAME[name].default:
                    params.pop(name, None)
    return out


def _scaling_available(dataset: str, block: dict) -> tuple[int | None, str]:
    """An upper bound on the size-scaling study's attacked set that the configuration alone gives
    (the test split's events: the Donut's generated ones, the stand-in's), and what it is."""
    from ..data.standin import allocate

    test = block["split"][2]
    if block["scaling"]["data"] == "stand-in":
        n = int(allocate(block["scaling"]["stand_in"]["events"], block["split"])[2])
        return n, f"the stand-in's test split ({n} events, of which the attacked set is the targeted part)"
    if dataset == "donut":
        g = block["generate"]
        n = int(round((g["n_signal"] + g["n_background"]) * test))
        return n, f"the Donut's test split ({n} events, of which the attacked set is the targeted part)"
    return None, ""


def check_scaling(config: dict) -> None:
    """The size-scaling study (``<dataset>.scaling``, docs/method.md section 8.7) of every dataset
    that runs it: at least 5 sizes, strictly increasing, not above what the configuration says the
    test split holds (the attacked set's exact size is checked again once the model has chosen
    it); chunk counts within the features; the stand-in only for higgs; a run that exists; no rule
    in its own attack block (the study sets it). A ValueError names the key."""
    from ..attacks.params import BY_NAME
    from ..studies.scaling import size_errors

    for dataset in config.get("datasets", []):
        block = config.get(dataset) or {}
        scaling = block.get("scaling")
        if not scaling or not scaling.get("enabled"):
            continue
        key = f"{dataset}.scaling"
        if scaling["data"] == "stand-in" and dataset != "higgs":
            raise ValueError(f"config {key}.data: the stand-in exists for higgs only; use data: dataset")
        available, what = _scaling_available(dataset, block)
        errors = size_errors(scaling["sizes"], f"{key}.sizes", available, what)
        if errors:
            raise ValueError("\n".join(errors))
        d = feature_count(config, dataset)
        if "reference" in scaling["rules"] and d:
            over = [c for c in scaling["n_chunks"] if c > d]
            if over:
                raise ValueError(f"config {key}.n_chunks: {over[0]} chunks for {d} features; at most {d}")
        if scaling["data"] == "dataset" and scaling["run"] >= block["runs"]:
            raise ValueError(f"config {key}.run: run {scaling['run']} does not exist; {dataset}.runs is "
                             f"{block['runs']} (runs 0 to {block['runs'] - 1})")
        params = (scaling["attack"] or {}).get("params") or {}
        if "calibrated" in scaling["rules"]:
            path = f"{key}.attack.params" if scaling["attack"] else f"{dataset}.attack.params"
            check_calibrated_attack(params if scaling["attack"] else block["attack"]["params"], path,
                                    f"{key}.rules", "a list without calibrated")
        for name in ("rule", "n_chunks"):
            if params.get(name, BY_NAME[name].default) != BY_NAME[name].default:
                raise ValueError(f"config {key}.attack.params.{name}: set by the study ({key}.rules and "
                                 f"{key}.n_chunks); leave it out")
