"""Reading and writing the workflow's files, with errors that name the file."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


# Every ROOT file (a TFile) starts with these bytes.
ROOT_MAGIC = b"root"


def not_root_head(path, n: int = 40) -> bytes | None:
    """The first ``n`` bytes of ``path`` when it does not start like a ROOT file (``ROOT_MAGIC``),
    for an error message; None when it does."""
    with open(path, "rb") as fh:
        head = fh.read(max(n, len(ROOT_MAGIC)))
    return None if head.startswith(ROOT_MAGIC) else head[:n]


def read_parquet(path, columns=None) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f"{path}: cannot read as Parquet ({exc})") from exc
    if columns is not None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; columns present: {list(df.columns)}")
    return df


def write_parquet(df: pd.DataFrame, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)


def _default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _create_beside(path: Path):
    """A new temporary file in ``path``'s folder, open for writing, and its path. Created with
    mode 0o666 less the umask, as a plain ``open(path, "w")`` would create ``path`` itself: the
    file renamed into place keeps this mode, so collaborators sharing the results folder can read
    it (``tempfile.mkstemp`` would make it 0600)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return os.fdopen(fd, "w"), tmp


def write_json(obj: Any, path) -> None:
    """Write JSON atomically (a temporary file renamed into place): no partial file on failure.
    The file gets the mode a plain ``open()`` gives under the current umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fh, tmp = _create_beside(path)
    try:
        with fh:
            json.dump(obj, fh, indent=2, default=_default)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path) -> Any:
    return json.loads(Path(path).read_text())
