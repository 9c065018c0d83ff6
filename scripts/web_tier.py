"""A web tier that scales out: N `streamlit run app.py` replicas behind HAProxy, on one checkpoint store and one
job backend.

    .venv/bin/python scripts/web_tier.py --replicas 2 --port 8501          # http://127.0.0.1:8501
    .venv/bin/python scripts/web_tier.py --replicas 4 --port 8501 --address 0.0.0.0   # reachable by a class

Each replica is `streamlit run app.py --server.port P --server.address 127.0.0.1` (only HAProxy reaches it), started
from the project folder so `.streamlit/config.toml` applies, with the environment of this command
(AE_LAB_CHECKPOINTS, AE_LAB_DATA, AE_LAB_BACKEND, AE_LAB_MAX_JOBS, AE_LAB_CLASSROOM, ... are the same for all).
HAProxy's config is deploy/haproxy.cfg with the replicas filled in, checked with `haproxy -c` before it starts.

- Sessions stick by a cookie (SRV=r1, r2, ...) that HAProxy inserts: a browser keeps its replica, which holds its
  Streamlit session, media files and uploads in memory; new browsers go to the replica with the fewest
  connections.
- Jobs: the embedded backend keeps its whole job table on disk (SQLite via diskcache, one supervisor per
  checkpoint folder under a file lock, started by whichever replica first needs it, in its own session), so
  replicas on one machine share it as the CLI and the server always did. Replicas on several machines need
  AE_LAB_BACKEND=ray with AE_LAB_RAY_ADDRESS (one cluster): without an address each replica would start its own
  local Ray, so that is refused here.
- A replica that exits is started again on its port (--no-restart: left down); HAProxy sends its students to the
  others meanwhile. Their browsers reconnect and the page is drawn again (its widget state is lost, everything
  stored is not).
- Ctrl-C / SIGTERM stops HAProxy and the replicas. Jobs keep running, as when one server stops
  (--stop-jobs: stop the job supervisor too; running jobs end `interrupted` and resume from their last epoch).

Once everything answers, one line `ready {json}` is printed (url, replicas with port/pid/log, haproxy pid, the
admin socket) and written to RUN_DIR/tier.json. Exit 2 with one line when it cannot start.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "haproxy.cfg"
BOOT_S = 180.0  # a replica's first answer: Python + Streamlit start (torch loads later, in the page)
STOP_S = 15.0
PR_SET_PDEATHSIG = 1


class TierError(Exception):
    """Something the operator must change; one line."""


@dataclass
class Replica:
    name: str
    port: int
    log: Path
    proc: subprocess.Popen | None = None
    starts: int = 0
    info: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when this script dies, even by SIGKILL (no orphaned servers)."""
    os.setsid()
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 - the child holds it; closed here right after the start
    try:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)
    finally:
        out.close()


def healthy(url: str, timeout: float = 2.0) -> bool:
    """Does Streamlit's /_stcore/health answer 200 (`ok`)?"""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def wait_healthy(url: str, proc: subprocess.Popen, what: str, log: Path, timeout: float = BOOT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            raise TierError(f"{what} exited with code {proc.returncode} while starting: {' '.join(tail)} (log: {log})")
        if healthy(url):
            return
        time.sleep(0.3)
    raise TierError(f"{what} did not answer {url}/_stcore/health within {timeout:.0f} s (log: {log})")


def render_config(replicas: list[Replica], bind: str, run_dir: Path, template: Path = TEMPLATE) -> str:
    """deploy/haproxy.cfg with the bind address, the admin socket's folder and one `server` line per replica."""
    servers = "\n".join(f"    server {r.name} 127.0.0.1:{r.port} check cookie {r.name}" for r in replicas)
    return string.Template(template.read_text()).substitute(BIND=bind, SERVERS=servers, RUN_DIR=str(run_dir))


def check_backend(env: dict) -> None:
    """Refuse a job backend the replicas could not share (one line saying what to change)."""
    name = env.get("AE_LAB_BACKEND", "embedded").strip() or "embedded"
    if name == "ray" and not (env.get("AE_LAB_RAY_ADDRESS") or env.get("RAY_ADDRESS")):
        raise TierError("AE_LAB_BACKEND=ray needs AE_LAB_RAY_ADDRESS (a running cluster, see docs/cluster.md): "
                        "without it every replica would start a Ray of its own and none would see the others' jobs")
    if name not in ("embedded", "ray"):
        raise TierError(f"AE_LAB_BACKEND must be 'embedded' or 'ray', got '{name}'")


def server_stats(sock: Path) -> dict[str, dict]:
    """HAProxy's `show stat` over its admin socket: {server name: {"status", "scur", "stot"}} of the backend."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    lines = data.decode().strip().splitlines()
    head = lines[0].lstrip("# ").split(",")
    rows = [dict(zip(head, line.split(","), strict=False)) for line in lines[1:] if line]
    return {r["svname"]: {"status": r["status"], "scur": int(r["scur"] or 0), "stot": int(r["stot"] or 0)}
            for r in rows if r.get("pxname") == "streamlit" and r["svname"] not in ("BACKEND", "FRONTEND")}


class Tier:
    """The replicas and HAProxy of one web tier; start(), then supervise() until stopped."""

    def __init__(self, replicas: int, port: int, address: str, run_dir: Path, restart: bool = True,
                 replica_ports: list[int] | None = None, haproxy: str = "haproxy"):
        self.run_dir = run_dir
        self.bind = f"{address}:{port}"
        self.url = f"http://{'127.0.0.1' if address in ('0.0.0.0', '::') else address}:{port}"
        ports = replica_ports or [free_port() for _ in range(replicas)]
        self.replicas = [Replica(f"r{i + 1}", p, run_dir / f"r{i + 1}.log") for i, p in enumerate(ports)]
        self.restart = restart
        self.haproxy_bin = haproxy
        self.haproxy: subprocess.Popen | None = None
        self.env = dict(os.environ)
        # One cookie secret for every replica (Streamlit signs its auth cookies with it; st.login's
        # [auth] cookie_secret overrides it and is shared through secrets.toml anyway).
        self.env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))
        self.env["PYTHONUNBUFFERED"] = "1"
        self.stopping = False

    @property
    def sock(self) -> Path:
        return self.run_dir / "haproxy.sock"

    def start(self) -> dict:
        check_backend(self.env)
        if not shutil.which(self.haproxy_bin):
            raise TierError(f"'{self.haproxy_bin}' not found: install HAProxy (Debian: apt-get install haproxy)")
        cfg = self.run_dir / "haproxy.cfg"
        cfg.write_text(render_config(self.replicas, self.bind, self.run_dir))
        check = subprocess.run([self.haproxy_bin, "-c", "-f", str(cfg)], capture_output=True, text=True)
        if check.returncode != 0:
            alerts = [x for x in (check.stderr + check.stdout).splitlines() if "ALERT" in x]
            raise TierError(f"haproxy rejected {cfg}: {(alerts or ['exit code ' + str(check.returncode)])[0]}")
        for r in self.replicas:  # all at once: they load in parallel
            self.start_replica(r)
        for r in self.replicas:
            wait_healthy(r.url, r.proc, f"replica {r.name}", r.log)
        log = self.run_dir / "haproxy.log"
        self.haproxy = spawn([self.haproxy_bin, "-db", "-f", str(cfg)], log)
        wait_healthy(self.url, self.haproxy, "haproxy", log, timeout=30)
        state = self.state()
        (self.run_dir / "tier.json").write_text(json.dumps(state, indent=1))
        return state

    def start_replica(self, r: Replica) -> None:
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(r.port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
        r.proc = spawn(cmd, r.log, self.env)
        r.starts += 1

    def state(self) -> dict:
        return {"url": self.url, "run_dir": str(self.run_dir), "socket": str(self.sock),
                "haproxy": self.haproxy.pid if self.haproxy else None,
                "replicas": [{"name": r.name, "port": r.port, "pid": r.proc.pid if r.proc else None,
                              "log": str(r.log), "starts": r.starts} for r in self.replicas]}

    def supervise(self, poll_s: float = 0.5) -> int:
        """Restart replicas that exit (unless --no-restart); return when HAProxy exits or stop() is called."""
        while not self.stopping:
            if self.haproxy.poll() is not None:
                say(f"haproxy exited with code {self.haproxy.returncode} (log: {self.run_dir / 'haproxy.log'})")
                return 1
            for r in self.replicas:
                if r.proc.poll() is not None and r.proc.returncode is not None and not r.info.get("down"):
                    say(f"replica {r.name} (pid {r.proc.pid}) exited with code {r.proc.returncode}; "
                        "HAProxy sends its students to the others")
                    r.info["down"] = True
                    if self.restart:
                        self.start_replica(r)
                        r.info["down"] = False
                        say(f"replica {r.name} started again (pid {r.proc.pid})")
            time.sleep(poll_s)
        return 0

    def stop(self) -> None:
        """HAProxy first (no new requests), then every replica: SIGTERM, SIGKILL after STOP_S."""
        self.stopping = True
        procs = [p for p in [self.haproxy, *(r.proc for r in self.replicas)] if p is not None]
        for p in procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + STOP_S
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def say(msg: str) -> None:
    print(f"web_tier: {msg}", flush=True)


def stop_jobs() -> None:
    """Stop the embedded backend's supervisor of this checkpoint folder (running jobs end `interrupted`)."""
    sys.path.insert(0, str(ROOT))
    from engine.jobs.embedded import EmbeddedBackend

    EmbeddedBackend(os.environ.get("AE_LAB_CHECKPOINTS") or None).shutdown(cancel=False)


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--replicas", type=int, default=2, help="Streamlit servers behind HAProxy (1-32; default 2)")
    ap.add_argument("--port", type=int, default=8501, help="the port HAProxy listens on (default 8501)")
    ap.add_argument("--address", default="127.0.0.1",
                    help="the address HAProxy listens on (default 127.0.0.1; 0.0.0.0 for a class on the network)")
    ap.add_argument("--replica-ports", default="",
                    help="comma-separated ports of the replicas on 127.0.0.1 (default: free ports)")
    ap.add_argument("--run-dir", type=Path, default=None,
                    help="folder for haproxy.cfg, the logs, the admin socket and tier.json (default: a new temp dir)")
    ap.add_argument("--no-restart", action="store_true", help="leave a replica that exits down")
    ap.add_argument("--stop-jobs", action="store_true", help="at exit, stop the embedded job supervisor too")
    ap.add_argument("--haproxy", default="haproxy", help="the haproxy binary (default: haproxy on PATH)")
    a = ap.parse_args(argv)
    if not 1 <= a.replicas <= 32:
        ap.error(f"--replicas must be 1-32, got {a.replicas}")
    if not 1 <= a.port <= 65535:
        ap.error(f"--port must be 1-65535, got {a.port}")
    try:
        a.ports = [int(p) for p in a.replica_ports.split(",") if p.strip()] or None
    except ValueError:
        ap.error(f"--replica-ports must be comma-separated port numbers, got '{a.replica_ports}'")
    if a.ports and len(a.ports) != a.replicas:
        ap.error(f"--replica-ports names {len(a.ports)} ports for {a.replicas} replicas")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    run_dir = a.run_dir or Path(tempfile.mkdtemp(prefix="ae-lab-tier-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    tier = Tier(a.replicas, a.port, a.address, run_dir.resolve(), restart=not a.no_restart, replica_ports=a.ports,
                haproxy=a.haproxy)

    def on_signal(signum, frame):
        tier.stopping = True
        if tier.haproxy is None:  # still starting: give up now (the finally below stops what started)
            raise KeyboardInterrupt

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        state = tier.start()
        print("ready " + json.dumps(state), flush=True)
        say(f"{len(tier.replicas)} replicas behind {tier.url} (logs and haproxy.cfg in {run_dir})")
        return tier.supervise()
    except TierError as e:
        print(f"web_tier: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        tier.stop()
        if a.stop_jobs:
            stop_jobs()


if __name__ == "__main__":
    sys.exit(main())
