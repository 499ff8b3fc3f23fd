"""Checks of the analyst toolkit's config block (``custom``), made when the workflow is parsed."""

from __future__ import annotations

from pathlib import Path


def check_custom_config(cfg) -> None:
    """Stop before any rule runs when the ``custom`` block cannot work: no data file, a named
    file that does not exist or is not a file, no features, and events or real data whose format
    cannot be told or that lack a configured column (read from the header, the Parquet schema
    or the ROOT tree's branches, without the data)."""
    data = cfg["data"]
    if not data.get("path"):
        raise ValueError("config custom.data.path: name your events file (Parquet, CSV or ROOT)")
    if not data.get("features"):
        raise ValueError("config custom.data.features: list the feature columns the model uses")
    for key, path in (("custom.data.path", data["path"]), ("custom.real_data", cfg.get("real_data")),
                      ("custom.model.path", (cfg.get("model") or {}).get("path"))):
        if path and not Path(path).is_file():
            what = "is a directory, not a file" if Path(path).is_dir() else "does not exist"
            raise FileNotFoundError(f"config {key}: {path} {what}")
    features, label = list(data["features"]), data.get("label", "label")
    _check_columns("custom.data.path", data["path"], data.get("format", "auto"), data.get("tree"), features + [label])
    if cfg.get("real_data"):
        _check_columns("custom.real_data", cfg["real_data"], "auto", cfg.get("real_tree") or data.get("tree"), features)
    unknown = sorted(set(data.get("units") or {}) - set(features))
    if unknown:
        raise ValueError(f"config custom.data.units: {unknown} are not features (custom.data.features: {features})")


def _check_columns(key: str, path, fmt: str, tree, columns) -> None:
    from ..data.custom import check_columns, column_names  # reads files: only when custom is configured

    try:
        check_columns(path, columns, column_names(path, fmt, tree))
    except ValueError as exc:
        raise ValueError(f"config {key}: {exc}") from exc
