"""Facts about each study's data set that figures and tables need."""

from __future__ import annotations


def feature_units(dataset: str, features) -> list[str]:
    """Unit of each feature ("" for dimensionless); the Donut toy is in arbitrary units."""
    if dataset == "higgs":
        from .higgs import UNITS

        return [UNITS.get(f, "") for f in features]
    if dataset == "donut":
        return ["a.u."] * len(features)
    if dataset == "ttww":  # TopoDNN: pT_i divided by a fixed scale (dimensionless), eta_i, phi_i in rad
        return ["rad" if f.startswith("phi_") else "" for f in features]
    return [""] * len(features)
