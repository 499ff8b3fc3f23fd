"""Running a rule script: its output to its Snakemake log, a line or a few on the terminal.

Every rule script wraps its work in ``with logged(snakemake):`` (``logged(path)`` also works, for a
bare log file):

- stdout and stderr go to the job's log file (the rule's ``log:``);
- the terminal (the stderr the job was started with) gets one line when the job starts, naming
  the job and its log. A job that runs longer than ``progress_after`` seconds also gets a line
  per finished progress bar (each attack iteration, a download, reading jets: any tqdm bar) and,
  every ``heartbeat`` seconds, a line on the bar still running or, without one, the latest line
  of its log (a training's epoch); the bars themselves stay in the log;
- a failure is logged with its traceback, announced on the terminal in one line naming the log,
  and re-raised (Snakemake then removes the job's partial outputs). SIGTERM and SIGHUP (a
  cluster's time limit, a closed terminal, which may take Snakemake down too) are failures;
- after a failure, the job's output folders that held nothing when the job started (Snakemake
  makes them just before it) and are still empty are removed, so an interrupted run leaves no
  empty folder behind even when Snakemake itself is gone.

The workflow profile's ``quiet: [rules]`` keeps Snakemake from printing each job's block of
inputs, outputs and resources, and ``quiet_terminal`` (called by the Snakefile) its per-job
bookkeeping lines, so that a job shows on the terminal as its own line and Snakemake's
"k of n steps done".
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import time
import traceback
from pathlib import Path

# a job that has run this long (seconds) gets progress lines on the terminal; shorter jobs do not
PROGRESS_AFTER = 20.0
# at most one line per this many seconds about a progress bar still running
HEARTBEAT = 60.0

# tqdm's default status line with a known total: "desc: 45%|####    | 450/1000 [00:01<00:02, 300ev/s, k=v]"
_BAR = re.compile(r"^(?:(?P<desc>.*?): *)?(?P<pct>\d+)%\|.*\| *(?P<n>[^ /]+)/(?P<total>\S+) "
                  r"\[(?P<elapsed>[\d:]+)(?:<(?P<remaining>[^,\]]*))?(?:, (?P<rate>[^,\]]*))?"
                  r"(?:, (?P<postfix>.*))?\]\s*$")


class JobKilled(BaseException):
    """The job received SIGTERM or SIGHUP (``logged`` turns them into this exception, so that
    its failure path runs)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"killed by {signal.Signals(signum).name}")


def job_label(job) -> str:
    """``attack (dataset=donut, run=0)``: the rule and the wildcards of a Snakemake job."""
    wildcards = getattr(job, "wildcards", None)
    items = [f"{k}={v}" for k, v in wildcards.items()] if wildcards is not None else []
    return f"{job.rule} ({', '.join(items)})" if items else str(job.rule)


class Terminal:
    """One-line messages about one job on the terminal: ``[hh:mm:ss] <label>: <message>``."""

    def __init__(self, stream, label: str):
        self.stream = stream
        self.label = label

    def say(self, message: str) -> None:
        if self.stream is None:
            return
        try:
            self.stream.write(f"[{time.strftime('%H:%M:%S')}] {self.label}: {message}\n")
            self.stream.flush()
        except (OSError, ValueError):  # the terminal is gone: the log still has everything
            pass


class ProgressWatch:
    """A text stream (the job's stdout and stderr) that writes everything to ``log`` and tells
    ``terminal`` about it: once the job has run ``progress_after`` seconds, one line per finished
    tqdm bar (``attack iteration 2/10 done in 00:41, fooling_ratio=0.213``) and, at most every
    ``heartbeat`` seconds, one on the bar still running or, without a bar, the latest line written
    (a training's epoch). ``clock`` gives the time (tests)."""

    def __init__(self, log, terminal: Terminal, progress_after: float = PROGRESS_AFTER,
                 heartbeat: float = HEARTBEAT, clock=time.monotonic):
        self.log = log
        self.terminal = terminal
        self.progress_after = progress_after
        self.heartbeat = heartbeat
        self.clock = clock
        self.start = clock()
        self.last_line = -float("inf")  # the first progress line may come once progress_after is over
        self.bar: dict | None = None  # the last state of the bar being drawn
        self._pending = ""

    def __getattr__(self, name):  # what else code writing to sys.stderr may ask: the log's
        return getattr(self.log, name)

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:
        self.log.flush()

    def write(self, text: str) -> int:
        self.log.write(text)
        *segments, self._pending = re.split(r"[\r\n]", self._pending + text)
        if _BAR.match(self._pending):  # tqdm writes "\r" + a whole status line: take it now
            segments.append(self._pending)
            self._pending = ""
        for segment in segments:
            self._segment(segment)
        return len(text)

    def finish(self) -> None:
        """At the end of the job: report the bar left drawn (tqdm with ``leave=True`` ends so)."""
        if self._pending:
            self._segment(self._pending)
            self._pending = ""
        self._finish()

    def _segment(self, segment: str) -> None:
        if not segment:
            return
        m = _BAR.match(segment)
        if m is None:  # a bar cleared (blanks) or any other text ends the bar drawn
            self._finish()
            now = self.clock()
            if segment.strip() and self._long(now) and now - self.last_line >= self.heartbeat:
                # a long job without a bar (training prints a line per epoch): its latest line
                self._say(f"running for {_minutes(now - self.start)}; {_abridged(segment.strip())}", now)
            return
        state = m.groupdict()
        if self.bar is not None and self.bar["desc"] != state["desc"]:
            self._finish()
        self.bar = state
        now = self.clock()
        if self._long(now) and now - self.last_line >= self.heartbeat and int(state["pct"]) < 100:
            left = f", about {state['remaining']} left" if state["remaining"] not in (None, "", "?") else ""
            self._say(f"{state['desc'] or 'progress'}: {state['pct']}% ({state['n']}/{state['total']}"
                      f"{left}){self._postfix(state)}", now)

    def _finish(self) -> None:
        state, self.bar = self.bar, None
        now = self.clock()
        if state is not None and int(state["pct"]) >= 100 and self._long(now):
            self._say(f"{state['desc'] or 'progress'} done in {state['elapsed']}{self._postfix(state)}", now)

    def _long(self, now: float) -> bool:
        return now - self.start >= self.progress_after

    @staticmethod
    def _postfix(state: dict) -> str:
        return f", {state['postfix']}" if state["postfix"] else ""

    def _say(self, message: str, now: float) -> None:
        self.terminal.say(message)
        self.last_line = now


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def _abridged(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _empty_folders_of(outputs) -> list[Path]:
    """The folders of ``outputs`` and their parents, up to the working directory, that are missing
    or hold nothing but such a folder now, deepest first: made for this job."""
    cwd = Path.cwd().resolve()
    found: dict[Path, None] = {}
    for out in outputs:
        folder, child = Path(out).resolve().parent, None
        while folder != cwd and cwd in folder.parents:
            if folder.exists() and any(entry != child for entry in folder.iterdir()):
                break
            found[folder] = None
            folder, child = folder.parent, folder
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def remove_empty(folders) -> list[Path]:
    """Remove those of ``folders`` (deepest first) that exist and are empty; returns them."""
    removed = []
    for folder in folders:
        try:
            folder.rmdir()  # only an empty folder
        except OSError:
            continue
        removed.append(folder)
    return removed


@contextlib.contextmanager
def _signals_raise(*signums):
    """Within the block, the signals ``signums`` raise ``JobKilled`` (main thread only)."""

    def handler(signum, frame):
        raise JobKilled(signum)

    previous = {}
    for signum in signums:
        try:
            previous[signum] = signal.signal(signum, handler)
        except (ValueError, OSError, AttributeError):  # not the main thread, or no such signal
            pass
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def logged(job, *, progress_after: float = PROGRESS_AFTER, heartbeat: float = HEARTBEAT, terminal=None):
    """Run the block with stdout and stderr sent to the job's log, one line on the terminal at
    the start, progress lines for a long job, and a one-line failure notice (see the module's
    docstring). ``job``: the ``snakemake`` object of a rule script (its log is ``job.log[0]``;
    rule, wildcards and outputs name the job and its folders), or the path of a log file.
    ``terminal``: where the lines go (default: the stderr in place when the block starts)."""
    if isinstance(job, (str, os.PathLike)):
        path, label, outputs = Path(job), Path(job).stem, []
    else:
        path, label, outputs = Path(job.log[0]), job_label(job), list(job.output)
    term = Terminal(sys.stderr if terminal is None else terminal, label)
    made_for_job = _empty_folders_of(outputs)
    path.parent.mkdir(parents=True, exist_ok=True)
    term.say(f"started (log {path})")
    with open(path, "w", buffering=1) as fh:
        watch = ProgressWatch(fh, term, progress_after, heartbeat)
        try:
            with contextlib.redirect_stdout(watch), contextlib.redirect_stderr(watch), \
                    _signals_raise(signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
                try:
                    yield
                finally:
                    watch.finish()
        except SystemExit as exc:
            if exc.code not in (None, 0):
                _failed(exc, fh, term, path, made_for_job)
            raise
        except BaseException as exc:
            _failed(exc, fh, term, path, made_for_job)
            raise


def _failed(exc: BaseException, log, term: Terminal, path: Path, made_for_job) -> None:
    """A failure: its traceback to the log, the job's empty output folders removed, one line on
    the terminal."""
    traceback.print_exception(exc, file=log)
    removed = remove_empty(made_for_job)
    if removed:
        print(f"removed the empty output folder(s) {', '.join(map(str, removed))}", file=log)
    what = str(exc) if isinstance(exc, JobKilled) else f"{type(exc).__name__}: {exc}".rstrip(": ")
    term.say(f"FAILED ({what.splitlines()[0]}); see {path}")



# -- Snakemake's own terminal lines --------------------------------------------------------------

# Snakemake's per-job bookkeeping that says nothing the job's own line and "k of n steps done" do
# not: the scheduler's rounds and the "[time] / Finished jobid: N (Rule: r)" pair
_BOOKKEEPING_MESSAGES = {"Select jobs to execute..."}
_BOOKKEEPING_EVENTS = {"job_started", "job_finished"}


def _not_bookkeeping(record) -> bool:
    """A logging filter: False (drop) for those lines."""
    event = getattr(record, "event", None)
    return not (getattr(event, "value", event) in _BOOKKEEPING_EVENTS or record.getMessage() in _BOOKKEEPING_MESSAGES)


def quiet_terminal(workflow) -> bool:
    """With the workflow profile's ``quiet: [rules]`` (and no ``--verbose``), leave Snakemake's
    per-job bookkeeping lines ("Select jobs to execute...", "Execute N jobs...", "Finished jobid:
    N") off the terminal, keeping "k of n steps (p%) done" and everything else, so that a job
    shows as its own one line (``logged``) and one progress line; ``.snakemake/log/`` keeps them
    all. Call it from the Snakefile; returns whether it applied (False when the user asked for
    other output, or the Snakemake version has no such terminal handler)."""
    settings = getattr(workflow, "output_settings", None)
    quiet = {getattr(q, "name", str(q)).lower() for q in (getattr(settings, "quiet", None) or ())}
    manager = getattr(workflow, "logger_manager", None)
    if "rules" not in quiet or getattr(settings, "verbose", False) or manager is None:
        return False
    handlers = [h for h in manager.logger.handlers if h.name == "DefaultStreamHandler"]
    for handler in handlers:
        if not any(f is _not_bookkeeping for f in handler.filters):
            handler.addFilter(_not_bookkeeping)
    return bool(handlers)
