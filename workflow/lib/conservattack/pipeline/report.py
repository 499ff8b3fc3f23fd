"""Numbers for the captions of ``snakemake --report``: ours beside the paper's.

A figure rule passes ``ReportNumbers(dataset)`` as a parameter; its caption (workflow/report/*.rst,
Jinja) calls ``rst(...)`` or ``means(...)``. The files are read only then, when the report is
rendered after the run, so building the DAG reads nothing, and the object's ``repr`` is stable
(Snakemake leaves such parameters out of its rerun trigger).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..studies.paper import PAPER_NUMBERS


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    x = float(x)
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


class ReportNumbers:
    """Our numbers of one dataset (``results/<dataset>/...``) for report captions."""

    def __init__(self, dataset: str, root: str = "results"):
        self.dataset = dataset
        self.root = root

    def __repr__(self) -> str:
        return f"ReportNumbers({self.dataset!r})"

    __str__ = __repr__

    def _path(self, relpath: str) -> Path:
        return Path(self.root) / self.dataset / relpath

    def summary(self) -> pd.DataFrame | None:
        path = self._path("summary.csv")
        return pd.read_csv(path).set_index("metric") if path.is_file() else None

    def line(self, metric: str) -> str:
        """``metric: ours mean ± std (n runs); paper value (statement)``."""
        table = self.summary()
        pv, ptxt = PAPER_NUMBERS.get(self.dataset, {}).get(metric, (None, ""))
        if table is not None and metric in table.index and not pd.isna(table.loc[metric, "ours_mean"]):
            row = table.loc[metric]
            ours = f"{_fmt(row.ours_mean)}"
            if not pd.isna(row.ours_std):
                ours += f" ± {_fmt(row.ours_std)}"
            ours += f" ({int(row.n_runs)} runs)"
        else:
            ours = "not computed by this configuration"
        paper = f"{_fmt(pv)}" if pv is not None else ""
        if ptxt:
            paper = f"{paper} ({ptxt})" if paper else ptxt
        return f"``{metric}``: **ours** {ours}; **paper** {paper or 'no number for this dataset'}"

    def rst(self, *metrics: str) -> str:
        """An RST bullet list, one ``line`` per metric."""
        return "\n".join(f"- {self.line(m)}" for m in metrics) + "\n"

    def rst_matching(self, prefix: str) -> str:
        """``rst`` of every metric whose name starts with ``prefix``: the summary's, in its order,
        then the paper's numbers that the summary lacks."""
        table = self.summary()
        names = [m for m in (table.index if table is not None else []) if m.startswith(prefix)]
        names += [m for m in PAPER_NUMBERS.get(self.dataset, {}) if m.startswith(prefix) and m not in names]
        return self.rst(*names) if names else f"- ``{prefix}*``: not computed by this configuration\n"

    def means(self, relpath: str, by: str, columns) -> str:
        """An RST bullet list of the mean of ``columns`` per ``by`` group of a per-run CSV."""
        path = self._path(relpath)
        if not path.is_file():
            return f"- {relpath}: not computed by this configuration\n"
        df = pd.read_csv(path)
        missing = [c for c in [by, *columns] if c not in df.columns]
        if missing:  # a caption naming a column the rule does not write: say so, do not drop it
            raise ValueError(f"{path}: no column(s) {missing} for the report caption; columns present: "
                             f"{list(df.columns)}")
        lines = []
        for key, part in df.groupby(by):
            values = ", ".join(f"``{c}`` {_fmt(part[c].mean())}" for c in columns)
            lines.append(f"- {by} {key} (mean over {len(part)} runs): {values}")
        return "\n".join(lines) + "\n"
