"""A student's path over the websocket protocol, for scripts/class_ws.py (class_ws_client.Session does the talking).

Home → Train → preset seed-vae → Quick demo settings → (a seed of their own for half the class) → Launch →
Live run, with the fragment's auto-reruns a browser sends, until the job ends (at least one think time, at most
`watch_s`) → Latent space with three clicks on the map (the chart's selection state as a widget value) → a lesson
picked in the Lessons page → Runs → Class. Think times between interactions are exponential with mean `think_s`.
Every interaction is timed from sending its rerun to its script_finished.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from class_ws_client import (
    Disconnected,
    Reply,
    Session,
    chart_click,
    double,
    explorer_domain,
    json_state,
    string,
    trigger,
)

CACHED_TEXT = "already trained — loading from cache"  # the Train page's answer to a config trained already
MAP_KEY = "lat_map"  # pages/inspect/latent_space.py: pick_point("lat_map", ...); its sliders are lat_map_x / lat_map_y


@dataclass
class Student:
    name: str
    seed: int
    cookies: dict[str, str] = field(default_factory=dict)
    records: list[dict] = field(default_factory=list)  # page, action, s, bytes, messages, t (since the class began)
    errors: list[dict] = field(default_factory=list)  # page, action, kind, detail
    launched: str = ""  # "live" (a job to watch) or "cached" (trained already)
    signed_in: str = ""  # the sidebar's "Signed in as ..." (classroom mode)
    skipped: list[str] = field(default_factory=list)  # steps the page offered no widget for (not a server error)
    page: str = "Home"


class Walk:
    """One student's session walking the path; a failed step is recorded and ends the walk (as a user who
    gives up), the other sessions go on."""

    def __init__(self, url: str, st: Student, think_s: float, watch_s: float, step_s: float, origin: float,
                 rng: random.Random):
        self.st, self.think_s, self.watch_s, self.origin, self.rng = st, think_s, watch_s, origin, rng
        self.s = Session(url, st.cookies, step_s)

    async def think(self, scale: float = 1.0) -> None:
        await asyncio.sleep(self.rng.expovariate(1 / (self.think_s * scale)) if self.think_s > 0 else 0)

    async def do(self, page: str, action: str, path: str | None = None, states=(), fragment_id: str = "",
                 auto: bool = False) -> Reply:
        """One interaction, timed; a change of widgets drawn in a fragment reruns that fragment."""
        self.st.page = page
        t = time.monotonic() - self.origin
        if states and not fragment_id:
            fragment_id = self.fragment_of(states)
        reply = await self.s.rerun(path, list(states), fragment_id, auto)
        self.st.records.append({"page": page, "action": action, "s": reply.seconds, "bytes": reply.nbytes,
                                "messages": reply.messages, "t": t})
        for e in reply.errors:
            self.error(action, "exception" if e.startswith("exception") else "st.error", e)
        self.st.signed_in = self.st.signed_in or next((t for t in reply.texts if t.startswith("Signed in as")), "")
        return reply

    def fragment_of(self, states) -> str:
        ids = {st.id for st in states}
        return next((w.fragment_id for w in self.s.widgets.values() if w.id in ids and w.fragment_id), "")

    def error(self, action: str, kind: str, detail: str) -> None:
        self.st.errors.append({"session": self.st.name, "page": self.st.page, "action": action, "kind": kind,
                               "detail": detail[:300]})

    async def train(self) -> None:
        await self.do("Train", "view", "Train")
        await self.think(0.5)
        await self.do("Train", "preset", states=[string(self.s.widget("selectbox", "Start from"), "seed-vae")])
        await self.think(0.5)
        await self.do("Train", "quick", states=[trigger(self.s.widget("button", "Quick demo settings"))])
        if self.st.seed:
            await self.think(0.5)
            await self.do("Train", "seed", states=[double(self.s.widget("number_input", "Seed"), self.st.seed)])
        await self.think()
        reply = await self.do("Train", "launch", states=[trigger(self.s.widget("button", "Launch"))])
        on_live = self.s.page_hash == self.s.pages.get("Live_run")
        self.st.launched = "live" if on_live else "cached" if any(CACHED_TEXT in t for t in reply.texts) else ""
        if not self.st.launched:
            self.error("launch", "path", "Launch neither opened Live run nor said the run was trained already")
        if not on_live:
            await self.think(0.5)
            await self.do("Live run", "view", "Live_run")

    async def watch(self) -> None:
        """Stay on Live run as its browser would: a fragment rerun every interval the page asked for, until
        the page stops asking (the job ended) once a think time has passed, or for at most watch_s."""
        t0 = time.monotonic()
        stay = min(self.rng.expovariate(1 / self.think_s) if self.think_s > 0 else 0, self.watch_s)
        while time.monotonic() - t0 < self.watch_s:
            if not self.s.auto and time.monotonic() - t0 >= stay:
                return
            if not self.s.auto:
                await asyncio.sleep(0.2)
                continue
            fid, every = next(iter(self.s.auto.items()))
            await asyncio.sleep(every)
            if fid in self.s.auto:
                await self.do("Live run", "auto-rerun", states=(), fragment_id=fid, auto=True)

    async def latent(self) -> None:
        await self.do("Latent space", "view", "Latent_space")
        for _ in range(3):
            await self.think(0.5)
            state = self.map_click()
            if state is None:  # no finished run of theirs yet (their job still queued)
                self.st.skipped.append("Latent space: no map to click (no finished run of this student's yet)")
                return
            await self.do("Latent space", "click", states=[state])

    def map_click(self):
        """A click at a random point of the map, as the page's map sends it: the browser explorer (a v2 component:
        its state {"point": {x, y}}, the map's domain in the JSON head of its data) or, for a model too large for
        the browser, the server's chart (its selection state; the domain from the two sliders under it)."""
        for (kind, _), w in self.s.widgets.items():
            if kind == "bidi_component" and w.id.endswith(f"-{MAP_KEY}_browser"):
                (x0, x1), (y0, y1) = explorer_domain(w.proto.bytes)
                point = {"x": self.rng.uniform(x0, x1), "y": self.rng.uniform(y0, y1)}
                return json_state(w, {"point": point})
        chart = next((w for (kind, _), w in self.s.widgets.items()
                      if kind == "vega_lite_chart" and w.id.endswith(f"-{MAP_KEY}")), None)
        ends = (f"-{MAP_KEY}_x", f"-{MAP_KEY}_y")
        sliders = sorted((w for (kind, _), w in self.s.widgets.items() if kind == "slider" and w.id.endswith(ends)),
                         key=lambda w: w.id)
        if chart is None or len(sliders) != 2:
            return None
        x, y = (self.rng.uniform(w.proto.min, w.proto.max) for w in sliders)
        return chart_click(chart, {"pick": [{"gx": x, "gy": y}]})

    async def lesson(self) -> None:
        await self.do("Lessons", "view", "Lessons")
        await self.think(0.5)
        radio = self.s.widget("radio", "Lesson")
        await self.do("Lessons", "lesson", states=[string(radio, self.rng.choice(list(radio.proto.options[1:])))])

    async def walk(self) -> None:
        try:
            await self.s.open()
            await self.do("Home", "view", "")
            await self.think()
            await self.train()
            await self.watch()
            await self.think()
            await self.latent()
            await self.think()
            await self.lesson()
            await self.think()
            await self.do("Runs", "view", "Runs")
            await self.think()
            await self.do("Class", "view", "Class")  # the class board (its live fragment polls every few seconds)
        except TimeoutError:
            self.error("", "timeout", f"no script_finished within {self.s.timeout_s:.0f} s")
        except Disconnected as e:
            self.error("", "disconnect", str(e))
        except KeyError as e:
            self.error("", "path", str(e))
        except OSError as e:  # the handshake or the websocket could not be opened
            self.error("", "disconnect", f"{type(e).__name__}: {e}")
        finally:
            await self.s.close()
