"""One Streamlit session over `/_stcore/stream`, spoken with the protobuf classes of `streamlit.proto`, as the
browser's frontend speaks it (Streamlit 1.67), for scripts/class_ws.py.

- Handshake: GETs of the app's page and of /_stcore/health set a balancer's stickiness cookie and the
  `_streamlit_xsrf` cookie;
  the websocket offers the subprotocols ["streamlit", <that token>] and sends every cookie back, with an Origin
  header of the base URL. A classroom student adds a `_streamlit_user` cookie signed with the server's cookie
  secret (`mint_user_cookie`): the server reads it only when the XSRF token checks out.
- A page view or a widget change is a `BackMsg.rerun_script` (ClientState: page_script_hash, query_string,
  widget_states); the session learns the pages' hashes from `ForwardMsg.navigation.app_pages` and the current
  page from `ForwardMsg.new_session.page_script_hash`.
- The widgets' ids come from the elements in the `ForwardMsg.delta`s (element.<type>.id, .label, .options ...).
  Only the widgets a student touched are sent: the server keeps every other widget's value from the last run.
  A widget drawn inside a fragment (delta.fragment_id) reruns only that fragment when it changes, as in a browser.
- A fragment with `run_every` sends `ForwardMsg.auto_rerun(interval, fragment_id)`; the browser then sends a
  rerun with that fragment_id and is_auto_rerun every interval (`stop_auto_rerun` ends it, as does a new page).
- An interaction ends at `ForwardMsg.script_finished` (FINISHED_SUCCESSFULLY or FINISHED_FRAGMENT_RUN_SUCCESSFULLY;
  FINISHED_EARLY_FOR_RERUN means another run follows, e.g. after st.switch_page).
- Like the browser, the session keeps the hashes of the large ("cacheable") messages it received and lists them
  in every rerun (ClientState.cached_message_hashes): the server sends a short ref_hash for those it would repeat.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from urllib.parse import urlsplit

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

XSRF_COOKIE = "_streamlit_xsrf"
USER_COOKIE = "_streamlit_user"
DONE = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
        ForwardMsg.FINISHED_WITH_COMPILE_ERROR}


class Disconnected(RuntimeError):
    """The server closed the websocket."""


def mint_user_cookie(secret: str, origin: str, email: str, name: str) -> str:
    """The `_streamlit_user` cookie st.login would set after an OIDC login of `email` (verified), signed with the
    server's cookie secret by Streamlit's own signing helper. A load test holding the secret may do this; nobody
    else can, which is why the server trusts it."""
    from streamlit.web.server.starlette.starlette_app_utils import create_signed_value

    payload = {"email": email, "email_verified": True, "name": name, "iss": "https://bench.invalid",
               "sub": email, "origin": origin, "is_logged_in": True, "provider": "default"}
    return create_signed_value(secret, USER_COOKIE, json.dumps(payload)).decode()


def http_cookies(url: str, timeout_s: float) -> dict[str, str]:
    """GET the app's page and then /_stcore/health as the browser's frontend does before it opens the websocket;
    returns the cookies they set (a balancer's stickiness cookie; the XSRF token, which only health sets)."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    for path in ("/", "/_stcore/health"):
        with opener.open(url.rstrip("/") + path, timeout=timeout_s) as r:
            r.read()
    return {c.name: c.value for c in jar}


@dataclass
class Widget:
    kind: str  # the element's oneof name: button, selectbox, slider, vega_lite_chart, ...
    id: str
    label: str
    proto: object
    fragment_id: str = ""  # the fragment it was drawn in: a change reruns only that fragment, as in the browser


@dataclass
class Reply:
    """What one rerun brought back: seconds until script_finished, bytes, errors seen in its elements."""

    seconds: float
    nbytes: int
    messages: int
    errors: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # markdown/alert bodies (to see e.g. 'loading from cache')


class Session:
    """One websocket session. `rerun()` sends one BackMsg and waits for its script_finished; one at a time
    (a lock), so the fragment timer and the student's clicks do not overlap."""

    def __init__(self, url: str, cookies: dict[str, str] | None = None, timeout_s: float = 60):
        self.base = url.rstrip("/")
        self.extra_cookies, self.timeout_s = dict(cookies or {}), timeout_s
        self.pages: dict[str, str] = {}  # url_pathname ("" = the default page) -> page_script_hash
        self.page_hash = ""
        self.widgets: dict[tuple[str, str], Widget] = {}  # (kind, label or id) -> widget, of the current run
        self.auto: dict[str, float] = {}  # fragment_id -> interval (s) while the page asks for auto-reruns
        self._auto_run: dict[str, float] = {}  # those the current script run asked for (a full run replaces all)
        self.ws = None
        self.lock = asyncio.Lock()
        self.cached: set[str] = set()  # hashes of the cacheable messages received (the browser's message cache)
        self._finished: asyncio.Queue[int] = asyncio.Queue()
        self._bytes = self._count = 0
        self._errors: list[str] = []
        self._texts: list[str] = []
        self._reader: asyncio.Task | None = None
        self.closed: str | None = None

    async def open(self) -> None:
        cookies = {**await asyncio.to_thread(http_cookies, self.base, self.timeout_s), **self.extra_cookies}
        parts = urlsplit(self.base)
        ws_url = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}{parts.path}/_stcore/stream"
        origin = f"{parts.scheme}://{parts.netloc}"
        protocols = ["streamlit", cookies[XSRF_COOKIE]] if XSRF_COOKIE in cookies else ["streamlit"]
        header = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.ws = await connect(ws_url, subprotocols=protocols, origin=origin, max_size=None,
                                additional_headers={"Cookie": header} if header else None,
                                open_timeout=self.timeout_s)
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()

    # ---- receiving ------------------------------------------------------------------------------------
    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self._bytes += len(raw)
                self._count += 1
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                if msg.metadata.cacheable and msg.hash:
                    self.cached.add(msg.hash)
                self._on(msg)
        except ConnectionClosed as e:
            self.closed = f"websocket closed ({e.rcvd.code if e.rcvd else 'no close frame'})"
        finally:
            self.closed = self.closed or "websocket closed"
            self._finished.put_nowait(-1)

    def _on(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.page_hash = msg.new_session.page_script_hash
        elif kind == "navigation":
            self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._element(msg.delta.new_element, msg.delta.fragment_id)
        elif kind == "auto_rerun":
            self.auto[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
            self._auto_run[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids or list(self.auto):
                self.auto.pop(fid, None)
        elif kind == "script_finished":
            if msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:  # a full run: only its fragments stay
                self.auto = dict(self._auto_run)
            self._auto_run = {}
            self._finished.put_nowait(msg.script_finished)

    def _element(self, el, fragment_id: str) -> None:
        kind = el.WhichOneof("type")
        body = getattr(el, kind) if kind else None
        if kind == "exception":
            self._errors.append(f"exception: {body.type}: {body.message[:200]}")
        elif kind == "alert":
            if body.format == Alert.ERROR:
                self._errors.append(f"st.error: {body.body[:200]}")
            self._texts.append(body.body)
        elif kind == "markdown":
            self._texts.append(body.body)
        elif body is not None and getattr(body, "id", ""):
            label = getattr(body, "label", "") or body.id
            self.widgets[(kind, label)] = Widget(kind, body.id, label, body, fragment_id)

    # ---- sending --------------------------------------------------------------------------------------
    def widget(self, kind: str, label: str) -> Widget:
        """The widget of this kind whose label starts with `label` (KeyError saying what the page has)."""
        for (k, lab), w in self.widgets.items():
            if k == kind and lab.startswith(label):
                return w
        have = sorted(f"{k}:{lab[:30]}" for k, lab in self.widgets)
        raise KeyError(f"no {kind} labelled {label!r} on this page (has {', '.join(have)[:300]})")

    async def rerun(self, page: str | None = None, states: list[WidgetState] = (), fragment_id: str = "",
                    auto: bool = False) -> Reply:
        """Send one rerun_script (page: its url_pathname; None: the current page) and wait for its end; with
        `fragment_id` only that fragment reruns (`auto`: the fragment's own timer, else a widget in it changed)."""
        async with self.lock:
            if self.closed:
                raise Disconnected(self.closed)
            msg = BackMsg()
            rs = msg.rerun_script
            rs.page_script_hash = self.pages.get(page, "") if page is not None else self.page_hash
            rs.query_string = ""
            rs.widget_states.widgets.extend(states)
            rs.cached_message_hashes.extend(sorted(self.cached))  # the server then sends a ref_hash instead
            if fragment_id:
                rs.fragment_id, rs.is_auto_rerun = fragment_id, auto
            else:
                self.widgets.clear()
            rs.context_info.timezone, rs.context_info.locale = "UTC", "en-US"
            rs.context_info.url = f"{self.base}/{page or ''}"
            self._bytes = self._count = 0
            self._errors, self._texts = [], []
            while not self._finished.empty():
                self._finished.get_nowait()
            t0 = time.perf_counter()
            await self.ws.send(msg.SerializeToString())
            while True:
                status = await asyncio.wait_for(self._finished.get(), self.timeout_s)
                if status < 0:
                    raise Disconnected(self.closed or "websocket closed")
                if status in DONE:
                    break
            return Reply(time.perf_counter() - t0, self._bytes, self._count, self._errors, self._texts)


def trigger(w: Widget) -> WidgetState:
    return WidgetState(id=w.id, trigger_value=True)


def string(w: Widget, value: str) -> WidgetState:
    return WidgetState(id=w.id, string_value=value)


def double(w: Widget, value: float) -> WidgetState:
    return WidgetState(id=w.id, double_value=value)


def chart_click(w: Widget, selection: dict) -> WidgetState:
    """A click on a chart drawn with on_select: the selection state as the frontend sends it (a JSON string)."""
    return WidgetState(id=w.id, string_value=json.dumps({"selection": selection}))


def json_state(w: Widget, value: dict) -> WidgetState:
    """A v2 component's state (st.components.v2: setStateValue in the browser), sent as one JSON object."""
    return WidgetState(id=w.id, json_value=json.dumps(value))


def explorer_domain(data: bytes) -> list[list[float]]:
    """The map's domain [[x0, x1], [y0, y1]] from the latent explorer's data (ui/latent_map/explorer.py `pack`:
    8 bytes little-endian n, then n bytes of JSON)."""
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n])["domain"]
