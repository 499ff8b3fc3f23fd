"""The analyst's verdict (docs/method.md, studies 5 and 7): is the classifier's vulnerability covered
by the analysis' systematics budget, and does the detector flag real and simulated clean events
alike?"""

from __future__ import annotations

import math

from .detection import checked_fraction


def verdict(corrected_fr: float, systematics_budget: float, flag_rate_real: float | None = None,
            flag_rate_sim: float | None = None, consistency: dict | None = None) -> str:
    """Markdown verdict: robustness against the systematics budget, real versus simulated flags.

    The attack is covered when the corrected fooling ratio (what fools the classifier and passes
    the detector) is below ``systematics_budget``, the relative uncertainty the analysis already
    assigns to its physics systematics. When flag rates are known, the detector should flag real
    and simulated clean events at consistent rates; ``consistency`` (a ``binomial_consistency``
    result) supplies the test and, unless given explicitly, the two rates.
    """
    fr = checked_fraction("corrected_fr", corrected_fr, allow_nan=True)
    budget = checked_fraction("systematics_budget", systematics_budget)
    if consistency is not None:
        flag_rate_real = consistency["rate_real"] if flag_rate_real is None else flag_rate_real
        flag_rate_sim = consistency["rate_sim"] if flag_rate_sim is None else flag_rate_sim
    lines = ["### Analyst verdict", ""]
    if math.isnan(fr):
        lines.append(f"- Corrected fooling ratio: undefined (no attacked events); systematics budget {budget:.3f}.")
    elif fr < budget:
        lines.append(f"- Corrected fooling ratio {fr:.3f} is below the systematics budget {budget:.3f}: "
                     "adversaries that fool the classifier and pass the detector are covered by the "
                     "physics systematics.")
    else:
        lines.append(f"- Corrected fooling ratio {fr:.3f} is not below the systematics budget {budget:.3f}: "
                     "the classifier's vulnerability is **not** covered by the physics systematics.")
    if flag_rate_real is not None and flag_rate_sim is not None:
        real = checked_fraction("flag_rate_real", flag_rate_real)
        sim = checked_fraction("flag_rate_sim", flag_rate_sim)
        rates = f"real {real:.3f}, simulated {sim:.3f}"
        if consistency is None:
            lines.append(f"- Clean events flagged by the detector: {rates} (no consistency test given).")
        elif consistency["consistent"]:
            lines.append(f"- Clean events flagged by the detector: {rates}; consistent "
                         f"({consistency.get('test', 'test')} p = {consistency['p_value']:.3g}): the "
                         "detector does not single out real data.")
        else:
            lines.append(f"- Clean events flagged by the detector: {rates}; **inconsistent** "
                         f"({consistency.get('test', 'test')} p = {consistency['p_value']:.3g}): real "
                         "data differ from the simulation in directions the detector learnt as adversarial.")
    return "\n".join(lines) + "\n"
