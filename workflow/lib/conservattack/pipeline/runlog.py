"""Sending a rule script's output to its Snakemake log file."""

from __future__ import annotations

import contextlib
import traceback
from pathlib import Path


@contextlib.contextmanager
def logged(path):
    """Redirect stdout and stderr to ``path`` for the duration; a failure is logged, then re-raised
    (Snakemake then removes the rule's partial outputs)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        try:
            yield
        except BaseException:
            traceback.print_exc(file=fh)
            raise
