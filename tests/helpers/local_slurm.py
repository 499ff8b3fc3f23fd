"""A real single-node SLURM cluster for the tests, started and stopped by them.

Recipe and pitfalls: ../shared/notes/local-slurm.md (Debian 12, slurm 22.05, munge 0.5.15, root,
no systemd). The cluster is private to the process that starts it:

- configuration, state, logs, the job-completion record and the munge socket all live in one
  directory, and free TCP ports are picked. Clients find the cluster through ``SLURM_CONF`` (see
  :attr:`LocalSlurm.env`) and through /etc/slurm/slurm.conf, which is a symbolic link to the
  private configuration while the cluster runs: the Snakemake SLURM plugin's job step drops
  ``SLURM_CONF`` before its nested ``srun``, which then reads the default path. The link is never
  made over an existing configuration (start() raises :class:`Unavailable`; a link left by a
  killed run is recognised by its unlocked lock file and replaced), and stop() removes it;
- munged, slurmctld and slurmd run in the foreground as children of this process;
  :meth:`LocalSlurm.stop` cancels the cluster's jobs and ends exactly those three processes, by
  PID. Should this process die first, the kernel sends them SIGTERM (PR_SET_PDEATHSIG);
- the node advertises fake GPUs (``gres.conf`` with ``File=/dev/null``, then /dev/zero, ...), so
  jobs that ask for ``--gpus=1`` or ``--gres=gpu:1`` are scheduled (they get CUDA_VISIBLE_DEVICES,
  with no device behind it);
- there is no slurmdbd: ``sacct`` does not work, so callers must use ``squeue`` for job states
  (Snakemake: ``--slurm-status-command squeue``). ``MinJobAge`` is one hour, so finished jobs stay
  visible to ``squeue`` and ``scontrol show job``, and every finished job is also appended to a
  plain-text job-completion file (:meth:`LocalSlurm.completed_jobs`).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd")
CLIENTS = ("munge", "unmunge", "sbatch", "squeue", "sinfo", "scontrol", "scancel")
APT_PACKAGES = ("slurm-wlm", "munge")
MUNGE_KEY = Path("/etc/munge/munge.key")
# one distinct device file per fake GPU (slurmd refuses duplicates); no device is behind them
FAKE_GPU_DEVICES = ("/dev/null", "/dev/zero", "/dev/full")
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")  # where srun looks without SLURM_CONF
LOCK_NAME = "cluster.lock"


class Unavailable(RuntimeError):
    """A real cluster cannot run on this machine; the message says why (tests skip with it)."""


def _missing() -> list[str]:
    missing = [d for d in DAEMONS if not os.access(d, os.X_OK)]
    missing += [c for c in CLIENTS if shutil.which(c) is None]
    if not MUNGE_KEY.is_file():
        missing.append(str(MUNGE_KEY))
    return missing


def ensure_installed(timeout: float = 900) -> None:
    """Make sure SLURM and munge are installed: install them with apt-get when they are missing.

    Raises :class:`Unavailable` when not root (the daemons and apt-get need it), or when they
    are missing and cannot be installed (no apt-get, no network, no such package).
    """
    if os.geteuid() != 0:
        raise Unavailable("starting slurmctld/slurmd/munged needs root")
    missing = _missing()
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise Unavailable(f"SLURM/munge not installed (missing {', '.join(missing)}) and no apt-get to install them")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES]
    log = ""
    for attempt in (install, ["apt-get", "update", "-q"], install):  # the lists may be stale or absent
        try:
            proc = subprocess.run(attempt, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Unavailable(f"{' '.join(attempt)} ran past {timeout:.0f} s") from None
        log = proc.stdout + proc.stderr
        if attempt is install and proc.returncode == 0:
            break
    missing = _missing()
    if missing:
        raise Unavailable(f"apt-get could not install {' '.join(APT_PACKAGES)} (still missing "
                          f"{', '.join(missing)}):\n{log[-1500:]}")


def _die_with_parent() -> None:
    """In a daemon, before exec: SIGTERM when the process that started it dies, so that a test
    killed before stop() leaves no daemon behind (prctl PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def _stale_link() -> bool:
    """Whether /etc/slurm/slurm.conf is a link left by a test cluster that is gone (killed before
    stop()): its target is missing, or the target's cluster directory holds an unlocked lock file."""
    if not SYSTEM_CONF.is_symlink():
        return False
    target = Path(os.readlink(SYSTEM_CONF))
    if not target.exists():
        return True
    lock = target.parent.parent / LOCK_NAME
    if not lock.is_file():
        return False  # not a test cluster's
    with open(lock) as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its cluster still runs
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_hardware() -> tuple[int, int]:
    """(CPUs, memory in MB that jobs may use) of this machine."""
    cpus = len(os.sched_getaffinity(0))
    available_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                        if line.startswith("MemAvailable:"))
    return cpus, max(1000, int(available_kb / 1024 * 0.8))


def _parse_fields(line: str) -> dict[str, str]:
    """``Key=value Key=value`` (scontrol -o, jobcomp/filetxt) as a dict."""
    return dict(re.findall(r"(\w+)=(\S*)", line))


class LocalSlurm:
    """One private single-node cluster under ``root`` (a fresh directory whose parents everybody
    may traverse, e.g. from ``tempfile.mkdtemp()``); use it as a context manager:
    ``with LocalSlurm(root) as cluster: subprocess.run([...], env=cluster.env)``.
    """

    def __init__(self, root: Path, gpus: int = 1, partition: str = "test"):
        self.root = Path(root)
        if not 0 <= gpus <= len(FAKE_GPU_DEVICES):
            raise ValueError(f"gpus must be 0 to {len(FAKE_GPU_DEVICES)}, not {gpus}")
        self.gpus = gpus
        self.partition = partition
        self.host = socket.gethostname().split(".")[0]  # SlurmctldHost and NodeName: `hostname -s`
        self.conf = self.root / "etc" / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self.jobcomp = self.root / "log" / "jobcomp.txt"
        self.procs: dict[str, subprocess.Popen] = {}
        self._lock = None

    @property
    def env(self) -> dict[str, str]:
        """The environment in which SLURM clients (and the jobs they submit) see this cluster."""
        return dict(os.environ, SLURM_CONF=str(self.conf))

    def __enter__(self) -> LocalSlurm:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ----------------------------------------------------------------------------------- setup
    def _write_config(self) -> None:
        for sub in ("etc", "state", "spool", "log", "munge"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # munged runs as the munge user: it must reach its socket, and refuses a socket directory
        # that others can write to.
        self.root.chmod(0o755)
        closed = [str(d) for d in self.root.parents if not d.stat().st_mode & 0o001]
        if closed:
            raise ValueError(f"the munge user cannot reach {self.root}: {', '.join(closed)} not world-executable "
                             "(put the cluster under e.g. tempfile.mkdtemp())")
        shutil.chown(self.root / "munge", "munge", "munge")
        (self.root / "munge").chmod(0o755)
        cpus, mem_mb = _node_hardware()
        r = self.root
        self.conf.write_text(f"""\
ClusterName=conservattacktest
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/state/slurmctld.pid
SlurmdPidFile={r}/spool/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp}
MinJobAge=3600
GresTypes=gpu
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} Gres=gpu:{self.gpus} State=UNKNOWN
PartitionName={self.partition} Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")
        gres = "".join(f"NodeName={self.host} Name=gpu File={dev}\n" for dev in FAKE_GPU_DEVICES[:self.gpus])
        (self.root / "etc" / "gres.conf").write_text("AutoDetect=off\n" + gres)

    def _link_system_conf(self) -> None:
        if _stale_link():
            SYSTEM_CONF.unlink()
        if SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink():
            raise Unavailable(f"{SYSTEM_CONF} exists: this machine has its own SLURM configuration (or another "
                              "test cluster runs), which a test cluster will not replace")
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.symlink_to(self.conf)

    def _unlink_system_conf(self) -> None:
        if SYSTEM_CONF.is_symlink() and os.readlink(SYSTEM_CONF) == str(self.conf):
            SYSTEM_CONF.unlink()

    def _spawn(self, name: str, argv: list[str], **kwargs) -> None:
        log = open(self.root / "log" / f"{name}.stdout", "w")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                            start_new_session=True, preexec_fn=_die_with_parent, **kwargs)
        log.close()

    def _wait(self, what: str, ready, timeout: float) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} while waiting for {what}\n"
                                       + self.logs())
            if ready():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}\n" + self.logs())

    def _ok(self, *argv: str) -> bool:
        try:
            return subprocess.run(argv, env=self.env, capture_output=True, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def start(self, timeout: float = 120) -> None:
        """Write the configuration, start munged, slurmctld and slurmd, and wait until the node is
        idle. On failure everything started is stopped again and the daemons' logs are raised
        (:class:`Unavailable` when the machine has a SLURM configuration of its own)."""
        try:
            self._write_config()
            # held while the cluster runs: tells a later cluster whether a leftover link is stale
            self._lock = open(self.root / LOCK_NAME, "w")
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._link_system_conf()
            m = self.root / "munge"
            self._spawn("munged", ["/usr/sbin/munged", "--foreground", f"--socket={self.munge_socket}",
                                   f"--pid-file={m}/munged.pid", f"--seed-file={m}/munged.seed",
                                   f"--log-file={m}/munged.log"], user="munge", group="munge")
            self._wait("munged", lambda: self.munge_socket.exists()
                       and self._ok("sh", "-c", f"munge -S {self.munge_socket} -n | unmunge -S {self.munge_socket}"),
                       timeout)
            self._spawn("slurmctld", ["/usr/sbin/slurmctld", "-D", "-f", str(self.conf)])
            self._wait("slurmctld", lambda: self._ok("scontrol", "ping"), timeout)
            self._spawn("slurmd", ["/usr/sbin/slurmd", "-D", "-f", str(self.conf)])
            self._wait(f"node {self.host} idle", lambda: self.node_state() == "idle", timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30) -> None:
        """Cancel the cluster's jobs, end slurmd, slurmctld and munged (by PID, in that order) and
        remove the /etc/slurm/slurm.conf link."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            try:
                subprocess.run(["scancel", "--full", f"--partition={self.partition}"], env=self.env,
                               capture_output=True, timeout=10)
                end = time.monotonic() + timeout
                while time.monotonic() < end and self.squeue("%i", states="PENDING,RUNNING,COMPLETING"):
                    time.sleep(0.5)
            except subprocess.TimeoutExpired:
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self._unlink_system_conf()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # --------------------------------------------------------------------------------- queries
    def run(self, *argv: str, timeout: float = 30) -> str:
        """Run a SLURM client against this cluster; its stdout (an error names the command)."""
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def node_state(self) -> str:
        try:
            return self.run("sinfo", "--noheader", "--Node", "--format=%T", timeout=10).strip()
        except (RuntimeError, subprocess.TimeoutExpired):
            return ""

    def squeue(self, fmt: str = "%i|%j|%T", states: str = "all") -> list[str]:
        return self.run("squeue", "--noheader", f"--states={states}", f"--format={fmt}").split()

    def job(self, jobid: int | str) -> dict[str, str]:
        """``scontrol show job`` of one job (finished jobs stay for MinJobAge, one hour)."""
        return _parse_fields(self.run("scontrol", "--oneliner", "show", "job", str(jobid)))

    def completed_jobs(self) -> list[dict[str, str]]:
        """Every job that ended, from slurmctld's job-completion file (jobcomp/filetxt)."""
        if not self.jobcomp.exists():
            return []
        return [_parse_fields(line) for line in self.jobcomp.read_text().splitlines() if line.strip()]

    def logs(self, tail: int = 3000) -> str:
        """The tail of every daemon log, for error messages."""
        out = []
        for path in sorted((self.root / "log").glob("*")) + [self.root / "munge" / "munged.log"]:
            if path.is_file() and path != self.jobcomp:
                out.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(out)
