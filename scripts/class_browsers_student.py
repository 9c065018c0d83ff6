"""One student's browser session for scripts/class_browsers.py: the path it walks and what counts as rendered.

Selectors (read off the real DOM of Streamlit 1.67):
- rendered: the page's own `[data-testid=stMain] h1` is visible (not inside `[data-stale=true]`, a leftover of the
  previous page) and `[data-testid=stApp]` has `data-test-script-state="notRunning"` (the attribute Streamlit's own
  e2e tests read; the status widget only appears after 500 ms of running, so its absence alone proves nothing);
- first live point: `[data-testid=stVegaLiteChart]` holds an svg/canvas, or the `stMetric` labelled
  "reconstruction / image" shows a number instead of "—" (the metric usually comes first);
- errors: `stException` and `stAlertContentError` elements in the main area, page JS errors, timeouts, and a job
  that does not end "completed".
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from playwright.async_api import TimeoutError as PlaywrightTimeout

HOME_TITLE = "Autoencoders & VAEs"
PATH_PAGES = [("Train", "Train a model", "/Train"), ("Live run", "Live run", "/Live_run"),
              ("Latent space", "Latent space", "/Latent_space"), ("Lessons", "Lessons", "/Lessons")]
CACHED_TEXT = "already trained — loading from cache"  # the Train page's answer to a config already trained
CHART = "[data-testid=stMain] [data-testid=stVegaLiteChart] :is(svg.marks, canvas)"
DONE_WORDS = ("completed", "failed", "cancelled", "interrupted")

# Counts finished script runs (the stApp attribute Streamlit's own e2e tests read), so a widget change can be
# waited for: its rerun has finished once the counter moved and the state is notRunning.
COUNT_RUNS_JS = """(() => { window.__aeRuns = 0; const hook = () => {
  const app = document.querySelector('[data-testid=stApp]'); if (!app) { setTimeout(hook, 50); return; }
  new MutationObserver(() => { if (app.getAttribute('data-test-script-state') === 'notRunning') window.__aeRuns++; })
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']}); }; hook(); })();"""
# Rendered: the page's own h1 is visible (not a stale one of the previous page) and the script is not running
# (data-test-script-state; without that attribute: the status widget is gone).
RENDERED_JS = """title => { const app = document.querySelector('[data-testid=stApp]'); if (!app) return false;
  const h = [...document.querySelectorAll('[data-testid=stMain] h1')].find(e => e.innerText.includes(title)
    && e.offsetParent !== null && !e.closest('[data-stale=true]'));
  const s = app.getAttribute('data-test-script-state');
  return !!h && (s ? s === 'notRunning' : !document.querySelector('[data-testid=stStatusWidget]')); }"""
IDLE_JS = """() => document.querySelector('[data-testid=stApp]')
  ?.getAttribute('data-test-script-state') === 'notRunning'"""
# First live point: the loss chart is drawn, or the "reconstruction / image" metric shows a number.
FIRST_POINT_JS = """() => { const main = document.querySelector('[data-testid=stMain]');
  if (!main || !location.pathname.endsWith('/Live_run')) return null;
  if (main.querySelector('[data-testid=stVegaLiteChart] :is(svg.marks, canvas)')) return 'chart';
  for (const m of main.querySelectorAll('[data-testid=stMetric]')) {
    const l = m.querySelector('[data-testid=stMetricLabel]'), v = m.querySelector('[data-testid=stMetricValue]');
    if (l && v && l.innerText.trim() === 'reconstruction / image' && !['', '—'].includes(v.innerText.trim()))
      return 'metric'; }
  return null; }"""
AFTER_LAUNCH_JS = f"""() => {{ const main = document.querySelector('[data-testid=stMain]'); if (!main) return null;
  if ([...main.querySelectorAll('h1')].some(h => h.innerText.includes('Live run'))) return 'live';
  return main.innerText.includes('{CACHED_TEXT}') ? 'cached' : null; }}"""
# While watching: [the loss chart is drawn, the progress bar's text ("running · epoch 1/2 · ...")].
WATCH_JS = f"""() => [!!document.querySelector('{CHART}'),
  document.querySelector('[data-testid=stMain] [data-testid=stProgress]')?.innerText || '']"""
ERRORS_JS = """() => [...document.querySelectorAll('[data-testid=stMain] [data-testid=stException],'
  + '[data-testid=stMain] [data-testid=stAlertContentError]')].filter(e => !e.closest('[data-stale=true]'))
  .map(e => (e.getAttribute('data-testid') === 'stException' ? 'exception: ' : 'st.error: ')
    + e.innerText.slice(0, 300))"""


# ---- one student in one browser context -----------------------------------------------------------------
@dataclass
class Student:
    """One browser session walking the path; timings in seconds, errors as dicts (session, page, kind, detail)."""

    name: str
    seed: int
    renders: dict[str, float] = field(default_factory=dict)
    launch_to_first_point_s: float | None = None
    first_point_by: str | None = None  # 'chart' or 'metric'
    launch_to_chart_s: float | None = None
    launch_cached: bool = False
    job_end: str = ""
    nav_fallbacks: list[str] = field(default_factory=list)
    timeline: dict[str, float] = field(default_factory=dict)  # step -> seconds since the sessions started
    errors: list[dict] = field(default_factory=list)
    page_now: str = "Home"

    def error(self, kind: str, detail: str) -> None:
        self.errors.append({"session": self.name, "page": self.page_now, "kind": kind, "detail": detail[:500]})


class Walk:
    """Drives one page along the student's path; every wait is bounded by `step_s` (watching a job: `watch_s`)."""

    def __init__(self, page, url: str, st: Student, step_s: float, watch_s: float):
        self.page, self.url, self.st, self.step_ms, self.watch_ms = page, url, st, step_s * 1000, watch_s * 1000
        self.origin = time.monotonic()  # walk_all sets it to the moment all sessions start
        page.on("pageerror", lambda e: st.error("pageerror", str(e)))

    async def rendered(self, title: str, t0: float) -> float:
        await self.page.wait_for_function(RENDERED_JS, arg=title, polling=100, timeout=self.step_ms)
        return time.monotonic() - t0

    def mark(self, step: str) -> None:
        self.st.timeline[step] = round(time.monotonic() - self.origin, 2)

    async def check_errors(self) -> None:
        for text in await self.page.evaluate(ERRORS_JS):
            self.st.error("page", text)

    async def settle(self, runs_before: int) -> None:
        """Wait for the rerun a widget change started (at most 10 s for it to show up), then for it to end."""
        try:
            await self.page.wait_for_function(f"() => window.__aeRuns > {runs_before}", polling=100, timeout=10_000)
        except PlaywrightTimeout:  # no rerun (value unchanged) or the counter is unavailable
            pass
        await self.page.wait_for_function(IDLE_JS, polling=100, timeout=self.step_ms)

    async def runs(self) -> int:
        return await self.page.evaluate("() => window.__aeRuns || 0")

    async def goto_page(self, label: str, title: str, path: str) -> None:
        """Click the sidebar link labelled `label` (page.goto if none shows within 10 s) and time the render."""
        self.st.page_now = label
        sidebar = self.page.locator("[data-testid=stSidebar]")
        link = sidebar.get_by_role("link", name=label, exact=True).first
        try:
            await link.wait_for(state="visible", timeout=10_000)
        except PlaywrightTimeout:
            text = (await sidebar.inner_text()).replace("\n", " | ") if await sidebar.count() else "no sidebar"
            self.st.nav_fallbacks.append(f"{label}: no link in the sidebar ({text[:200]})")
            link = None
        t0 = time.monotonic()
        if link is not None:
            await link.click(timeout=self.step_ms)
        else:
            await self.page.goto(self.url + path, wait_until="commit", timeout=self.step_ms)
        self.st.renders[label] = await self.rendered(title, t0)
        self.mark(label)
        await self.check_errors()

    async def launch(self) -> None:
        """On Train: preset seed-vae, Quick demo settings, the seed, Launch; then wait for the first live point."""
        pg, st = self.page, self.st
        preset = pg.locator("[data-testid=stSelectbox]").filter(has_text="Start from").first
        if "seed-vae" not in await preset.inner_text(timeout=self.step_ms):
            n = await self.runs()
            await preset.click()
            await pg.get_by_role("option", name="seed-vae", exact=True).click(timeout=self.step_ms)
            await self.settle(n)
        n = await self.runs()
        await pg.get_by_role("button", name="Quick demo settings").click(timeout=self.step_ms)
        await self.settle(n)
        seed = pg.get_by_label("Seed", exact=True)
        if await seed.input_value(timeout=self.step_ms) != str(st.seed):
            n = await self.runs()
            await seed.fill(str(st.seed))
            await seed.press("Enter")
            await self.settle(n)
        button = pg.get_by_role("button", name="Launch")
        await pg.wait_for_function("b => !b.disabled", arg=await button.element_handle(), timeout=self.step_ms)
        t0 = time.monotonic()
        self.mark("launch")
        await button.click(timeout=self.step_ms)
        where = await pg.wait_for_function(AFTER_LAUNCH_JS, polling=100, timeout=self.step_ms)
        if await where.json_value() == "cached":  # trained already (another session was faster): no Live run
            st.launch_cached = True
            await self.goto_page(*PATH_PAGES[1])
            return
        st.page_now = "Live run"
        st.renders["Live run"] = await self.rendered("Live run", t0)
        self.mark("Live run")
        await self.check_errors()
        # bounded like watching: a job queued behind the others' shows its first point only when it starts
        by = await pg.wait_for_function(FIRST_POINT_JS, polling=100, timeout=self.watch_ms)
        st.launch_to_first_point_s, st.first_point_by = time.monotonic() - t0, await by.json_value()
        self.mark("first point")
        if st.first_point_by == "chart":
            st.launch_to_chart_s = st.launch_to_first_point_s
        await self.watch(t0)

    async def watch(self, t0: float) -> None:
        """Watch Live run until the job has ended (bounded by watch_s), noting when the chart first shows."""
        deadline, text = time.monotonic() + self.watch_ms / 1000, ""
        while time.monotonic() < deadline:
            chart, text = await self.page.evaluate(WATCH_JS)
            if chart and self.st.launch_to_chart_s is None:
                self.st.launch_to_chart_s = time.monotonic() - t0
            if any(text.startswith(w) for w in DONE_WORDS):
                self.st.job_end = text.split(" ·")[0]
                self.mark("job end")
                if self.st.job_end != "completed":
                    self.st.error("job", text)
                await self.page.wait_for_function(IDLE_JS, polling=100, timeout=self.step_ms)
                await self.check_errors()
                return
            await asyncio.sleep(0.5)
        main = await self.page.evaluate("() => document.querySelector('[data-testid=stMain]')?.innerText || ''")
        self.st.error("timeout", f"the job did not end within {self.watch_ms / 1000:.0f} s; progress bar: "
                                 f"{text!r}; page: {' | '.join(main.split(chr(10)))[:300]!r}")

    async def walk(self) -> None:
        """The student's path; a failed step (timeout, missing element) is recorded and ends this session's walk."""
        try:
            t0 = time.monotonic()
            await self.page.goto(self.url, wait_until="commit", timeout=self.step_ms)
            self.st.renders["Home"] = await self.rendered(HOME_TITLE, t0)
            self.mark("Home")
            await self.check_errors()
            await self.goto_page(*PATH_PAGES[0])
            await self.launch()
            for page in PATH_PAGES[2:]:
                await self.goto_page(*page)
        except Exception as e:  # noqa: BLE001 - every failure is a benchmark result, not a crash
            kind = "timeout" if "Timeout" in type(e).__name__ else type(e).__name__
            self.st.error(kind, str(e).splitlines()[0] if str(e) else kind)


async def open_session(browser, url: str, st: Student, step_s: float, watch_s: float):
    """A fresh browser context (= one Streamlit session) with its page; returns (context, walk)."""
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    await ctx.add_init_script(COUNT_RUNS_JS)
    return ctx, Walk(await ctx.new_page(), url, st, step_s, watch_s)


async def warm_up(browser, url: str, step_s: float) -> dict[str, float]:
    """Open every page of the path once (no launch), so the server has imported each page's modules and
    the Train page has started its warm worker, as on a server already in use."""
    ctx, walk = await open_session(browser, url, Student("warm-up", 0), step_s, step_s)
    try:
        for label, title, path in [("Home", HOME_TITLE, ""), *PATH_PAGES]:
            t0 = time.monotonic()
            await walk.page.goto(url + path, wait_until="commit", timeout=walk.step_ms)
            walk.st.renders[label] = await walk.rendered(title, t0)
    finally:
        await ctx.close()
    return walk.st.renders
