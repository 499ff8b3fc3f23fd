"""What a new user meets first in the checkout: the report they write is not offered for commit,
and the smoke configuration says what it runs and how long it took."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from paths import ROOT


def test_the_html_report_is_git_ignored():
    assert "report.html" in (ROOT / ".gitignore").read_text().splitlines()
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    # `snakemake --report report.html` writes it at the top of the checkout
    proc = subprocess.run(["git", "check-ignore", "-q", "report.html"], cwd=ROOT)
    assert proc.returncode == 0, "git would offer report.html for commit"


def test_smoke_config_header_states_what_it_runs_and_its_measured_time():
    import re

    header = [line for line in (ROOT / ".test" / "config.yaml").read_text().splitlines() if line.startswith("#")]
    text = " ".join(line.lstrip("# ") for line in header)
    assert "well under a minute" not in text
    assert re.search(r"in (\d+ min )?\d+ s on 2 cores \(\d{4}-\d\d-\d\d", text), text  # a measured time, dated
    assert "3,000 events and 2 runs" in text and "Donut" in text
    readme = (ROOT / "README.md").read_text()
    time = re.search(r"in ((\d+ min )?\d+ s) on 2 cores", text).group(1)
    assert f"| Donut smoke | `.test/config.yaml` | {time} |" in readme  # the README says the same
