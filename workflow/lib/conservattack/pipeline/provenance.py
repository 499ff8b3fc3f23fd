"""What produced an output: the configuration and the package versions."""

from __future__ import annotations

import importlib.metadata
import platform
from typing import Any, Mapping

PACKAGES = ("conservattack", "torch", "numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "numba", "uproot",
            "awkward", "fastjet", "matplotlib", "mplhep", "snakemake")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(config: Mapping[str, Any] | None = None, **extra) -> dict:
    """A JSON-ready record of the configuration used and the package versions."""
    import torch

    return {"config": dict(config or {}), "versions": package_versions(),
            "torch_threads": torch.get_num_threads(), "machine": platform.machine(), **extra}
