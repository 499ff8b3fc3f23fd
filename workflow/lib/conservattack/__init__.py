"""conservattack: adversarial samples that pass marginal and correlation checks (CONSERVAttack).

Public API::

    from conservattack import attack, AttackParams
    result = attack(model, X, y, AttackParams(min_change=0.001, step=0.002), mask=None)
    result.X_adv, result.fooled, result.history, result.fooling_ratio

The method is described in docs/method.md. Subpackages, from the bottom layer up; each imports
only from the ones above it in this list (tests/pipeline/test_layout.py checks it):

- ``attacks``: the attack itself. Needs nothing but arrays and a torch model: ``params``
  (``AttackParams``, the one table of parameter facts), ``running_stats`` (exact running
  histograms and Pearson co-moments), ``metrics``, ``inference`` (probabilities, gradient signs),
  ``state`` (``AttackState``: one attack, the numpy reference of its decisions), ``api``
  (``attack()``), ``disco`` (the distance-correlation constraint), ``engines`` (numpy, naive,
  the compiled cpu loop, cuda).
- ``models``: the paper's MLP and its training (``mlp``), ``torch.export`` programs
  (``exported``), an analyst's own model (``imported``).
- ``data``: files (``io``, ``tables``), splitting and scaling (``preprocessing``), the data sets
  (``donut``, ``higgs``, ``jets`` and ``ttww``, ``custom``, ``real``, ``units``), the stand-in
  of a real sample at a larger size (``standin``) and downloads (``fetch.download``,
  ``fetch.opendata``).
- ``studies``: what the studies compute from attacks and models: ``cross_run``, ``detection``,
  ``verdict``, ``restricted``, ``adversarial_training``, ``disco`` (study 9), ``scaling`` (size
  scaling), ``validation`` (an attack against an independent sample), ``paper`` (the paper's numbers), ``glossary`` (what each summary metric measures).
- ``plots``: the figures (``style``, ``figures``, ``disco``, ``scaling``, ``validation``).
- ``pipeline``: what only the Snakemake rules use: ``configschema``, ``deps``, ``runlog``,
  ``provenance``, ``seeds``, ``attack_inputs``, ``report``, ``custom_config``.
- ``bench``: ``python -m conservattack.bench`` (engines and distance-correlation benchmarks).

Names are imported lazily (``_EXPORTS``), so that importing one module does not import all of
them (``conservattack._lazy``).
"""

from ._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it, relative to this package
_EXPORTS = {
    "attack": "attacks.api",
    "AttackResult": "attacks.api",
    "AttackParams": "attacks.params",
    "AttackState": "attacks.state",
    "ParameterError": "attacks.params",
    "PaperMLP": "models.mlp",
}

__all__ = [*_EXPORTS, "__version__"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
