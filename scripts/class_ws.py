"""Class benchmark at Streamlit's protocol level: N students as websocket sessions on one server, no browsers.

    .venv/bin/python scripts/class_ws.py                                  # the curve: N = 10, 20, 40, 80, 120
    .venv/bin/python scripts/class_ws.py --sessions 40 --out /tmp/ws.json # one level
    .venv/bin/python scripts/class_ws.py --sessions 10,40 --variant base:AE_LAB_SHARED_MAP=0 --variant lever:
        # side by side: each level runs once per variant (a fresh server each, same machine, same minute)
    .venv/bin/python scripts/class_ws.py --url http://127.0.0.1:8080 --sessions 100 --cookie-secret S
        # against a running server or a balancer (any base URL, a path prefix included). In classroom mode the
        # sessions are logged-in students: pass the server's [auth] cookie_secret to mint their login cookies;
        # --local for a server not in classroom mode. --server-pid P adds that process tree's CPU and memory.
    .venv/bin/python scripts/class_ws.py --browser-cpu                    # + server CPU per page view, 1 Chromium
    .venv/bin/python scripts/class_ws.py --sessions 40 --py-spy /tmp/prof # + py-spy on the server (--idle, --gil)

Without --url it starts the real `streamlit run app.py` (127.0.0.1, a free port) for every level and variant, on
a fresh copy of a temporary checkpoint folder holding one trained seed-vae run, in classroom mode with its own
cookie secret (--local: without), AE_LAB_MAX_JOBS=--max-jobs; it opens every page once before the students come.

Each student (class_ws_student.py) walks Home → Train → preset → Quick demo settings → (half the class: a seed of
their own; the other half the same settings, one shared run) → Launch → Live run with the fragment's
auto-reruns until the job ends → Latent space, three clicks on the map → a lesson → Runs → Class, with exponential think
times (mean --think), arriving over --ramp seconds. Every interaction is timed from its rerun_script to its
script_finished (class_ws_client.py speaks the protocol with the classes of streamlit.proto).

Printed per level: p50/p95/p99 by page and by action, errors (exception elements, st.error, disconnects,
time-outs, a path that could not be walked), bytes per view; then the capacity curve with the server's CPU
(the streamlit process), its jobs' CPU, the benchmark's own CPU, peak PSS, runs per minute and queue wait of the
embedded backend, and the largest N that holds the target. Exit 0 when it ran (targets missed included), 2 when
it could not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil
from class_browsers import ROOT, app_env, finish, guarded, start_server, stop_server, stop_workers, wait_port
from class_browsers_sampler import Sampler, pss
from class_ws_client import Session, mint_user_cookie
from class_ws_figures import level_figures, print_curve, print_level
from class_ws_student import Student, Walk

WARM_PAGES = ["", "Train", "Live_run", "Latent_space", "Lessons", "Runs", "Class"]


def variants(specs: list[str]) -> list[tuple[str, dict]]:
    """--variant NAME:ENV=V,ENV2=V2 -> [(name, env)]; none given: one variant 'current' with no change."""
    out = []
    for spec in specs or ["current:"]:
        name, _, pairs = spec.partition(":")
        env = dict(p.split("=", 1) for p in pairs.split(",") if p)
        out.append((name or "current", env))
    return out


def seed_run(tmp: Path) -> Path:
    """A checkpoint folder with one trained seed-vae run (what Latent space shows before the class trains), at the
    Quick demo size (seed 1: no student launches it)."""
    root = tmp / "template" / "checkpoints"
    env = {**app_env(tmp / "template"), "AE_LAB_CHECKPOINTS": str(root)}
    subprocess.run([sys.executable, "-m", "engine", "train", "--preset", "seed-vae", "--epochs", "2", "--train-limit",
                    "2000", "--seed", "1", "--quiet"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                   timeout=600)
    return root


def classroom_env(tmp: Path, secret: str) -> dict:
    """Classroom mode with an [auth] section whose cookie secret the benchmark holds (no provider is contacted:
    the students' login cookies are minted, class_ws_client.mint_user_cookie)."""
    path = tmp / "secrets.toml"
    path.write_text(f'[auth]\nredirect_uri = "http://127.0.0.1/oauth2callback"\ncookie_secret = "{secret}"\n'
                    'client_id = "bench"\nclient_secret = "bench"\n'
                    'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n'
                    '[classroom]\nenabled = true\n')
    return {"AE_LAB_CLASSROOM": "1", "STREAMLIT_SECRETS_FILES": str(path)}


def students(n: int, url: str, secret: str | None, tag: str) -> list[Student]:
    """Even students launch the same settings (seed 0 after Quick demo: one shared run), odd ones their own."""
    out = []
    for i in range(n):
        st = Student(f"s{i}", seed=0 if i % 2 == 0 else 100 + i)
        if secret:
            from class_ws_client import USER_COOKIE
            email = f"student{i}-{tag}@bench.invalid"
            st.cookies[USER_COOKIE] = mint_user_cookie(secret, url_origin(url), email, f"Student {i}")
        out.append(st)
    return out


def url_origin(url: str) -> str:
    from urllib.parse import urlsplit
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


async def warm(url: str, cookies: dict, timeout_s: float) -> None:
    """Open every page of the path once, as on a server already in use (imports, caches, the warm worker)."""
    s = Session(url, cookies, timeout_s)
    await s.open()
    try:
        for page in WARM_PAGES:
            await s.rerun(page)
    finally:
        await s.close()


async def class_run(url: str, sts: list[Student], args) -> float:
    """All students walk, each arriving at a uniform random moment in [0, ramp]; returns the wall time."""
    rng, t0 = random.Random(args.seed), time.monotonic()

    async def one(st: Student) -> None:
        await asyncio.sleep(rng.uniform(0, args.ramp))
        await Walk(url, st, args.think, args.watch, args.step_timeout, t0, random.Random(rng.random())).walk()

    await asyncio.gather(*(one(st) for st in sts))
    return time.monotonic() - t0


def job_figures(root: Path) -> dict:
    """Runs per minute and queue wait (started − queued) of the embedded backend's jobs in `root`."""
    from engine.jobs.jobdb import JobDB
    db = JobDB(root)
    recs = [r for r in (db.job(j) for j in db.ids()) if r and not r.get("cached")]
    done = [r for r in recs if r.get("status") == "completed" and r.get("finished")]
    waits = [r["started"] - r["queued"] for r in recs if r.get("started") and r.get("queued")]
    span = (max(r["finished"] for r in done) - min(r["queued"] for r in done)) if done else 0
    return {"jobs": len(recs), "completed": len(done), "statuses": dict(Counter(r.get("status") for r in recs)),
            "runs_per_min": 60 * len(done) / span if span > 0 else 0.0,
            "queue_wait_s": {"p50_s": statistics.median(waits) if waits else None,
                             "max_s": max(waits) if waits else None}}


class Usage:
    """CPU seconds of the server process alone, of its descendants (jobs), and of this benchmark, over a level;
    peak PSS from class_browsers_sampler.Sampler (server alone and with its descendants)."""

    def __init__(self, pid: int | None):
        self.pid = pid
        self.sampler = Sampler(pid, every_s=1.0) if pid else None  # a slow sampler: it runs in this process
        if self.sampler:
            self.sampler.start()
        self.peak_server_pss = 0

    def start(self) -> None:
        self.t0, self.me0 = time.monotonic(), self._cpu(os.getpid(), False)
        self.srv0 = self._cpu(self.pid, False) if self.pid else 0.0
        if self.sampler:
            self.sampler.reset()

    @staticmethod
    def _cpu(pid: int, children: bool) -> float:
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system + ((t.children_user + t.children_system) if children else 0)

    def stop(self) -> dict:
        wall = time.monotonic() - self.t0
        out = {"wall_s": wall, "bench_cores": (self._cpu(os.getpid(), False) - self.me0) / wall,
               "server_cores": 0.0, "jobs_cores": 0.0, "server_pss_mb": 0.0, "tree_pss_mb": 0.0}
        if self.sampler:
            srv = self._cpu(self.pid, False) - self.srv0
            mem = self.sampler.reset()
            out.update(server_cores=srv / wall, jobs_cores=max(0.0, mem["cpu_s_server_and_workers"] - srv) / wall,
                       server_pss_mb=pss(self.pid) / 2**20, tree_pss_mb=mem["tree_peak_mb"],
                       server_peak_rss_mb=mem["server_peak_mb"])
        return out

    def close(self) -> None:
        if self.sampler:
            self.sampler.stopped.set()


def py_spy(folder: str | None, pid: int | None, name: str) -> list[subprocess.Popen]:
    """py-spy sampling the server while the class runs: all threads (--idle: waits included) and only the samples
    holding the GIL (--gil), as collapsed stacks (one line each: frames;...;frame count), 50 samples a second."""
    if not folder or not pid:
        return []
    Path(folder).mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return [subprocess.Popen([spy, "record", "-p", str(pid), *flags, "--nonblocking", "-r", "50", "-f", "raw",
                              "-o", str(Path(folder) / f"{name}-{label}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for label, flags in (("idle", ["--idle"]), ("gil", ["--gil"]))]


async def level(n: int, variant: str, env: dict, args, tmp: Path, template: Path | None) -> dict:
    """One level: a fresh server (unless --url), warm-up, N students; figures of that level."""
    secret = args.cookie_secret or (None if args.local else secrets.token_hex(32))
    tag = f"{n}-{variant}-{time.monotonic_ns()}"
    server, root = None, None
    if args.url:
        url, pid = args.url.rstrip("/"), args.server_pid
    else:
        here = tmp / tag
        root = here / "checkpoints"
        shutil.copytree(template, root)
        full = {**app_env(here), **env, "AE_LAB_MAX_JOBS": str(args.max_jobs)}
        if not args.local:
            full.update(classroom_env(here, secret))
        server = start_server(ROOT / "app.py", ROOT, full, here / "server.log")
        await wait_port(server, args.step_timeout)
        url, pid = server.url, server.proc.pid
    usage, spies = Usage(pid), []
    try:
        sts = students(n, url, None if args.local else secret, tag)
        await warm(url, students(1, url, None if args.local else secret, tag + "-warm")[0].cookies, args.step_timeout)
        usage.start()
        spies = py_spy(args.py_spy, pid, f"{n}-{variant}")
        wall = await class_run(url, sts, args)
        machine = usage.stop()
    finally:
        for spy in spies:
            spy.send_signal(2)  # SIGINT: py-spy writes what it sampled and exits
            spy.wait(30)
        usage.close()
        if server:
            stop_server(server)
            stop_workers(root)
    records = [r for st in sts for r in st.records]
    errors = [e for st in sts for e in st.errors]
    res = {"n": n, "variant": variant, "env": env, "wall_s": wall, "machine": machine, "errors": errors,
           "launched": dict(Counter(st.launched or "no" for st in sts)),
           "skipped": dict(Counter(x for st in sts for x in st.skipped)),
           "signed_in": [st.signed_in for st in sts],
           "figures": level_figures(records, errors), "records": records}
    if root is not None:
        res["jobs"] = job_figures(root)
        log = (root.parent / "server.log").read_text(errors="replace")
        res["server_tracebacks"] = log.count("Traceback (most recent call last)")
    return res


async def run(args, tmp: Path, out: dict) -> None:
    template = None if args.url else await asyncio.to_thread(seed_run, tmp)
    for n in args.sessions:
        for name, env in variants(args.variant):
            print(f"{n} students · {name} ... (load {os.getloadavg()[0]:.1f})", flush=True)
            res = await level(n, name, env, args, tmp, template)
            print_level(n, name, res)
            out["levels"].append(res)
            if args.out:  # after every level: an interrupted curve keeps what it measured
                Path(args.out).write_text(json.dumps(out, indent=1, default=str))
    if args.browser_cpu:
        from class_ws_browser import browser_cpu
        out["browser_cpu"] = await browser_cpu(args, tmp, template, variants(args.variant))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", default="10,20,40,80,120",
                    help="levels of N, comma-separated (default 10,20,40,80,120)")
    ap.add_argument("--think", type=float, default=5.0, help="mean think time in seconds (exponential; default 5)")
    ap.add_argument("--ramp", type=float, default=10.0, help="students arrive over this many seconds (default 10)")
    ap.add_argument("--watch", type=float, default=90.0, help="at most this long on Live run per student (default 90)")
    ap.add_argument("--step-timeout", type=float, default=60.0, help="seconds one interaction may take (default 60)")
    ap.add_argument("--max-jobs", type=int, default=8, help="the server's AE_LAB_MAX_JOBS (default 8)")
    ap.add_argument("--variant", action="append", metavar="NAME:ENV=V,...",
                    help="run every level once per variant, with these environment variables (repeatable)")
    ap.add_argument("--url", help="a running server or balancer to load instead of starting one (any base URL)")
    ap.add_argument("--server-pid", type=int, help="with --url: the server's pid, for its CPU and memory")
    ap.add_argument("--cookie-secret", help="with --url in classroom mode: the server's [auth] cookie_secret")
    ap.add_argument("--local", action="store_true", help="the server is not in classroom mode (no logins)")
    ap.add_argument("--browser-cpu", action="store_true",
                    help="also: server CPU per page view of one headless Chromium session (every page, warm server)")
    ap.add_argument("--browser-rounds", type=int, default=2, help="with --browser-cpu: visits of every page (2)")
    ap.add_argument("--py-spy", metavar="DIR", help="record the server with py-spy during each level (collapsed "
                    "stacks in DIR: <N>-<variant>-idle.txt, all threads; -gil.txt, GIL holders only)")
    ap.add_argument("--seed", type=int, default=0, help="random seed of arrivals and think times")
    ap.add_argument("--out", help="write the raw results (every interaction) as JSON here")
    args = ap.parse_args(argv)
    try:
        args.sessions = [int(x) for x in args.sessions.split(",") if x.strip()]
    except ValueError:
        ap.error("--sessions: comma-separated whole numbers, e.g. 10,20,40")
    if not args.sessions or min(args.sessions) < 1 or args.think < 0 or args.ramp < 0:
        ap.error("--sessions must be at least 1, --think and --ramp not negative")
    if args.url and not args.local and not args.cookie_secret:
        ap.error("--url in classroom mode needs --cookie-secret (the server's [auth] cookie_secret), or --local")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    sys.path.insert(0, str(ROOT))
    out: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "args": vars(args), "levels": []}
    with tempfile.TemporaryDirectory(prefix="ae-lab-ws-") as tmp:
        code = guarded(run(args, Path(tmp), out), out)
    if out["levels"]:
        print_curve(out["levels"])
    if out.get("browser_cpu"):
        from class_ws_browser import print_browser_cpu
        print_browser_cpu(out["browser_cpu"])
    return finish(out, args.out, code)


if __name__ == "__main__":
    sys.exit(main())
