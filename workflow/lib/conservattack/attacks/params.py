"""Attack parameters (docs/method.md section 2): one table of their facts, and the validated
``AttackParams`` built from it.

``PARAMETERS`` is the one place where each parameter's name, type, default, limits and meaning are
written. ``AttackParams`` (its fields, defaults, docstring and checks) is made from it, and
``schema_properties`` gives the JSON-schema properties the workflow's config schema must declare
for an attack block (tests/attacks/test_params.py fails when workflow/schemas/config.schema.yaml
differs). The paper's parameter sets are rows of ``conservattack.studies.paper.PAPER_PARAMETERS``.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import fields
from typing import Any, Mapping, NamedTuple


class ParameterError(ValueError):
    """A parameter is missing, unknown, of the wrong type or out of range."""


REQUIRED = object()  # the default of a parameter that must be given
RULES = ("exact", "reference")  # the decision rules: attacks.state and attacks.reference
CONSTRAINTS = ("per_move", "calibrated")  # the paper's per-move limits, or budgets from the sample (attacks.calibration)
# What the calibrated constraints need of the other parameters: name -> (required value, why). The
# attack (AttackParams) and the workflow's config checks (pipeline.configschema) both read it.
CALIBRATED_NEEDS = {
    "rule": ("exact", "the authors' rule has per-move limits only"),
    "use_no_change": (True, "a fallback move would break the budgets"),
    "optimize_already_fooled": (False, "its pull-back is defined by per-move costs"),
}
DCOR_SIGMAS = ("jackknife", "bootstrap")  # how calibrated budgets estimate the spread of a dCor coefficient


class Parameter(NamedTuple):
    """The facts of one attack parameter. ``kind``: "number", "integer", "boolean" or "string"
    (one of ``choices``); ``nullable``: None is allowed (and means something, see
    ``description``); ``in_config``: the workflow's attack blocks take it (``seed`` is derived from
    the config's base seed); ``in_ranges``: adversarial training may draw it from a range;
    ``of_rule``: the decision rule it belongs to (None: every rule), an error with another rule
    unless it has its default; ``of_constraints``: the same for the constraint mode."""

    name: str
    kind: str
    default: Any
    description: str
    minimum: float | None = None
    exclusive_minimum: bool = False
    maximum: float | None = None
    exclusive_maximum: bool = False
    nullable: bool = False
    in_config: bool = True
    in_ranges: bool = True
    choices: tuple = ()
    of_rule: str | None = None
    of_constraints: str | None = None


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("min_change", "number", REQUIRED, "Smallest candidate move.", 0, True, 1),
    Parameter("step", "number", 0.0, "Grid spacing between candidate moves (grid mode; > 0 there).", 0, False, 1),
    Parameter("num_candidates", "integer", None, "null: grid mode; N: random mode with N moves U(min_change, room).",
              1, nullable=True),
    Parameter("n_iterations", "integer", 10, "Attack iterations.", 1),
    Parameter("num_bins", "integer", 100, "Histogram bins of the JSD constraint and metric.", 2),
    Parameter("alpha", "number", 1.0, "Weight of the JSD in a candidate's cost.", 0),
    Parameter("beta", "number", 1.0, "Weight of the Frobenius norm in a candidate's cost.", 0),
    Parameter("max_jsd_single_change", "number", 0.01, "Largest admissible JSD of one move.", 0,
              of_constraints="per_move"),
    Parameter("max_frob_single_change", "number", 0.001, "Largest admissible Frobenius norm of one move.", 0,
              of_constraints="per_move"),
    Parameter("use_no_change", "boolean", True, "No move when no candidate is admissible (else the least-cost one)."),
    Parameter("optimize_already_fooled", "boolean", False,
              "Pull fooled events back toward their clean values while they stay fooled."),
    Parameter("max_search_steps", "integer", 10, "Candidate steps per feature for optimize_already_fooled.", 1),
    Parameter("randomize_step", "boolean", False, "Scale min_change and step by U(1-f, 1+f) per event and feature."),
    Parameter("random_step_frac", "number", 0.0, "The f of randomize_step.", 0, False, 1, True),
    Parameter("seed", "integer", 0, "Seed of the attack's random generator (random mode and step jitter).", 0,
              in_config=False, in_ranges=False),
    Parameter("use_disco", "boolean", False,
              "Constrain the matrix of pairwise distance correlations (V-statistic) instead of the Pearson matrix; "
              "FN and the relative-FN metric use it (numpy engine: auto picks it).", in_ranges=False),
    Parameter("rule", "string", "exact",
              "Decision rule: exact (the paper's stated rule, evaluated exactly) or reference (the authors' code, "
              "emulated; docs/method.md section 8).", choices=RULES),
    Parameter("n_chunks", "integer", 1,
              "Reference rule: feature chunks worked on independently, each blind to the others' moves "
              "(the authors' n_gpus); 1 to the number of features.", 1, of_rule="reference"),
    Parameter("constraints", "string", "per_move",
              "per_move: the paper's limits on each move (max_jsd_single_change, max_frob_single_change); "
              "calibrated: budgets from bootstrap resamples of the clean attacked set (docs/method.md section 2.13).",
              choices=CONSTRAINTS),
    Parameter("calibration_resamples", "integer", 200, "Calibrated constraints: bootstrap resamples B.", 20,
              in_ranges=False, of_constraints="calibrated"),
    Parameter("calibration_quantile", "number", 0.5,
              "Calibrated constraints: a feature's JSD budget is this quantile of its resamples' JSDs.",
              0, True, 1, True, in_ranges=False, of_constraints="calibrated"),
    Parameter("calibration_z", "number", 1.0,
              "Calibrated constraints: a coefficient may move by z times its bootstrap standard deviation.",
              0, True, in_ranges=False, of_constraints="calibrated"),
    Parameter("calibration_dcor_sigma", "string", "jackknife",
              "Calibrated constraints with use_disco: the spread of a distance correlation from the delete-one "
              "jackknife (about one from-scratch dCor matrix) or from the bootstrap resamples (B of them); "
              "Pearson budgets always use the bootstrap.", choices=DCOR_SIGMAS, in_ranges=False,
              of_constraints="calibrated"),
)
PER_MOVE_LIMITS = [p.name for p in PARAMETERS if p.of_constraints == "per_move"]
BY_NAME = {p.name: p for p in PARAMETERS}
_PYTHON_TYPE = {"number": "float", "integer": "int", "boolean": "bool", "string": "str"}


def _check(p: Parameter, value) -> None:
    """ParameterError unless ``value`` is of ``p``'s kind and within its limits."""
    if p.kind == "boolean":
        if not isinstance(value, bool):
            raise ParameterError(f"attack parameter '{p.name}' must be true or false, got {value!r}")
        return
    if p.kind == "string":
        if value not in p.choices:
            import difflib

            close = difflib.get_close_matches(str(value), p.choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParameterError(f"attack parameter '{p.name}' must be one of {list(p.choices)}, got {value!r}{hint}")
        return
    ok_type = numbers.Integral if p.kind == "integer" else numbers.Real
    if isinstance(value, bool) or not isinstance(value, ok_type):
        kind = "an integer" if p.kind == "integer" else "a number"
        raise ParameterError(f"attack parameter '{p.name}' must be {kind}, got {value!r}")
    if value != value:  # NaN
        raise ParameterError(f"attack parameter '{p.name}' must not be NaN")
    if p.minimum is not None and (value <= p.minimum if p.exclusive_minimum else value < p.minimum):
        rel = ">" if p.exclusive_minimum else ">="
        raise ParameterError(f"attack parameter '{p.name}' must be {rel} {p.minimum}, got {value!r}")
    if p.maximum is not None and (value >= p.maximum if p.exclusive_maximum else value > p.maximum):
        rel = "<" if p.exclusive_maximum else "<="
        raise ParameterError(f"attack parameter '{p.name}' must be {rel} {p.maximum}, got {value!r}")


def _validate(params) -> None:
    """Every parameter against its row of ``PARAMETERS``, numbers before booleans; in grid mode
    (no ``num_candidates``) ``step`` must be > 0, and in random mode ``num_candidates`` is checked
    before the (unused) ``step``."""
    order = [p for p in PARAMETERS if p.kind not in ("boolean", "string")] + \
        [p for p in PARAMETERS if p.kind in ("boolean", "string")]
    if params.num_candidates is not None:
        order.remove(BY_NAME["num_candidates"])
        order.insert(order.index(BY_NAME["step"]), BY_NAME["num_candidates"])
    for p in order:
        value = getattr(params, p.name)
        if value is None and p.nullable:
            continue
        if p.name == "step" and params.num_candidates is None:
            p = p._replace(exclusive_minimum=True)
        _check(p, value)
    for p in PARAMETERS:
        if p.of_rule is not None and p.of_rule != params.rule and getattr(params, p.name) != p.default:
            raise ParameterError(f"attack parameter '{p.name}' belongs to rule '{p.of_rule}', but rule is "
                                 f"'{params.rule}'; set rule: {p.of_rule} or leave {p.name} out")
    for p in PARAMETERS:
        if p.of_constraints is not None and p.of_constraints != params.constraints and \
                getattr(params, p.name) != p.default:
            raise ParameterError(f"attack parameter '{p.name}' belongs to constraints '{p.of_constraints}', but "
                                 f"constraints is '{params.constraints}'; leave {p.name} out or set "
                                 f"constraints: {p.of_constraints}")
    if params.constraints == "calibrated":
        for name, (needed, why) in CALIBRATED_NEEDS.items():
            if getattr(params, name) != needed:
                raise ParameterError(f"attack parameter '{name}' = {getattr(params, name)!r} cannot be combined with "
                                     f"constraints: calibrated ({why})")
    if params.rule == "reference":
        for name in ("optimize_already_fooled", "use_disco"):
            if getattr(params, name):
                raise ParameterError(f"attack parameter '{name}' is not part of rule 'reference' (the authors' "
                                     f"code as recorded); use rule: exact for it")


def _docstring() -> str:
    lines = ["Parameters of one CONSERVAttack call (docs/method.md section 2), made from ``PARAMETERS``.", "",
             "Features are expected min-max scaled to [0, 1]; ``min_change`` and ``step`` are in those units.", "",
             "Attributes", "----------"]
    for p in PARAMETERS:
        default = "required" if p.default is REQUIRED else f"default {p.default!r}"
        lines.append(f"{p.name} : {_PYTHON_TYPE[p.kind]}{' or None' if p.nullable else ''}, {default}. "
                     f"{p.description}")
    return "\n".join(lines)


def _post_init(self) -> None:
    _validate(self)


def _random_mode(self) -> bool:
    """True in random mode (``num_candidates`` set), False in grid mode."""
    return self.num_candidates is not None


def _from_config(cls, cfg: Mapping[str, Any], **overrides) -> "AttackParams":
    """Build from a config mapping (e.g. a block of config.yaml); unknown keys are an error."""
    merged = {**dict(cfg), **overrides}
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(merged) - known)
    if unknown:
        raise ParameterError(f"unknown attack parameter(s) {unknown}; known parameters: {sorted(known)}")
    if merged.get("constraints") == "calibrated":  # a per-move limit given, even at its default value
        given = [name for name in PER_MOVE_LIMITS if name in merged]
        if given:
            raise ParameterError(f"attack parameter '{given[0]}' is a per-move limit, but constraints is "
                                 "'calibrated' (its budgets come from the sample); remove it, or set "
                                 "constraints: per_move")
    missing = [p.name for p in PARAMETERS if p.default is REQUIRED and p.name not in merged]
    if missing:
        raise ParameterError(f"attack parameter '{missing[0]}' is required")
    return cls(**merged)


def _to_dict(self) -> dict:
    return dataclasses.asdict(self)


# The dataclass is made from the table, so a parameter is added, renamed or documented in one place.
AttackParams = dataclasses.make_dataclass(
    "AttackParams",
    [(p.name, f"{_PYTHON_TYPE[p.kind]}{' | None' if p.nullable else ''}",
      dataclasses.field() if p.default is REQUIRED else dataclasses.field(default=p.default)) for p in PARAMETERS],
    namespace={"__doc__": _docstring(), "__post_init__": _post_init, "random_mode": property(_random_mode),
               "from_config": classmethod(_from_config), "to_dict": _to_dict},
    frozen=True,
)
AttackParams.__module__ = __name__


def schema_properties(ranges: bool = False) -> dict:
    """The JSON-schema ``properties`` of an attack block's ``params`` in the workflow's config
    schema (``$defs.attack``), or with ``ranges`` those of adversarial training's drawn attack
    (``$defs.attack_ranges``: every numeric parameter may also be a [low, high] range)."""
    out = {}
    for p in PARAMETERS:
        if not p.in_config or (ranges and not p.in_ranges):
            continue
        node: dict[str, Any] = {"type": [p.kind, "null"] if p.nullable else p.kind}
        if p.choices:
            node["enum"] = list(p.choices)
        if p.minimum is not None:
            node["exclusiveMinimum" if p.exclusive_minimum else "minimum"] = p.minimum
        if p.maximum is not None:
            node["exclusiveMaximum" if p.exclusive_maximum else "maximum"] = p.maximum
        if ranges and p.kind not in ("boolean", "string"):
            node = {"anyOf": [node, {"$ref": "#/$defs/range"}]}
        if p.default is not REQUIRED:
            node["default"] = p.default
        node["description"] = p.description
        out[p.name] = node
    return out


REQUIRED_PARAMETERS = [p.name for p in PARAMETERS if p.default is REQUIRED]
