"""Memory and CPU of the benchmark's processes, sampled from /proc (Linux): the server with its descendants
(supervisor, fork server, training jobs) and the benchmark's own tree (Playwright and Chromium)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path


def rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def pss(pid: int) -> int:
    """Proportional set size: pages shared by several processes (forked job processes share the fork server's
    torch and MNIST) are counted in shares, so a sum over processes is the memory they really take. RSS if the
    kernel has no smaps_rollup."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return rss(pid)


def proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, CPU ticks used so far: utime + stime) of every process, from /proc/*/stat."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                f = (d / "stat").read_text().rsplit(")", 1)[1].split()
                out[int(d.name)] = (int(f[1]), int(f[11]) + int(f[12]))
            except (OSError, ValueError, IndexError):
                continue
    return out


def tree(pid: int, table: dict[int, tuple[int, int]]) -> list[int]:
    """`pid` and all its descendants."""
    children: dict[int, list[int]] = {}
    for p, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(p)
    out, todo = [pid], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


class Sampler(threading.Thread):
    """Every `every_s`: peak RSS of the server process alone, and peak PSS summed over it and its descendants
    (supervisor, fork server, training workers), and
    the CPU time of that tree and of this benchmark's own tree (the Playwright driver and Chromium), which shares
    the machine's cores with the server. reset() returns the figures since the last reset and starts afresh."""

    def __init__(self, pid: int, every_s: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every_s, self.stopped = pid, every_s, threading.Event()
        self.peak_server = self.peak_tree = self.peak_procs = 0
        self.cpu: dict[str, dict[int, int]] = {"server": {}, "browser": {}}  # pid -> ticks, latest sample
        self.base: dict[int, int] = {}  # pid -> ticks at the last reset
        self.t0 = time.monotonic()

    def reset(self) -> dict:
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = {k: sum(t - self.base.get(p, 0) for p, t in d.items()) / ticks for k, d in self.cpu.items()}
        out = {"server_peak_mb": self.peak_server / 2**20, "tree_peak_mb": self.peak_tree / 2**20,
               "tree_peak_processes": self.peak_procs, "wall_s": time.monotonic() - self.t0,
               "cpu_s_server_and_workers": cpu["server"], "cpu_s_browsers": cpu["browser"]}
        self.peak_server = self.peak_tree = self.peak_procs = 0
        self.base = {p: t for d in self.cpu.values() for p, t in d.items()}
        self.cpu, self.t0 = {"server": {}, "browser": {}}, time.monotonic()
        return out

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            table = proc_table()
            server = tree(self.pid, table)
            self.peak_server = max(self.peak_server, rss(self.pid))
            self.peak_tree = max(self.peak_tree, sum(pss(p) for p in server))
            self.peak_procs = max(self.peak_procs, len(server))
            for p in server:
                self.cpu["server"][p] = table[p][1]
            for p in set(tree(os.getpid(), table)) - set(server):
                self.cpu["browser"][p] = table[p][1]


def job_table(root: Path) -> dict[str, dict[int, float]]:
    """{"job submitted": {seed: now}, "job first step": {seed: now}} for the jobs of the checkpoint folder `root`
    that are in the job table, and that show a step there (read-only; the caller keeps the first time it sees
    each seed)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from engine.jobs.jobdb import JobDB

    db, now = JobDB(root), time.monotonic()
    seen: dict[str, dict[int, float]] = {"job submitted": {}, "job first step": {}}
    for jid in db.ids():
        rec = db.job(jid) or {}
        seed = (rec.get("config") or {}).get("seed")
        seen["job submitted"][seed] = now
        if rec.get("step"):
            seen["job first step"][seed] = now
    return seen

