"""Attack parameters (docs/method.md section 2) as a validated dataclass."""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass, fields
from typing import Any, Mapping


class ParameterError(ValueError):
    """A parameter is missing, unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class AttackParams:
    """Parameters of one CONSERVAttack call; field names are those of docs/method.md section 2.

    Features are expected min-max scaled to [0, 1]; ``min_change`` and ``step`` are in those units.

    Attributes
    ----------
    min_change : smallest move tried per feature (> 0).
    step : grid spacing between candidate moves (> 0); unused in random mode.
    num_candidates : None for grid mode; N > 0 for random mode (N moves drawn per feature).
    n_iterations : gradient/visit/re-evaluate iterations (>= 1).
    num_bins : equal-width bins of the per-feature histograms (>= 2).
    alpha, beta : weights of JSD and Frobenius norm in a candidate's cost (>= 0).
    max_jsd_single_change, max_frob_single_change : admissibility limits of one candidate (>= 0).
    use_no_change : fall back to "no move" when no candidate is admissible (else least cost).
    optimize_already_fooled : also visit fooled events and pull them back toward their clean
        values while they stay fooled and the cost against the clean statistics drops.
    max_search_steps : candidates per feature for ``optimize_already_fooled`` (>= 1).
    randomize_step, random_step_frac : scale min_change and step by U(1-f, 1+f), drawn per
        visited event and feature (0 <= f < 1).
    seed : seed of the attack's random generator (random mode and step jitter).
    use_disco : constrain the matrix of pairwise distance correlations (V-statistic) instead of
        the Pearson matrix: FN and the relative-FN metric use it (``conservattack.attacks.disco``).
    """

    min_change: float
    step: float = 0.0
    num_candidates: int | None = None
    n_iterations: int = 10
    num_bins: int = 100
    alpha: float = 1.0
    beta: float = 1.0
    max_jsd_single_change: float = 0.01
    max_frob_single_change: float = 0.001
    use_no_change: bool = True
    optimize_already_fooled: bool = False
    max_search_steps: int = 10
    randomize_step: bool = False
    random_step_frac: float = 0.0
    seed: int = 0
    use_disco: bool = False

    def __post_init__(self):
        def number(name, *, integer=False, minimum=None, exclusive=False, maximum=None, max_excl=False):
            value = getattr(self, name)
            ok_type = numbers.Integral if integer else numbers.Real
            if isinstance(value, bool) or not isinstance(value, ok_type):
                kind = "an integer" if integer else "a number"
                raise ParameterError(f"attack parameter '{name}' must be {kind}, got {value!r}")
            if value != value:  # NaN
                raise ParameterError(f"attack parameter '{name}' must not be NaN")
            if minimum is not None and (value <= minimum if exclusive else value < minimum):
                rel = ">" if exclusive else ">="
                raise ParameterError(f"attack parameter '{name}' must be {rel} {minimum}, got {value!r}")
            if maximum is not None and (value >= maximum if max_excl else value > maximum):
                rel = "<" if max_excl else "<="
                raise ParameterError(f"attack parameter '{name}' must be {rel} {maximum}, got {value!r}")

        number("min_change", minimum=0, exclusive=True, maximum=1)
        if self.num_candidates is None:
            number("step", minimum=0, exclusive=True, maximum=1)
        else:
            number("num_candidates", integer=True, minimum=1)
            number("step", minimum=0, maximum=1)
        number("n_iterations", integer=True, minimum=1)
        number("num_bins", integer=True, minimum=2)
        number("alpha", minimum=0)
        number("beta", minimum=0)
        number("max_jsd_single_change", minimum=0)
        number("max_frob_single_change", minimum=0)
        number("max_search_steps", integer=True, minimum=1)
        number("random_step_frac", minimum=0, maximum=1, max_excl=True)
        number("seed", integer=True, minimum=0)
        for name in ("use_no_change", "optimize_already_fooled", "randomize_step", "use_disco"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(
                    f"attack parameter '{name}' must be true or false, got {getattr(self, name)!r}"
                )

    @property
    def random_mode(self) -> bool:
        return self.num_candidates is not None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], **overrides) -> "AttackParams":
        """Build from a config mapping (e.g. a block of config.yaml); unknown keys are an error."""
        merged = {**dict(cfg), **overrides}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise ParameterError(
                f"unknown attack parameter(s) {unknown}; known parameters: {sorted(known)}"
            )
        if "min_change" not in merged:
            raise ParameterError("attack parameter 'min_change' is required")
        return cls(**merged)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
