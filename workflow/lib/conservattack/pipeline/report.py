"""What ``snakemake --report`` shows beside the figures, and the configuration it is written with.

Numbers: a figure rule passes ``ReportNumbers(dataset)`` as a parameter; its caption
(workflow/report/*.rst, Jinja) calls ``rst(...)``, ``means(...)`` or ``parameters(...)``. The files
are read only then, when the report is rendered after the run, so building the DAG reads nothing,
and the object's ``repr`` is stable (Snakemake leaves such parameters out of its rerun trigger).
Every metric comes with its meaning (``conservattack.studies.glossary``), every attack block as a
table of parameter, value and meaning (``parameter_rows``).

Configuration: rule ``record_config`` writes ``results/<dataset>/config.yaml``, the checked
configuration (every default filled in) the dataset's results were made with, and the snakemake
arguments that gave it (``write_record``). The report's captions read the configuration of the
report's own invocation, so ``snakemake --report`` (``report_requested``) first compares it with
the record of every dataset (``check_report_config``) and refuses, naming the ``--configfile``
to pass, when they differ.
"""

from __future__ import annotations

import csv
import math
import shlex
from pathlib import Path

import pandas as pd

from ..attacks.params import BY_NAME, PARAMETERS
from ..studies.glossary import metric_meaning
from ..studies.paper import PAPER_NUMBERS, paper_number


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
        """``metric: ours mean ± std (n runs); paper value (statement) — what the metric measures``."""
        table = self.summary()
        pv, ptxt = paper_number(self.dataset, metric)
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
        meaning = metric_meaning(metric)
        return (f"``{metric}``: **ours** {ours}; **paper** {paper or 'no number for this dataset'}"
                + (f" — {meaning}" if meaning else ""))

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

    def scaling(self, folder: str) -> str:
        """An RST table of the size-scaling study (``<folder>/<folder>.csv``, docs/method.md
        section 8.7): per rule configuration and size, the fooling ratio, mean and largest JSD,
        relative FN and the attack's seconds."""
        relpath = f"{folder}/{folder}.csv"
        path = self._path(relpath)
        if not path.is_file():
            return f"- {relpath}: not computed by this configuration\n"
        df = pd.read_csv(path)
        rows = [["configuration", "attacked events", "fooling ratio", "mean JSD", "max JSD", "relative FN", "seconds"]]
        for r in df.itertuples():
            rows.append([r.config, str(int(r.size)), _fmt(r.fooling_ratio), _fmt(r.jsd_mean), _fmt(r.jsd_max),
                         _fmt(r.relative_fn), f"{r.seconds:.3g}"])
        return rst_table(rows)

    def parameters(self, *blocks, labels=None) -> str:
        """An RST table of attack blocks (``target``, ``engine``, ``params``: a config block):
        parameter, one value column per block (headed by ``labels``), meaning."""
        return rst_table(parameter_table(list(blocks), labels))

    def meanings(self, *metrics: str) -> str:
        """An RST bullet list: each metric and what it measures."""
        return "\n".join(f"- ``{m}``: {metric_meaning(m) or 'no description'}" for m in metrics) + "\n"


# -- attack parameters as a table --------------------------------------------------------------

# the keys of an attack block beside its params (their full descriptions are in the config schema)
BLOCK_KEYS = {
    "target": "Which test events are attacked: correct (correctly classified), correct_background, correct_signal "
              "or all.",
    "engine": "The implementation that runs the attack (cpu, cuda, numpy, naive; auto = cpu); all make the same "
              "decisions.",
    "batch_events": "0: exact sequential visits; B > 1: the batched GPU mode (engine cuda), approximate.",
}


def _value(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
        return f"{_value(v[0])} to {_value(v[1])} (drawn per iteration)"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def parameter_table(blocks: list[dict], labels=None) -> list[list[str]]:
    """Rows (header first) of attack blocks: parameter, one value column per block, meaning
    (``attacks.params.PARAMETERS``' descriptions; ``BLOCK_KEYS``). Parameters in the table's order;
    a parameter none of the blocks sets is left out."""
    labels = list(labels) if labels is not None else (["value"] if len(blocks) == 1 else
                                                       [f"attack {i + 1}" for i in range(len(blocks))])
    rows = [["parameter", *labels, "meaning"]]
    for key, meaning in BLOCK_KEYS.items():
        if any(key in b for b in blocks):
            rows.append([key, *(_value(b.get(key, "")) if key in b else "" for b in blocks), meaning])
    for p in PARAMETERS:
        if any(p.name in (b.get("params") or {}) for b in blocks):
            rows.append([p.name, *(_value(b["params"][p.name]) if p.name in (b.get("params") or {}) else ""
                                   for b in blocks), BY_NAME[p.name].description])
    return rows


def rst_table(rows: list[list[str]]) -> str:
    """An RST list-table of ``rows`` (the first one the header), values as literals."""
    out = [".. list-table::", "   :header-rows: 1", ""]
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            text = cell if i == 0 or j in (0, len(row) - 1) or not cell else f"``{cell}``"
            out.append(f"   {'* -' if j == 0 else '  -'} {text}".rstrip())
    return "\n" + "\n".join(out) + "\n\n"


def write_parameter_table(block: dict, path) -> None:
    """``parameter_table`` of one attack block as CSV (parameter, value, meaning)."""
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(parameter_table([block]))


# -- the configuration the results were made with ----------------------------------------------

RECORD = "config.yaml"  # under results/<dataset>/
_RUN_LINE = "# snakemake arguments of the run:"


class RunArguments:
    """The ``--configfile`` and ``--config`` arguments of a snakemake invocation, for the record.
    A rule parameter that does not re-run the rule: its ``repr`` is constant (Snakemake leaves
    objects of other than built-in types out of its rerun trigger), so running the same
    configuration from another file re-runs nothing."""

    def __init__(self, configfiles=(), config_args=()):
        cwd = Path.cwd().resolve()
        files = []
        for f in configfiles:
            f = Path(f).resolve()
            files.append(str(f.relative_to(cwd)) if f.is_relative_to(cwd) else str(f))
        self.configfiles = files
        self.config_args = [str(a) for a in (config_args or [])]

    def __repr__(self) -> str:
        return "RunArguments()"

    def text(self) -> str:
        """``--configfile a.yaml --config k=v``; "" for the default configuration."""
        out = ["--configfile", *self.configfiles] if self.configfiles else []
        out += ["--config", *self.config_args] if self.config_args else []
        return shlex.join(out)


def recorded_config(config: dict, dataset: str) -> dict:
    """What ``results/<dataset>/config.yaml`` holds: a complete configuration of ``dataset`` alone
    (the base seed, the dataset and its block as checked: every default filled in)."""
    return {"seed": config["seed"], "datasets": [dataset], dataset: config[dataset]}


def write_record(path, record: dict, dataset: str, arguments: str) -> None:
    """``record`` (``recorded_config``) as YAML, with a header naming the arguments of the run."""
    import yaml

    header = (f"# The configuration results/{dataset}/ was made with, every default filled in (written\n"
              f"# by rule record_config); `snakemake --report` refuses to write its report with another.\n"
              f"# This file is a configuration itself: with --configfile {path}\n"
              f"# snakemake runs, or reports on, this dataset alone.\n"
              f"{_RUN_LINE} {arguments or '(none: the default config.yaml)'}\n")
    Path(path).write_text(header + yaml.safe_dump(record, sort_keys=False))


def read_record(path) -> tuple[dict, str | None]:
    """The configuration of a record and the arguments of its run (None if not written)."""
    import yaml

    text = Path(path).read_text()
    arguments = None
    for line in text.splitlines():
        if line.startswith(_RUN_LINE):
            arguments = line[len(_RUN_LINE):].strip()
            arguments = "" if arguments.startswith("(none") else arguments
    return yaml.safe_load(text) or {}, arguments


def report_requested(argv) -> bool:
    """Whether the snakemake command line ``argv`` writes a report (``--report [file]``) before
    running anything: then the Snakefile is read to build the report, not to run jobs.
    ``--report-after-run`` runs first and reports on the run's own results."""
    args = list(argv)
    return any(a == "--report" or a.startswith("--report=") for a in args) and "--report-after-run" not in args


def first_difference(a, b, path=""):
    """The dotted path of the first value where ``a`` and ``b`` differ, and both values; None if
    they are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                return (f"{path}.{key}" if path else str(key), a.get(key, "(not set)"), b.get(key, "(not set)"))
            found = first_difference(a[key], b[key], f"{path}.{key}" if path else str(key))
            if found:
                return found
        return None
    return None if a == b else (path, a, b)


def _short_repr(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def check_report_config(config: dict, root="results") -> None:
    """Before ``snakemake --report``: for every dataset of ``config`` whose results exist, the
    base seed and the dataset's block must equal those recorded in
    ``<root>/<dataset>/config.yaml`` (``write_record``); a ValueError otherwise, naming the
    ``--configfile`` that gives the results' configuration. Results without a record (made before
    the record existed) are refused too: one run with the run's configuration writes it."""
    problems = []
    for dataset in config["datasets"]:
        folder = Path(root) / dataset
        if not folder.is_dir():
            continue  # nothing to report on: Snakemake names the missing files
        path = folder / RECORD
        if not path.is_file():
            problems.append(f"{folder}/ holds results but no record of their configuration ({path}): run the "
                            f"workflow once with the run's own --configfile (it writes only the record when "
                            f"the results are up to date), then write the report with the same --configfile")
            continue
        recorded, arguments = read_record(path)
        found = first_difference({"seed": recorded.get("seed"), dataset: recorded.get(dataset)},
                                 {"seed": config["seed"], dataset: config[dataset]})
        if found:
            key, there, here = (found[0], *(_short_repr(v) for v in found[1:]))
            if arguments:
                how = f"the run's configuration: snakemake --report report.html {arguments}, or "
            elif arguments == "":
                how = "the run's configuration, the default config.yaml: snakemake --report report.html, or "
            else:
                how = ""
            problems.append(f"{folder}/ was made with another configuration than this one (first difference: "
                            f"{key} is {there} there, {here} here). Write the report with {how}"
                            f"--configfile {path} (the configuration recorded with the results).")
    if problems:
        raise ValueError("snakemake --report: " + "\n".join(problems))
