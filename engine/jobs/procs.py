"""The process table of the embedded backend: which processes are alive, on which boot, with how many GPUs,
and why one ended. Standard library only (the supervisor imports it without loading torch)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # a job stopped by one of these is `interrupted`
CANCEL_GRACE_S = 1.0  # a cancelled job that has not stopped after this long is killed


def start_time(pid: int | None) -> int | None:
    """The kernel start time of a live process (None if gone or a zombie): with the pid, a unique identity."""
    if not pid:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (not Linux): fall back to "does the pid exist"
        return _exists(pid)
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # a zombie has exited; only its exit status is left
        return None
    return int(fields[19])


def _exists(pid: int) -> int | None:
    """0 if `pid` exists (start time unknown), else None."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return 0


def alive(pid: int | None, start: int | None = None) -> bool:
    """Is `pid` running (and, if `start` is given, still the same process, not a reused pid)?"""
    st = start_time(pid)
    return st is not None and (start is None or st == start or st == 0)


def boot_id() -> str:
    """This boot of the machine: a job recorded under another boot id was interrupted by a restart."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def gpu_count() -> int:
    """GPUs visible to jobs, without initialising CUDA (or importing torch) in this process."""
    vis = os.environ.get("CUDA_VISIBLE_DEVICES")
    if vis is not None:
        ids = [v for v in vis.split(",") if v.strip() and not v.strip().startswith("-")]
        return len(ids)
    d = Path("/proc/driver/nvidia/gpus")
    return len(list(d.iterdir())) if d.exists() else 0


def default_max_jobs() -> int:
    """One job per GPU, one on a CPU-only machine (a laptop: one student, one job with all the cores)."""
    return max(1, gpu_count())


# ---- settings of the job processes (environment; a backend checks them when it is created) -------------
JOB_NICE = 10  # job processes run this much nicer than the app, so page renders win the CPU ($AE_LAB_JOB_NICE)
WARM = 1  # preloaded job processes kept ready ($AE_LAB_WARM; never more than the concurrency limit)


def env_number(name: str, default: int, low: int | None = 0) -> int:
    """A whole-number setting from the environment (`default` when unset), at least `low` (None: any);
    ValueError naming it otherwise."""
    v = os.environ.get(name, "").strip()
    if not v:
        return default
    try:
        n = int(v)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got '{v}'") from None
    if low is not None and n < low:
        raise ValueError(f"{name} must be at least {low}, got {n}")
    return n


def cpu_count() -> int:
    """CPUs this process may run on (a container's CPU set included)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def job_threads(max_jobs: int) -> int:
    """torch threads of one job: $AE_LAB_JOB_THREADS, else the cores shared by the jobs that may run at once
    (at least 1: more jobs than cores are time-sliced, one thread each)."""
    return env_number("AE_LAB_JOB_THREADS", max(1, cpu_count() // max(1, max_jobs)), low=1)


def job_nice() -> int:
    """How much nicer than the app a job process runs ($AE_LAB_JOB_NICE, 0 = same priority)."""
    return env_number("AE_LAB_JOB_NICE", JOB_NICE)


def warm_count(setting: object, max_jobs: int) -> int:
    """Warm processes to keep: a backend's `warm` setting (a count, or True/False), else $AE_LAB_WARM, else WARM;
    never more than `max_jobs` (a warm process waits for a job it may start)."""
    n = env_number("AE_LAB_WARM", WARM) if setting is None else int(setting)
    return max(0, min(n, max_jobs))


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    """Send `sig` to `pid` unless it is already gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def describe_exit(code: int | None, log: Path) -> str:
    """Why a worker ended, for a student: the signal that killed it or its exit code."""
    if code is None:
        return "the worker process disappeared (its exit status is unknown)"
    if code >= 0:
        return f"the worker crashed (exit code {code}); details in {log}"
    sig = -code
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = "unknown signal"
    if sig == signal.SIGKILL:
        return f"the worker was killed (signal {sig}, {name}: out of memory, or kill -9)"
    return f"the worker was killed (signal {sig}, {name})"


def fork_server() -> bool:
    """Start jobs by forking a preloaded server ($AE_LAB_FORK_SERVER=1/0; default: on Linux without GPUs, where a
    fork is safe: CUDA must never be initialised before one, and other systems lack a child subreaper)."""
    v = os.environ.get("AE_LAB_FORK_SERVER", "").strip().lower()
    if v in ("0", "false", "no", "off"):
        return False
    if v in ("1", "true", "yes", "on"):
        return sys.platform.startswith("linux")
    return sys.platform.startswith("linux") and gpu_count() == 0


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (Linux prctl PR_SET_CHILD_SUBREAPER): a process
    whose parent exits is re-parented here, so this process can wait for it and read its exit status."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class Forked:
    """A job process made by the fork server, re-parented to this supervisor: the part of subprocess.Popen the
    supervisor uses (poll, kill, send_signal, wait, pid, returncode)."""

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # not ours after all (should not happen): gone, status unknown
                self.returncode = 255
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self) -> int:
        while self.poll() is None:
            time.sleep(0.02)
        return self.returncode
