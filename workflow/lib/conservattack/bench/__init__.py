"""Benchmarks that print their figures as JSON lines: ``python -m conservattack.bench --help``.

- ``engines``: the attack engines (cpu, numpy, naive, cuda and its batched mode) on a case's
  parameters (higgs, ttww, donut) at any n;
- ``disco``: the distance-correlation statistics and attack (``--case disco``);
- ``common``: the fixed synthetic set and model both use.
"""

__all__ = ["common", "disco", "engines"]
