"""Facts about each study's data set that figures and tables need."""

from __future__ import annotations


def feature_units(dataset: str, features, declared=None) -> list[str]:
    """Unit of each feature ("" for dimensionless); the Donut toy is in arbitrary units.

    ``declared`` maps feature names to units for data sets the user describes (``custom.data.units``);
    features it does not name get "".
    """
    if declared:
        return [str(declared.get(f, "")) for f in features]
    if dataset == "higgs":
        from .higgs import UNITS

        return [UNITS.get(f, "") for f in features]
    if dataset == "donut":
        return ["a.u."] * len(features)
    if dataset == "ttww":  # TopoDNN: pT_i divided by a fixed scale (dimensionless), eta_i, phi_i in rad
        return ["rad" if f.startswith("phi_") else "" for f in features]
    return [""] * len(features)
