"""Statistics of the adversarial detector (docs/method.md, studies 5, 6 and 7).

The detector is trained on clean events (label 1) against fooling adversaries (label 0) and
outputs P(clean). At a threshold t an event *passes* (is accepted as clean) when its score is
>= t and is *flagged* as adversarial otherwise. Everything here works on arrays that the
workflow has already computed: no models, no files.

- study 5: ``corrected_fooling_ratio``, ``detector_efficiency``, ``class_balance_weights``;
- study 6: ``repeated_misclassification`` (how often the same clean event is flagged over runs);
- study 7: ``acceptance_curve`` and ``binomial_consistency`` (real versus simulated clean events);
- ``verdict``: the analyst's conclusion in Markdown.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import gammainc, gammaln, ndtri_exp
from scipy.stats import binom, fisher_exact

DEFAULT_THRESHOLD = 0.5
DEFAULT_ALPHA = 0.05


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
def _vector(name: str, x) -> np.ndarray:
    """``x`` as a 1-D array, or a ValueError naming ``name``."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per event); got shape {a.shape}")
    return a


def _flags(name: str, x) -> np.ndarray:
    """``x`` as a boolean array: bool dtype, or integers that are all 0 or 1 (or empty)."""
    a = np.asarray(x)
    if a.dtype == bool or a.size == 0:
        return a.astype(bool)
    if np.issubdtype(a.dtype, np.integer) and np.isin(a, (0, 1)).all():
        return a.astype(bool)
    raise ValueError(f"{name} must be boolean (or integers 0/1); got dtype {a.dtype}")


def _scores(name: str, x) -> np.ndarray:
    """``x`` as a 1-D float64 array of finite detector scores."""
    a = _vector(name, x)
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name} must hold numbers (detector P(clean)); got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite; found {int((~np.isfinite(a)).sum())} NaN/inf values")
    return a


def _threshold(name: str, t) -> float:
    """``t`` as a finite float."""
    try:
        t = float(t)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {t!r}") from None
    if not math.isfinite(t):
        raise ValueError(f"{name} must be finite; got {t}")
    return t


def checked_fraction(name: str, x, allow_nan: bool = False) -> float:
    """``x`` as a float in [0, 1]; NaN only with ``allow_nan`` (an undefined rate)."""
    x = float(x)
    if not ((allow_nan and math.isnan(x)) or 0.0 <= x <= 1.0):
        raise ValueError(f"{name} must be a fraction in [0, 1]; got {x}")
    return x


def _count(name: str, k) -> int:
    """``k`` as a non-negative Python int."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{name} must be a non-negative integer count; got {k!r}")
    if k < 0:
        raise ValueError(f"{name} must be a non-negative integer count; got {k}")
    return int(k)


# --------------------------------------------------------------------------------------------
# Study 5: corrected fooling ratio, detector efficiency, class balance
# --------------------------------------------------------------------------------------------
def corrected_fooling_ratio(fooled, detector_score, threshold: float = DEFAULT_THRESHOLD) -> float:
    """Fraction of attacked events that fool the classifier AND pass the detector.

    ``fooled[i]`` says whether adversary i fools the classifier, ``detector_score[i]`` is the
    detector's P(clean) on it; it passes when the score is >= ``threshold``. The denominator is
    every attacked event, so the result is at most the plain fooling ratio. Empty input -> NaN.
    """
    fooled = _flags("fooled", _vector("fooled", fooled))
    score = _scores("detector_score", detector_score)
    if len(fooled) != len(score):
        raise ValueError(f"fooled and detector_score must have one entry per attacked event; "
                         f"got lengths {len(fooled)} and {len(score)}")
    if len(fooled) == 0:
        return float("nan")
    return float((fooled & (score >= _threshold("threshold", threshold))).mean())


def detector_efficiency(score_adversarial, score_clean, threshold: float = DEFAULT_THRESHOLD) -> dict:
    """The detector's efficiency on each class at ``threshold``.

    ``detector_efficiency_adversarial``: fraction of adversaries flagged (score < threshold);
    ``detector_efficiency_clean``: fraction of clean events accepted (score >= threshold).
    An empty input gives NaN for its entry. The keys match ``paper.PAPER_NUMBERS``.
    """
    t = _threshold("threshold", threshold)
    adv = _scores("score_adversarial", score_adversarial)
    clean = _scores("score_clean", score_clean)
    return {"detector_efficiency_adversarial": float((adv < t).mean()) if adv.size else float("nan"),
            "detector_efficiency_clean": float((clean >= t).mean()) if clean.size else float("nan")}


def operating_point(fooled, score_adversarial, score_clean, threshold: float = DEFAULT_THRESHOLD) -> dict:
    """The detector study's numbers at ``threshold`` for one set of adversaries: the corrected
    fooling ratio (``fooled`` and ``score_adversarial``: one entry per attacked event) and the
    efficiencies on the fooling adversaries and on the clean events (``score_clean``)."""
    corrected = corrected_fooling_ratio(fooled, score_adversarial, threshold)  # checks both and their lengths
    fooled = _flags("fooled", _vector("fooled", fooled))
    return {"corrected_fooling_ratio": corrected,
            **detector_efficiency(np.asarray(score_adversarial, np.float64)[fooled], score_clean, threshold)}


def class_balance_weights(y) -> np.ndarray:
    """Per-event weights giving both classes the same total weight, with mean weight 1.

    An event of class c gets N / (2 * n_c): each class then sums to N / 2 and all weights to N.
    ``y`` holds labels 0/1 (detector: 1 clean, 0 adversarial); both classes must be present.
    """
    y = _flags("y", _vector("y", y))
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n0 == 0 or n1 == 0:
        raise ValueError(f"y must contain both classes to balance them; got {n0} of class 0 and {n1} of class 1")
    n = len(y)
    return np.where(y, n / (2.0 * n1), n / (2.0 * n0))


# --------------------------------------------------------------------------------------------
# Study 6: repeated misclassification of clean events over runs
# --------------------------------------------------------------------------------------------
# below this, gammainc has lost relative precision to subnormal numbers or underflowed to 0
_TINY_LOG_TAIL = math.log(1e-280)


def poisson_log_tail(observed, expected) -> np.ndarray:
    """ln P(X >= observed) for X ~ Poisson(expected), elementwise, finite where the probability
    itself underflows float64 (scipy's ``poisson.logsf`` is then -inf).

    For observed = a >= 1 the tail is the regularized lower incomplete gamma P(a, x), x =
    expected. Where it is too small for ``gammainc``, the series
    P(a, x) = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n))
    is summed in log space; such a tail implies x < a, so its terms fall geometrically. The tail
    is 1 (log 0) for observed <= 0, and 0 (log -inf) for observed >= 1 with expected 0.
    """
    a, x = np.broadcast_arrays(np.asarray(observed, float), np.asarray(expected, float))
    if np.isnan(a).any() or np.isnan(x).any() or (x < 0).any():
        raise ValueError("poisson_log_tail needs counts and non-negative expectations without NaN")
    out = np.zeros(a.shape)
    excess = a > 0
    with np.errstate(divide="ignore"):
        out[excess] = np.log(gammainc(a[excess], x[excess]))
    deep = excess & (x > 0) & (out < _TINY_LOG_TAIL)
    if deep.any():
        ad, xd = a[deep], x[deep]
        total, term, n = np.ones(ad.shape), np.ones(ad.shape), 0
        while True:
            n += 1
            term = term * xd / (ad + n)
            total += term
            if (term <= 1e-17 * total).all():
                break
        out[deep] = ad * np.log(xd) - xd - gammaln(ad + 1) + np.log(total)
    return out


def repeated_misclassification(flags, alpha: float = DEFAULT_ALPHA) -> pd.DataFrame:
    """How often the same clean event is flagged over R detector runs, against independence.

    ``flags`` is an (R runs x N clean events) boolean array, True where run r flags event i as
    adversarial. With p = flags.mean() (= 1 - mean clean acceptance), independent runs would flag
    an event k times with probability Binomial(k; R, p). One row per k = 0..R:

    - ``k``; ``observed`` O_k = number of events flagged in exactly k runs;
    - ``expected`` E_k = N * Binomial(k; R, p);
    - ``p_value`` = P(X >= O_k) for X ~ Poisson(E_k) (one-sided: an excess of events);
    - ``log10_p_value``: its decimal logarithm, finite where ``p_value`` underflows to 0 (an
      excess beyond about 37 sigma; see ``poisson_log_tail``);
    - ``z_value``: the one-sided Gaussian significance Z = Phi^-1(1 - p), set to 0 where there
      is no excess (p >= 0.5), the usual discovery-significance convention;
    - ``significant`` = p_value < ``alpha``.

    ``df.attrs`` holds ``p``, ``n_runs``, ``n_events`` and ``alpha``.
    """
    a = np.asarray(flags)
    if a.ndim != 2:
        raise ValueError(f"flags must be 2-D (runs x clean events); got shape {a.shape}")
    R, N = a.shape
    if R < 1 or N < 1:
        raise ValueError(f"flags needs at least one run and one event; got shape {a.shape}")
    a = _flags("flags", a)
    alpha = checked_fraction("alpha", alpha)
    p = float(a.mean())
    k = np.arange(R + 1)
    observed = np.bincount(a.sum(axis=0), minlength=R + 1)
    expected = N * binom.pmf(k, R, p)
    log_p = poisson_log_tail(observed, expected)
    p_value = np.exp(log_p)
    df = pd.DataFrame({"k": k, "observed": observed, "expected": expected, "p_value": p_value,
                       "log10_p_value": log_p / math.log(10), "z_value": np.maximum(-ndtri_exp(log_p), 0.0),
                       "significant": p_value < alpha})
    df.attrs.update(p=p, n_runs=R, n_events=N, alpha=alpha)
    return df


# --------------------------------------------------------------------------------------------
# Study 7: acceptance versus threshold, real versus simulated
# --------------------------------------------------------------------------------------------
def acceptance_curve(scores_by_run, thresholds) -> pd.DataFrame:
    """Clean acceptance versus threshold: mean, spread and range over runs.

    ``scores_by_run`` holds one 1-D array per run (detector P(clean) on clean events; runs may
    score different events). Acceptance of a run at t = fraction of its scores >= t. Columns:
    ``threshold``, ``mean``, ``std`` (ddof=1 over runs; 0 for a single run), ``min``, ``max``.
    """
    runs = [_scores(f"scores_by_run[{r}]", s) for r, s in enumerate(scores_by_run)]
    if not runs:
        raise ValueError("scores_by_run must hold at least one run")
    empty = [r for r, s in enumerate(runs) if s.size == 0]
    if empty:
        raise ValueError(f"scores_by_run must have events in every run; runs {empty} are empty")
    t = _scores("thresholds", thresholds)
    acc = np.array([(s[:, None] >= t[None, :]).mean(axis=0) for s in runs])  # runs x thresholds
    std = acc.std(axis=0, ddof=1) if len(runs) > 1 else np.zeros(len(t))
    return pd.DataFrame({"threshold": t, "mean": acc.mean(axis=0), "std": std,
                         "min": acc.min(axis=0), "max": acc.max(axis=0)})


def binomial_consistency(k_real, n_real, k_sim, n_sim, alpha: float = DEFAULT_ALPHA) -> dict:
    """Are real and simulated clean events flagged at the same rate? Two-sided Fisher exact test.

    ``k`` of ``n`` clean events flagged, for real data and for simulation. The test is Fisher's
    exact test on the 2x2 table [[k_real, n_real - k_real], [k_sim, n_sim - k_sim]]: it is exact
    at any count and treats both rates as estimates. (A binomial test of k_real against k_sim /
    n_sim would take the simulated rate as known and overstate significance when n_sim is not
    much larger than n_real.) The counts must be of independent events, e.g. one detector run.

    Returns ``rate_real``, ``rate_sim``, ``p_value``, ``consistent`` (p_value >= ``alpha``) and
    ``test``.
    """
    counts = {name: _count(name, v) for name, v in
              (("k_real", k_real), ("n_real", n_real), ("k_sim", k_sim), ("n_sim", n_sim))}
    for k, n in (("k_real", "n_real"), ("k_sim", "n_sim")):
        if counts[n] == 0:
            raise ValueError(f"{n} must be positive; got 0")
        if counts[k] > counts[n]:
            raise ValueError(f"{k} must be at most {n}; got {counts[k]} > {counts[n]}")
    alpha = checked_fraction("alpha", alpha)
    kr, nr, ks, ns = counts["k_real"], counts["n_real"], counts["k_sim"], counts["n_sim"]
    p_value = float(fisher_exact([[kr, nr - kr], [ks, ns - ks]], alternative="two-sided").pvalue)
    return {"rate_real": kr / nr, "rate_sim": ks / ns, "p_value": p_value,
            "consistent": bool(p_value >= alpha), "test": "fisher_exact"}


# --------------------------------------------------------------------------------------------
# The analyst's verdict
# --------------------------------------------------------------------------------------------
def detector_training_set(X_clean, X_adv, fooled, source: str = "the adversaries"):
    """Clean events (label 1) and the fooled adversaries (label 0) with class-balance weights.

    Returns (X, y, weights). The workflow passes every clean event of the split (both classes),
    so that an adversary is told apart from real events of either class, and the adversaries that
    fool the classifier. None fooled is an error naming ``source`` (the adversaries' file).
    """
    X_clean = np.asarray(X_clean, np.float64)
    fooled = _flags("fooled", _vector("fooled", fooled))
    X_adv = np.asarray(X_adv, np.float64)[fooled]
    if len(X_adv) == 0:
        raise ValueError(
            f"no fooled adversary to train the detector on in {source}: the attack fooled none of its "
            f"{len(fooled)} attacked event(s). The detector needs fooled adversaries in both its training and "
            f"its validation split: give the study more events, or a stronger detector attack (more "
            f"iterations, looser per-move limits in the dataset's detector.attack.params)")
    X = np.vstack([X_clean, X_adv])
    y = np.r_[np.ones(len(X_clean), np.int64), np.zeros(len(X_adv), np.int64)]
    return X, y, class_balance_weights(y)
