"""Checks of the analyst toolkit's config block (``custom``), made when the workflow is parsed."""

from __future__ import annotations

from pathlib import Path


def check_custom_config(cfg) -> None:
    """Stop before any rule runs when the ``custom`` block cannot work: no data file, a named
    file that does not exist, no features."""
    data = cfg["data"]
    if not data.get("path"):
        raise ValueError("config custom.data.path: name your events file (Parquet, CSV or ROOT)")
    if not data.get("features"):
        raise ValueError("config custom.data.features: list the feature columns the model uses")
    for key, path in (("custom.data.path", data["path"]), ("custom.real_data", cfg.get("real_data")),
                      ("custom.model.path", (cfg.get("model") or {}).get("path"))):
        if path and not Path(path).is_file():
            raise FileNotFoundError(f"config {key}: {path} does not exist")
