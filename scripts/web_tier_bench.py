"""The class benchmark through the web tier: scripts/class_ws.py against scripts/web_tier.py (HAProxy + R replicas),
with the replicas' own CPU and memory, for 1 and 2 replicas side by side.

    .venv/bin/python scripts/web_tier_bench.py --replicas 1,2 --sessions 100      # ~4 min per configuration
    .venv/bin/python scripts/web_tier_bench.py --replicas 2 --sessions 20 --think 2 # a quick look

For each replica count: a fresh checkpoint folder holding one trained seed-vae run (Quick demo size), the tier in
classroom mode (logged-in students: class_ws.py mints their login cookies with the tier's [auth] cookie secret),
AE_LAB_MAX_JOBS=--max-jobs, every replica warmed by one student of its own (its URL directly, not through HAProxy),
then --sessions students through HAProxy. Sampled every 0.5 s: PSS of each replica process (without its job
processes), CPU seconds of the replicas and of their job supervisor tree. Printed: class_ws's figures (its
--out JSON is kept in --out-dir) and one table: p50/p95/p99 of the students' interactions, errors, replica CPU in
cores, PSS per replica before the class and at its peak, and the added PSS per session.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from class_ws import classroom_env, seed_run  # noqa: E402 - scripts/ is sys.path[0] when run as a script
from web_tier import free_port, server_stats  # noqa: E402


class Sampler(threading.Thread):
    """PSS of each replica (MB, every 0.5 s) and CPU seconds of the replicas and of everything else they started."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.procs = [psutil.Process(p) for p in pids]
        self.pss: list[float] = []  # the replicas' summed PSS at each sample
        self.stopped = threading.Event()

    def total_pss(self) -> float:
        total = 0.0
        for p in self.procs:
            try:
                total += p.memory_full_info().pss / 2**20
            except psutil.Error:
                pass
        return total

    def cpu(self) -> tuple[float, float]:
        """(CPU-s of the replica processes, CPU-s of their descendants: job supervisor, job processes)."""
        own = kids = 0.0
        for p in self.procs:
            try:
                t = p.cpu_times()
                own += t.user + t.system
                kids += sum(sum(c.cpu_times()[:4]) for c in p.children(recursive=True))  # + their reaped jobs
            except psutil.Error:
                pass
        return own, kids

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            self.pss.append(self.total_pss())


def start_tier(replicas: int, env: dict, run_dir: Path) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "scripts/web_tier.py", "--replicas", str(replicas), "--port",
                             str(free_port()), "--run-dir", str(run_dir), "--no-restart", "--stop-jobs"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if line.startswith("ready "):
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # keep it drained
            return proc, json.loads(line[len("ready "):])
        print(line, end="")
    raise SystemExit(f"web_tier.py exited with code {proc.wait()} before it was ready")


def class_ws(url: str, sessions: int, secret: str, out: Path, a: argparse.Namespace, think: float | None = None,
             watch: float | None = None, quiet: bool = False) -> subprocess.Popen:
    cmd = [sys.executable, "scripts/class_ws.py", "--url", url, "--cookie-secret", secret, "--sessions",
           str(sessions), "--think", str(think or a.think), "--ramp", str(a.ramp), "--watch", str(watch or a.watch),
           "--out", str(out)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL if quiet else None)


def one(replicas: int, a: argparse.Namespace, tmp: Path, template: Path) -> dict:
    here = tmp / f"r{replicas}"
    secret = secrets.token_hex(32)
    here.mkdir(parents=True)
    env = {**os.environ, "AE_LAB_MAX_JOBS": str(a.max_jobs), "AE_LAB_DATA": str(here / "data"),
           "AE_LAB_CHECKPOINTS": str(here / "checkpoints"), **classroom_env(here, secret)}
    subprocess.run(["cp", "-a", str(template), str(here / "checkpoints")], check=True)
    proc, state = start_tier(replicas, env, here / "tier")
    try:
        warmers = [class_ws(f"http://127.0.0.1:{r['port']}", 1, secret, here / f"warm-{r['name']}.json", a, think=0.3,
                            watch=5, quiet=True) for r in state["replicas"]]
        for w in warmers:
            w.wait()
        sampler = Sampler([r["pid"] for r in state["replicas"]])
        base_pss = sampler.total_pss()
        cpu0, t0 = sampler.cpu(), time.monotonic()
        before = server_stats(Path(state["socket"]))
        sampler.start()
        out = here / "class_ws.json"
        load = os.getloadavg()[0]
        class_ws(state["url"], a.sessions, secret, out, a).wait()
        wall = time.monotonic() - t0
        cpu1 = sampler.cpu()
        sampler.stopped.set()
        after = server_stats(Path(state["socket"]))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
    level = json.loads(out.read_text())["levels"][0]
    peak = max(sampler.pss or [base_pss])
    return {"replicas": replicas, "sessions": a.sessions, "load_before": load, "wall_s": wall,
            "actions": level["figures"]["actions"], "errors": len(level["errors"]), "error_list": level["errors"][:20],
            "replica_cores": (cpu1[0] - cpu0[0]) / wall, "jobs_cores": (cpu1[1] - cpu0[1]) / wall,
            "pss_base_mb": base_pss, "pss_peak_mb": peak, "mb_per_session": (peak - base_pss) / a.sessions,
            "sessions_by_replica": {k: after[k]["stot"] - before[k]["stot"] for k in after}}


def table(rows: list[dict]) -> None:
    print("\nreplicas | students | actions | p50 / p95 / p99 s | errors | replica CPU | jobs CPU | PSS all replicas "
          "before → peak | MB / session | connections per replica | load before")
    for r in rows:
        f = r["actions"]
        print(f"{r['replicas']} | {r['sessions']} | {f['n']} | {f['p50_s']:.2f} / {f['p95_s']:.2f} / {f['p99_s']:.2f} "
              f"| {r['errors']} | {r['replica_cores']:.2f} cores | {r['jobs_cores']:.2f} cores | "
              f"{r['pss_base_mb']:.0f} → {r['pss_peak_mb']:.0f} MB | {r['mb_per_session']:.1f} | "
              f"{r['sessions_by_replica']} | {r['load_before']:.1f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", default="2", help="comma-separated replica counts, run one after the other")
    ap.add_argument("--sessions", type=int, default=100, help="students (default 100)")
    ap.add_argument("--think", type=float, default=5.0, help="mean think time, s (default 5)")
    ap.add_argument("--ramp", type=float, default=10.0, help="students arrive over this many seconds (default 10)")
    ap.add_argument("--watch", type=float, default=90.0, help="at most this long on Live run (default 90)")
    ap.add_argument("--max-jobs", type=int, default=8, help="AE_LAB_MAX_JOBS of the shared backend (default 8)")
    ap.add_argument("--out-dir", type=Path, default=None, help="keep everything here (default: a temp dir)")
    a = ap.parse_args(argv)
    try:
        counts = [int(x) for x in a.replicas.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--replicas must be comma-separated numbers, got '{a.replicas}'")
    tmp = a.out_dir or Path(tempfile.mkdtemp(prefix="ae-lab-tier-bench-"))
    template = seed_run(tmp)
    rows = []
    for n in counts:
        print(f"== {n} replica(s), {a.sessions} students (load {os.getloadavg()[0]:.1f})", flush=True)
        rows.append(one(n, a, tmp, template))
        table(rows)
    (tmp / "web_tier_bench.json").write_text(json.dumps(rows, indent=1))
    print(f"raw results: {tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
