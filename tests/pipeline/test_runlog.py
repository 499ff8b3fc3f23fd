"""conservattack.pipeline.runlog: a rule script's output goes to its log; the terminal gets one
line per job, progress lines for a long job and a one-line failure notice; a failed or killed job
leaves no empty output folder behind."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tqdm.auto import tqdm

from conservattack.pipeline.deps import LIB_DIR
from conservattack.pipeline.runlog import ProgressWatch, Terminal, job_label, logged
from paths import ROOT


class Job:
    """What ``logged`` reads of a rule script's ``snakemake`` object."""

    def __init__(self, log, outputs, rule="attack", **wildcards):
        self.rule, self.log, self.output = rule, [str(log)], [str(o) for o in outputs]
        self.wildcards = wildcards or {"dataset": "donut", "run": "0"}


def bars(n_iterations=2, events=40):
    """What the attack's iterations write: one tqdm bar per iteration, cleared when it ends."""
    for it in range(1, n_iterations + 1):
        bar = tqdm(total=events, desc=f"attack iteration {it}/{n_iterations}", mininterval=0, unit="ev",
                   leave=False)
        bar.set_postfix(fooling_ratio="0.000")
        for _ in range(events):
            bar.update()
        bar.set_postfix(fooling_ratio=f"{0.1 * it:.3f}")
        bar.close()


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_a_job_is_one_terminal_line_and_its_output_goes_to_the_log(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    term = io.StringIO()
    with logged(Job("logs/attack_run0.log", ["out/a.json"]), terminal=term):
        print("to the log")
        bars()
        print("to the log too", file=sys.stderr)
    (line,) = lines(term)  # a short job: its start, nothing else
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] attack \(dataset=donut, run=0\): started \(log logs/attack_run0.log\)",
                        line), line
    log = Path("logs/attack_run0.log").read_text()
    assert "to the log" in log and "to the log too" in log and "attack iteration 2/2" in log


def test_a_long_job_gets_a_line_per_finished_iteration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    term = io.StringIO()
    with logged(Job("logs/a.log", []), terminal=term, progress_after=0, heartbeat=3600):
        bars(3)
    out = lines(term)
    done = [line for line in out if " done in " in line]
    assert len(done) == 3 and len(out) <= 1 + 3 + 1, out  # and one heartbeat, as the job is long at once
    for it, line in enumerate(done, 1):
        assert re.search(rf"attack iteration {it}/3 done in 00:00, fooling_ratio=0\.{it}00$", line), line


def test_heartbeat_names_the_running_bar_or_the_latest_log_line():
    now = [0.0]
    term = io.StringIO()
    watch = ProgressWatch(io.StringIO(), Terminal(term, "train"), progress_after=20, heartbeat=60,
                          clock=lambda: now[0])
    watch.write("epoch 1: train 0.6 val 0.6\n")  # before progress_after: nothing
    now[0] = 30.0
    watch.write("epoch 2: train 0.5 val 0.55\n")
    now[0] = 50.0
    watch.write("epoch 3: train 0.4 val 0.5\n")  # within the heartbeat of the last line: nothing
    now[0] = 100.0
    watch.write("\rattack iteration 1/10:  45%|####5     | 450/1000 [00:40<00:49, 11.2ev/s, fooling_ratio=0.120]")
    out = [line.split("] ", 1)[1] for line in lines(term)]
    assert out == ["train: running for 0:30; epoch 2: train 0.5 val 0.55",
                   "train: attack iteration 1/10: 45% (450/1000, about 00:49 left), fooling_ratio=0.120"]


def test_job_label_names_rule_and_wildcards():
    assert job_label(Job("x.log", [], rule="summary", dataset="higgs")) == "summary (dataset=higgs)"


def test_failed_script_leaves_no_new_empty_folder(tmp_path, monkeypatch):
    """Snakemake makes a job's output folders before the job starts; a failure removes those left
    empty (and says so in one line naming the log), never a folder that held something."""
    monkeypatch.chdir(tmp_path)
    Path("results/donut/runs/run0").mkdir(parents=True)
    Path("results/donut/runs/run0/model.pt").write_text("kept")
    Path("results/donut/runs/run0/attack").mkdir()  # as Snakemake prepares the job
    Path("results/donut/figures/new").mkdir(parents=True)
    job = Job("results/donut/logs/attack_run0.log", ["results/donut/runs/run0/attack/adversaries.parquet",
                                                      "results/donut/runs/run0/attack/attack.json",
                                                      "results/donut/figures/new/x.png"])
    before = {p for p in Path("results").rglob("*") if p.is_dir()}
    term = io.StringIO()
    with pytest.raises(ValueError, match="bad input"):
        with logged(job, terminal=term):
            raise ValueError("bad input\nsecond line")
    after = {p for p in Path("results").rglob("*") if p.is_dir()}
    empty = [p for p in after if not any(p.iterdir())]
    assert not empty, f"empty folders left: {empty}"
    assert {Path("results/donut/runs/run0"), Path("results/donut/logs")} <= after <= before | {Path("results/donut/logs")}
    assert Path("results/donut/runs/run0/model.pt").read_text() == "kept"
    assert lines(term)[-1].endswith("FAILED (ValueError: bad input); see results/donut/logs/attack_run0.log")
    log = Path("results/donut/logs/attack_run0.log").read_text()
    assert "Traceback" in log and "removed the empty output folder(s)" in log


def test_successful_job_and_sys_exit_zero_keep_their_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("out/a").mkdir(parents=True)
    term = io.StringIO()
    with pytest.raises(SystemExit):
        with logged(Job("logs/a.log", ["out/a/x.json"]), terminal=term):
            sys.exit(0)
    assert Path("out/a").is_dir() and "FAILED" not in term.getvalue()


SCRIPT = """
import sys, time
from pathlib import Path
from conservattack.pipeline.runlog import logged

class Job:
    rule, log, output, wildcards = "attack", ["logs/attack.log"], ["results/run0/attack/out.json"], {"run": "0"}

Path("results/run0/attack").mkdir(parents=True)
with logged(Job):
    print("ready", file=sys.__stdout__, flush=True)
    time.sleep(30)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_killed_script_leaves_no_new_empty_folder(tmp_path, signum):
    """A cluster's time limit (SIGTERM) or a closed terminal (SIGHUP, which takes Snakemake down
    too, so it cannot clean up after the job) end the job through its failure path."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(LIB_DIR.parent), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode != 0
    assert not (tmp_path / "results" / "run0" / "attack").exists(), "the empty output folder is left behind"
    assert not (tmp_path / "results").exists()
    name = signal.Signals(signum).name
    assert f"FAILED (killed by {name}); see logs/attack.log" in err
    assert f"killed by {name}" in (tmp_path / "logs" / "attack.log").read_text()


def test_every_rule_script_names_its_job():
    """``logged(snakemake)``: the job's rule, wildcards and outputs, not only its log."""
    scripts = sorted((ROOT / "scripts").glob("*.py"))
    assert len(scripts) >= 30
    for script in scripts:
        text = script.read_text()
        assert "with logged(snakemake):" in text, script.name


def test_workflow_profile_keeps_snakemakes_job_blocks_off_the_terminal():
    import yaml

    profile = yaml.safe_load((ROOT / "workflow" / "profiles" / "default" / "config.yaml").read_text())
    assert profile["quiet"] == ["rules"]


def test_quiet_terminal_drops_only_snakemakes_bookkeeping_lines():
    import logging

    from snakemake.logging import LogEvent
    from snakemake.settings.enums import Quietness

    from conservattack.pipeline.runlog import quiet_terminal

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.name = "DefaultStreamHandler"
    logger = logging.getLogger("test_quiet_terminal")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    class Workflow:
        output_settings = type("S", (), {"quiet": {Quietness.RULES}, "verbose": False})()
        logger_manager = type("M", (), {"logger": logger})()

    try:
        assert quiet_terminal(Workflow)
        logger.info("Select jobs to execute...")
        logger.info("Execute 2 jobs...", extra={"event": LogEvent.JOB_STARTED})
        logger.info("Finished jobid: 4 (Rule: x)", extra={"event": LogEvent.JOB_FINISHED})
        logger.info("4 of 45 steps (9%) done", extra={"event": LogEvent.PROGRESS})
        logger.error("Error in rule x")
        assert stream.getvalue().splitlines() == ["4 of 45 steps (9%) done", "Error in rule x"]
        Workflow.output_settings.quiet = {Quietness.HOST}  # the user asked for other output
        assert not quiet_terminal(type("W", (), {"output_settings": Workflow.output_settings,
                                                 "logger_manager": Workflow.logger_manager})())
    finally:
        logger.removeHandler(handler)
