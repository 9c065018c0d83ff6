"""Server CPU per page view with ONE headless Chromium session (scripts/class_ws.py --browser-cpu).

A fresh server per variant (as class_ws.py starts them), warmed up over the protocol; then one Chromium session,
signed in as a student in classroom mode, opens every page of the sidebar by its link, `--browser-rounds` times.
A view counts from the click to the end of its script run (the stApp's data-test-script-state going back to
notRunning, counted as scripts/class_browsers_student.py does) plus 0.5 s for the requests the page's elements
make afterwards (pictures, components); the server's CPU (the streamlit process alone, not its jobs) over that
window is the view's cost. The browser itself runs here too, but its CPU is not counted.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import time
from pathlib import Path

import psutil
from class_browsers import CHROMIUM, CHROMIUM_ARGS, ROOT, app_env, start_server, stop_server, stop_workers, wait_port
from class_browsers_student import COUNT_RUNS_JS, IDLE_JS
from class_ws_client import Session

SETTLE_S = 0.5
CLICK_JS = "() => { window.__aeClick = performance.now(); return window.__aeRuns || 0; }"


def cpu_s(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


async def pages_of(url: str, cookies: dict, timeout_s: float) -> dict[str, str]:
    """{url_pathname: page_script_hash} of the app's sidebar, each page opened once (the warm-up)."""
    s = Session(url, cookies, timeout_s)
    await s.open()
    try:
        await s.rerun("")
        for path in list(s.pages):
            await s.rerun(path)
        return dict(s.pages)
    finally:
        await s.close()


async def views(url: str, pid: int, paths: list[str], cookies: dict, rounds: int, timeout_s: float) -> dict:
    """Server CPU-seconds per view of every page, over `rounds` rounds, in one browser session."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout
    from playwright.async_api import async_playwright

    out: dict[str, list[float]] = {p or "Home": [] for p in paths}
    missed: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
            if cookies:
                await ctx.add_cookies([{"name": k, "value": v, "url": url} for k, v in cookies.items()])
            await ctx.add_init_script(COUNT_RUNS_JS)
            page = await ctx.new_page()
            await page.goto(url, timeout=timeout_s * 1000)
            await page.wait_for_function(IDLE_JS, polling=100, timeout=timeout_s * 1000)
            for _ in range(rounds):
                for path in paths:
                    link = page.locator(f"[data-testid=stSidebarNav] a[href='{url}/{path}']").first
                    n = await page.evaluate(CLICK_JS)
                    c0 = cpu_s(pid)
                    await link.click(timeout=timeout_s * 1000)
                    # the run counter moved; or, a second after the click, the browser is on the page and idle
                    # (about 1 view in 30 ended without the counter's observer seeing the script state change)
                    there = (f"performance.now() - window.__aeClick > 1000 && "
                             f"location.pathname.endsWith({json.dumps('/' + path)}) && ({IDLE_JS})()")
                    try:
                        await page.wait_for_function(f"() => (window.__aeRuns || 0) > {n} || ({there})", polling=50,
                                                     timeout=timeout_s * 1000)
                        await page.wait_for_function(IDLE_JS, polling=50, timeout=timeout_s * 1000)
                    except PlaywrightTimeout:  # a view that never ended: said, not counted
                        missed.append(path or "Home")
                        continue
                    await asyncio.sleep(SETTLE_S)
                    out[path or "Home"].append(cpu_s(pid) - c0)
        finally:
            await browser.close()
    return {"views": out, "missed": missed}


async def browser_cpu(args, tmp: Path, template: Path | None, variants: list[tuple[str, dict]]) -> dict:
    """{variant: {"by_page": {page: mean CPU-s}, "mean_s": mean over every view}} (needs no --url)."""
    from class_ws import classroom_env, students  # class_ws imports this module lazily: no cycle at import

    if args.url or not Path(CHROMIUM).exists():
        return {"skipped": "needs Debian's Chromium and a server this benchmark starts (no --url)"}
    res = {}
    for name, env in variants:
        here = tmp / f"browser-{name}-{time.monotonic_ns()}"
        root = here / "checkpoints"
        shutil.copytree(template, root)
        secret = None if args.local else "b" * 64
        full = {**app_env(here), **env, "AE_LAB_MAX_JOBS": str(args.max_jobs)}
        if secret:
            full.update(classroom_env(here, secret))
        server = start_server(ROOT / "app.py", ROOT, full, here / "server.log")
        try:
            await wait_port(server, args.step_timeout)
            cookies = students(1, server.url, secret, "browser")[0].cookies
            paths = list(await pages_of(server.url, cookies, args.step_timeout))
            paths = paths[1:] + paths[:1]  # the session starts on Home: a click on its own link reruns nothing
            got = await views(server.url, server.proc.pid, paths, cookies, args.browser_rounds, args.step_timeout)
        finally:
            stop_server(server)
            stop_workers(root)
        seen = got["views"]
        by_page = {p: statistics.mean(v) for p, v in seen.items() if v}
        res[name] = {"by_page": by_page, "mean_s": statistics.mean(x for v in seen.values() for x in v),
                     "views": sum(len(v) for v in seen.values()), "missed": got["missed"]}
    return res


def print_browser_cpu(res: dict) -> None:
    if "skipped" in res:
        print(f"\nServer CPU per page view, one Chromium session: skipped ({res['skipped']})")
        return
    print("\nServer CPU per page view, one Chromium session (target ≤ 0.05 s on average; was 0.12 s)")
    for name, r in res.items():
        pages = ", ".join(f"{p} {s:.3f}" for p, s in sorted(r["by_page"].items(), key=lambda kv: -kv[1]))
        print(f"  {name}: mean {r['mean_s']:.3f} CPU-s over {r['views']} views; by page: {pages}")
        if r["missed"]:
            print(f"    views that did not end within the step timeout (not counted): {', '.join(r['missed'])}")
