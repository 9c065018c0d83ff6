"""Browser load benchmark: many students' browsers on one `streamlit run app.py`, timed in headless Chromium.

    .venv/bin/python scripts/class_browsers.py                      # cold start, 1 session, 8 concurrent sessions
    .venv/bin/python scripts/class_browsers.py --sessions 2 --skip-cold --out /tmp/smoke.json   # quick smoke check
    .venv/bin/python scripts/class_browsers.py --cdp http://laptop:9222 --host server.lan     # browsers elsewhere

Phases, in one run (a fresh temporary checkpoint and data folder; the user's runs are never touched):
1. cold start: a hello-world Streamlit app, then this app, each started cold (median of --cold-reps);
   time from process start until the first h1 is visible in Chromium.
2. one session walks a student's path on a fresh server warmed up by one visit of every page:
   Home → Train → Quick demo settings → Launch → Live run (until the job ends) → Latent space → Lessons.
3. --sessions concurrent sessions (one browser context each) walk the same path together; even sessions
   launch the same config (seed 0: one shared run), odd ones their own seed (100 + i).
4. the floor: a hello-world Streamlit app opened by 1 session, then by --sessions fresh sessions at once. Its
   ratio is what these browsers alone cost any Streamlit app on this machine (each loads the 2 MB frontend);
   this app's Home under the same load is compared with it.
--nice-browsers N runs Chromium N steps nicer than the server (here the browsers share its cores; in a class they
run on the students' machines). It did not bring the figures closer to a class's (docs/cluster.md, run F).
Printed: a figures table with the targets (PASS/MISS); --out writes the raw results as JSON. Exit 0 whenever
the benchmark ran (targets missed included), 2 when it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path

from class_browsers_figures import figures, print_table  # scripts/ is sys.path[0]
from class_browsers_sampler import Sampler, job_table
from class_browsers_student import Student, open_session, warm_up

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
LOOPBACK = ("127.0.0.1", "localhost")
# A Chromium on another machine for --cdp. Without the three --disable-* flags, pages of contexts that are not in
# front count as background tabs: their timers are throttled to once a second and every figure doubles.
REMOTE_CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-timer-throttling",
                   "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
                   "--remote-debugging-port=9222", "--remote-debugging-address=0.0.0.0"]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- servers -----------------------------------------------------------------------------------------
@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    t0: float  # time.monotonic() just before the process was started
    log: Path

    @property
    def url(self) -> str:
        return f"http://{SERVE_HOST}:{self.port}"


SERVE_HOST = "127.0.0.1"  # where the browsers reach the servers (--host; another address makes them listen on all)
SERVERS: list[Server] = []  # every server started, stopped at the end whatever happens
CHECKPOINT_ROOTS: list[Path] = []  # their checkpoint folders: their training workers are stopped at the end


def start_server(script: Path, cwd: Path, env: dict, log: Path) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1" if SERVE_HOST in LOOPBACK else "0.0.0.0",
           "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    with open(log, "w") as f:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT)
    server = Server(proc, port, t0, log)
    SERVERS.append(server)
    return server


async def wait_port(server: Server, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"the server exited ({server.proc.returncode}): {server.log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", server.port), 0.2).close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"the server did not open port {server.port} in {timeout_s:.0f} s")


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(5)
    if server in SERVERS:
        SERVERS.remove(server)


def stop_workers(root: Path) -> int | None:
    """Stop the training workers of the checkpoint folder `root`; returns how many jobs it saw (None: unknown)."""
    sys.path.insert(0, str(ROOT))
    from engine.jobs.embedded import EmbeddedBackend
    be = EmbeddedBackend(root)
    try:
        n = len(be.jobs())
    except Exception:  # noqa: BLE001 - counting is a nicety, stopping is what matters
        n = None
    be.shutdown()
    return n


def app_env(tmp: Path) -> dict:
    (tmp / "data").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("AE_LAB_CLASSROOM", "AE_LAB_RAY_ADDRESS")}
    return {**env, "AE_LAB_BACKEND": "embedded", "AE_LAB_CHECKPOINTS": str(tmp / "checkpoints"),
            "AE_LAB_DATA": str(tmp / "data"), "PYTHONUNBUFFERED": "1"}


# ---- phases ------------------------------------------------------------------------------------------
HELLO_APP = 'import streamlit as st\n\nst.title("hello")\n'


async def cold_start(browser, script: Path, cwd: Path, env: dict, tmp: Path, title: str | None,
                     timeout_s: float) -> float:
    """Seconds from starting the server process until its first h1 (containing `title`) is visible."""
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    server = None
    try:
        page = await ctx.new_page()
        server = start_server(script, cwd, env, tmp / f"cold-{time.monotonic_ns()}.log")
        await wait_port(server, timeout_s)
        left_ms = (timeout_s - (time.monotonic() - server.t0)) * 1000
        await page.goto(server.url, wait_until="commit", timeout=left_ms)
        h1 = page.locator("[data-testid=stMain] h1")
        await (h1.filter(has_text=title) if title else h1).first.wait_for(state="visible", timeout=left_ms)
        return time.monotonic() - server.t0
    finally:
        await ctx.close()
        if server:
            stop_server(server)


def hello_app(tmp: Path) -> Path:
    """The hello-world app's script (written once into `tmp`)."""
    script = tmp / "hello" / "hello.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(HELLO_APP)
    return script


async def phase_cold(browser, args, tmp: Path) -> dict:
    """Hello-world and this app, each started cold, alternately; at least 2 repetitions, at most --cold-reps
    (fewer when the phase has used up --cold-budget seconds)."""
    hello_dir = hello_app(tmp).parent
    env = app_env(tmp / "cold")
    CHECKPOINT_ROOTS.append(tmp / "cold" / "checkpoints")
    out: dict = {"hello_s": [], "app_s": []}
    t0 = time.monotonic()
    for rep in range(args.cold_reps):
        if rep >= 2 and time.monotonic() - t0 > args.cold_budget:
            break
        out["hello_s"].append(await cold_start(browser, hello_dir / "hello.py", hello_dir, {**os.environ}, tmp,
                                               "hello", args.step_timeout))
        out["app_s"].append(await cold_start(browser, ROOT / "app.py", ROOT, env, tmp, None, args.step_timeout))
        print(f"  cold start {rep + 1}: hello-world {out['hello_s'][-1]:.2f} s, app {out['app_s'][-1]:.2f} s",
              flush=True)
    out["hello_median_s"] = statistics.median(out["hello_s"])
    out["app_median_s"] = statistics.median(out["app_s"])
    out["ratio"] = out["app_median_s"] / out["hello_median_s"]
    return out


async def walk_all(browser, url: str, students: list[Student], args, root: Path) -> None:
    """Every student's context is opened first; then all walk at the same moment. Meanwhile the job table is
    read every 0.1 s, so Launch → first live point splits into the job's part (until its first step is in the
    table: "job first step" in each timeline) and the page's (until the browser shows it)."""
    opened = [await open_session(browser, url, st, args.step_timeout, args.watch_timeout) for st in students]
    seen: dict[str, dict[int, float]] = {"job submitted": {}, "job first step": {}}

    async def poll() -> None:
        while True:
            for what, times in (await asyncio.to_thread(job_table, root)).items():
                for seed, t in times.items():
                    seen[what].setdefault(seed, t)
            await asyncio.sleep(0.1)

    poller = asyncio.create_task(poll())
    try:
        origin = time.monotonic()
        for _, walk in opened:
            walk.origin = origin
        await asyncio.gather(*(walk.walk() for _, walk in opened))
    finally:
        poller.cancel()
        for ctx, _ in opened:
            await ctx.close()
        for st in students:
            for what, times in seen.items():
                if st.seed in times and not st.launch_cached:
                    st.timeline[what] = round(times[st.seed] - origin, 2)


async def phase_floor(browser, args, tmp: Path) -> dict:
    """The browsers' own share: a warm hello-world server opened by 1 session (median of 3), then by --sessions
    fresh sessions at once. Every session loads Streamlit's frontend as on this app's Home, so the ratio of the
    two is what the browsers on this machine impose on any Streamlit app, whatever its server does."""
    script = hello_app(tmp)
    server = start_server(script, script.parent, {**os.environ}, tmp / "hello-floor.log")
    out: dict = {}
    try:
        await wait_port(server, args.step_timeout)

        async def first_render(n: int) -> list[float]:
            opened = [await open_session(browser, server.url, Student(f"h{i}", 0), args.step_timeout,
                                         args.step_timeout) for i in range(n)]
            try:
                t0 = time.monotonic()

                async def one(walk) -> float:
                    await walk.page.goto(server.url, wait_until="commit", timeout=walk.step_ms)
                    return await walk.rendered("hello", t0)

                return list(await asyncio.gather(*(one(w) for _, w in opened)))
            finally:
                for ctx, _ in opened:
                    await ctx.close()

        await first_render(1)  # the server's first session imports what a page needs: not counted
        out["single_s"] = [(await first_render(1))[0] for _ in range(3)]
        out["sessions_s"] = await first_render(args.sessions)
    finally:
        stop_server(server)
    return out


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


async def phase_sessions(browser, args, tmp: Path, results: dict) -> None:
    env = app_env(tmp / "app")
    if args.max_jobs:
        env["AE_LAB_MAX_JOBS"] = str(args.max_jobs)
    CHECKPOINT_ROOTS.append(tmp / "app" / "checkpoints")
    server = start_server(ROOT / "app.py", ROOT, env, tmp / "app.log")
    sampler = Sampler(server.proc.pid)
    sampler.start()
    try:
        await wait_port(server, args.step_timeout)
        results["warm_up_s"] = await warm_up(browser, server.url, args.step_timeout)
        sampler.reset()
        print("  1 session ...", flush=True)
        one = Student("single", seed=99)  # a seed of its own: the concurrent sessions' configs stay untrained
        await walk_all(browser, server.url, [one], args, tmp / "app" / "checkpoints")
        results["single"] = {**asdict(one), "memory": sampler.reset()}
        results["loadavg_before_sessions"] = loadavg()
        print(f"  {args.sessions} sessions ... (load {results['loadavg_before_sessions']})", flush=True)
        many = [Student(f"s{i}", seed=0 if i % 2 == 0 else 100 + i) for i in range(args.sessions)]
        t0 = time.monotonic()
        await walk_all(browser, server.url, many, args, tmp / "app" / "checkpoints")
        results["sessions"] = {"n": args.sessions, "wall_s": time.monotonic() - t0,
                               "students": [asdict(st) for st in many], "memory": sampler.reset()}
    finally:
        sampler.stopped.set()
        stop_server(server)
        log = server.log.read_text(errors="replace") if server.log.exists() else ""
        results["server_tracebacks"] = log.count("Traceback (most recent call last)")
        if results["server_tracebacks"]:
            results["server_log_tail"] = log[-4000:]
        results["jobs_seen"] = stop_workers(tmp / "app" / "checkpoints")
        CHECKPOINT_ROOTS.remove(tmp / "app" / "checkpoints")


# ---- main --------------------------------------------------------------------------------------------
def chromium(nice: int, tmp: Path) -> str:
    """The Chromium to launch: Debian's, or with `nice` a wrapper that execs it that much nicer (its renderers
    inherit the priority)."""
    if not nice:
        return CHROMIUM
    wrapper = tmp / "chromium-niced"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {int(nice)} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


async def run(args, tmp: Path, results: dict) -> None:
    from playwright.async_api import async_playwright

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)  # as Ctrl-C
    async with async_playwright() as p:
        if args.cdp:  # a Chromium elsewhere, started with --remote-debugging-port: the sessions run there
            browser = await p.chromium.connect_over_cdp(args.cdp)
        else:
            browser = await p.chromium.launch(executable_path=chromium(args.nice_browsers, tmp), args=CHROMIUM_ARGS)
        try:
            if not args.skip_cold:
                print("cold start ...", flush=True)
                results["cold"] = await phase_cold(browser, args, tmp)
            await phase_sessions(browser, args, tmp, results)
            if not args.skip_floor:
                print(f"hello-world, 1 and {args.sessions} sessions ...", flush=True)
                results["floor"] = await phase_floor(browser, args, tmp)
        finally:
            await browser.close()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=8, help="concurrent browser sessions (default 8)")
    ap.add_argument("--out", help="write the raw results as JSON here")
    ap.add_argument("--skip-cold", action="store_true", help="skip the cold-start comparison with hello-world")
    ap.add_argument("--skip-floor", action="store_true",
                    help="skip the hello-world app opened by 1 and by --sessions sessions (the browsers' own share)")
    ap.add_argument("--cold-reps", type=int, default=3, help="cold starts of each app (median; at least 2)")
    ap.add_argument("--cold-budget", type=float, default=120, help="no 3rd cold start after this many seconds")
    ap.add_argument("--step-timeout", type=float, default=120, help="seconds any one step may take")
    ap.add_argument("--watch-timeout", type=float, default=300,
                    help="seconds to wait for a job's first live point, and to watch it until it ends")
    ap.add_argument("--nice-browsers", type=int, default=0, metavar="N",
                    help="run Chromium N steps nicer than the server (in a class the browsers are on the students' "
                         "machines; here they share its cores). Default 0: a worst case")
    ap.add_argument("--max-jobs", type=int, metavar="N",
                    help="the app's AE_LAB_MAX_JOBS: jobs trained at once (default: the app's default, 1 on a CPU; a "
                         "classroom server sets about the class's concurrent launches, see docs/cluster.md)")
    ap.add_argument("--cdp", metavar="URL",
                    help="run the sessions in a Chromium elsewhere (URL: http://HOST:9222), so that the browsers do "
                         "not share the server's cores, as in a class; start it there with " + " ".join(REMOTE_CHROMIUM)
                         + " and pass --host with this machine's address as that machine sees it")
    ap.add_argument("--host", default="127.0.0.1",
                    help="the address the browsers use to reach this machine's servers (default 127.0.0.1; any "
                         "other makes the servers listen on all interfaces)")
    ap.add_argument("--total-timeout", type=float, default=1800, help="seconds the whole benchmark may take")
    args = ap.parse_args(argv)
    if args.sessions < 1 or args.cold_reps < 1:
        ap.error("--sessions and --cold-reps must be at least 1")
    return args


def run_all(args: argparse.Namespace, results: dict) -> int:
    """Every phase, with the servers and workers stopped whatever happens; returns the exit code."""
    with tempfile.TemporaryDirectory(prefix="ae-lab-browsers-") as tmp:
        try:
            code = guarded(asyncio.wait_for(run(args, Path(tmp), results), args.total_timeout), results)
        finally:
            for root in CHECKPOINT_ROOTS:
                stop_workers(root)
        results["loadavg_after"] = loadavg()
    return code


def main(argv: list[str] | None = None) -> int:
    global SERVE_HOST
    args = parse(argv)
    SERVE_HOST = args.host
    if not args.cdp and not Path(CHROMIUM).exists():
        print(f"needs Debian's Chromium at {CHROMIUM}", file=sys.stderr)
        return 2
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "loadavg_before": loadavg(),
                     "args": vars(args)}
    print(f"load before: {results['loadavg_before']} ({os.cpu_count()} CPUs)", flush=True)
    code = run_all(args, results)
    if code == 0:
        print_table(figures(results))
    for e in results.get("summary", {}).get("errors", []):
        print(f"  error: {e['session']} · {e['page']} · {e['kind']}: {e['detail'][:200]}")
    return finish(results, args.out, code)


def guarded(main: Coroutine, results: dict) -> int:
    """Run the benchmark's coroutine: 0; interrupted: 130; the benchmark itself failed: 2, with why in
    results["fatal"]. Every server it started is stopped either way."""
    try:
        asyncio.run(main)
        return 0
    except (KeyboardInterrupt, asyncio.CancelledError):
        results["fatal"] = "interrupted"
        return 130
    except Exception as e:  # noqa: BLE001 - the benchmark itself could not run: say why, clean up, exit 2
        results["fatal"] = f"{type(e).__name__}: {e}"
        return 2
    finally:
        for server in list(SERVERS):
            stop_server(server)


def finish(results: dict, out: str | None, code: int) -> int:
    """A benchmark's last words: why it did not complete (if so), and its raw results as JSON in `out`."""
    if results.get("fatal"):
        print(f"benchmark did not complete: {results['fatal']}", file=sys.stderr)
    if out:
        Path(out).write_text(json.dumps(results, indent=1, default=str))
        print(f"raw results: {out}")
    return code


if __name__ == "__main__":
    sys.exit(main())
