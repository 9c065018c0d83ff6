"""Worker processes of the embedded backend: a small supervisor ("pool") and one process per job.

    backend (app / CLI) --writes--> <root>/jobs/db (diskcache) <--reads/writes-- pool, job processes
                        --touches-> <root>/jobs/wake            (the pool notices within ~20 ms)

- The **pool** (`python engine/worker.py pool ROOT`) is started on demand by the backend, in its own
  session, so it outlives the CLI that submitted. It never imports torch. It starts queued jobs while
  there is capacity, keeps one **warm** job process ready (torch, the trainer and MNIST already loaded)
  so a submit reaches its first metrics point in well under a second, reaps its children and records
  how they ended (exit code / signal), enforces cancel timeouts, and exits after `idle_s` without work.
  Only one pool runs per checkpoint folder (an fcntl lock). Nothing depends on it staying alive: every
  backend call reconciles (dead workers -> failed, queued work and no pool -> start one).
- A **job process** (`python engine/worker.py child ROOT`) is a fresh interpreter (the spawn start
  method: nothing, CUDA included, is inherited from the app). It preloads, then reads one job id from
  stdin, runs `engine.core.trainer.train(...)` and exits, releasing its memory and GPU.

This file runs as a script, so at the top it imports only the standard library and diskcache (the
`engine` package imports torch); the job process imports the engine after putting the project on
sys.path.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import diskcache

PROJECT = Path(__file__).resolve().parent.parent.parent
WORKER = Path(__file__).resolve()

# The job statuses of engine.jobs, repeated here because this script cannot import the engine package.
QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, INTERRUPTED = (
    "queued", "running", "completed", "failed", "cancelled", "interrupted")
ACTIVE = (QUEUED, RUNNING)

POLL_S = 0.02  # pool loop period: wake-up latency for a submit
PASS_S = 1.0  # the pool re-reads the job table at least this often even without a wake-up
FLUSH_S = 0.2  # a job writes its buffered step points at most this often
CHECK_S = 0.1  # a job reads its cancel flag and steering controls at most this often
CANCEL_GRACE_S = 1.0  # a cancelled job that has not stopped after this long is killed
SPARE_DELAY_S = 2.0  # after starting a job, wait this long before warming the next process (CPU contention)
IDLE_S = 300.0  # the pool (and its warm process) exits after this long without jobs or prewarm() calls
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


# ---- processes -------------------------------------------------------------------------------------
def start_time(pid: int | None) -> int | None:
    """The kernel start time of a live process (None if gone or a zombie): with the pid, a unique identity."""
    if not pid:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (not Linux): fall back to "does the pid exist"
        try:
            os.kill(pid, 0)
            return 0
        except ProcessLookupError:
            return None
        except PermissionError:
            return 0
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # a zombie has exited; only its exit status is left
        return None
    return int(fields[19])


def alive(pid: int | None, start: int | None = None) -> bool:
    """Is `pid` running (and, if `start` is given, still the same process, not a reused pid)?"""
    st = start_time(pid)
    return st is not None and (start is None or st == start or st == 0)


def boot_id() -> str:
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
    """One job per GPU, one on a CPU-only machine."""
    return max(1, gpu_count())


def describe_exit(code: int | None, log: Path) -> str:
    """Why a worker ended, for a student: the signal that killed it or its exit code."""
    if code is None:
        return "the worker process disappeared (its exit status is unknown)"
    if code < 0:
        sig = -code
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "unknown signal"
        if sig == signal.SIGKILL:
            return f"the worker was killed (signal {sig}, {name}: out of memory, or kill -9)"
        return f"the worker was killed (signal {sig}, {name})"
    return f"the worker crashed (exit code {code}); details in {log}"


def one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    return msg if isinstance(e, ValueError | RuntimeError) and msg else f"{type(e).__name__}: {msg}"


# ---- the shared job table -------------------------------------------------------------------------
class JobDB:
    """The on-disk job table under <root>/jobs/. Keys:

    job:<id>            the job record (JobInfo fields + pid, pool, attempt, ...)
    ids                 {job_id: created} of every job;  active: [job ids queued or running], FIFO
    idx:<id>            {"attempt": a, "batches": [[first_step, last_step], ...]}
    pts:<id>:<a>:<k>    batch k of step points of attempt a (complete history, written in batches)
    ep:<id>, ev:<id>    epoch entries and events (beta/lr changes, resume) of the current attempt
    cancel:<id>         set when a cancel was asked;  ctl:<id>  {"beta": b, "lr": x} steering
    pool, spare, ready  the pool's identity, its warm process and that process once loaded
    settings            max_jobs / warm / idle_s given explicitly to a backend
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.dir = self.root / "jobs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cache = diskcache.Cache(str(self.dir / "db"), timeout=60)
        self.wake_path = self.dir / "wake"
        self.lock_path = self.dir / "pool.lock"
        self.log_path = self.dir / "worker.log"

    def get(self, key: str, default=None):
        return self.cache.get(key, default)

    def job(self, job_id: str) -> dict | None:
        return self.cache.get(f"job:{job_id}")

    def put(self, rec: dict) -> None:
        self.cache.set(f"job:{rec['job_id']}", rec)

    def transact(self):
        """A write transaction: serialises every reader-modifier-writer across processes (sqlite lock)."""
        return self.cache.transact()

    def active(self) -> list[str]:
        return list(self.cache.get("active") or [])

    def settings(self) -> dict:
        return dict(self.cache.get("settings") or {})

    def wake(self) -> None:
        """Tell the pool to look at the table now."""
        with open(self.wake_path, "a"):
            os.utime(self.wake_path)

    def finish(self, job_id: str, attempt: int | None, status: str, message: str, **fields) -> bool:
        """Move an active job to a final status, once: False if it is not active (or a newer attempt runs)."""
        with self.transact():
            rec = self.job(job_id)
            if rec is None or rec["status"] not in ACTIVE or (attempt is not None and rec.get("attempt") != attempt):
                return False
            rec.update(fields, status=status, message=message, finished=time.time(), eta_s=None)
            self.put(rec)
            self.cache.set("active", [j for j in self.active() if j != job_id])
        self.wake()
        return True

    def epochs_done(self, job_id: str, rec: dict | None = None) -> int:
        """Epochs in the job's last checkpoint, from the checkpoint store's index (falls back to the record)."""
        try:
            with diskcache.Cache(str(self.root / "index")) as index:
                m = index.get(f"run:{job_id}")
            if m is not None:
                return int(m.get("epochs_done", 0))
        except Exception:  # noqa: BLE001 - the index is optional here
            pass
        return int((rec or {}).get("epoch", 0))


def dead_worker_message(db: JobDB, job_id: str, rec: dict, reason: str) -> tuple[str, str]:
    """(status, message) for a running job whose process ended without reporting."""
    k = db.epochs_done(job_id, rec)
    tail = f"; resume continues from epoch {k}" if k else "; resume starts it again"
    if rec.get("boot") and rec["boot"] != boot_id():
        return INTERRUPTED, f"the machine restarted during training{tail}"
    return FAILED, reason + tail


def forced_cancel_message(db: JobDB, job_id: str, rec: dict) -> str:
    if not rec.get("info"):  # the trainer had not started (still loading torch or the data)
        return "cancelled before training started"
    return (f"cancelled; the worker did not stop within {CANCEL_GRACE_S:g} s and was killed; "
            f"kept the checkpoint of epoch {db.epochs_done(job_id, rec)}")


# ---- the pool ---------------------------------------------------------------------------------------
class Child:
    def __init__(self, proc: subprocess.Popen, job_id: str, attempt: int, slot: int):
        self.proc, self.job_id, self.attempt, self.slot = proc, job_id, attempt, slot
        self.cancel_at: float | None = None
        self.killed = False


class Pool:
    """Starts queued jobs, keeps one warm job process, reaps workers and records how they ended."""

    def __init__(self, root: str | Path):
        self.db = JobDB(root)
        self.children: dict[str, Child] = {}
        self.spare: subprocess.Popen | None = None
        self.spare_failures = 0
        self.stopping = False
        self.last_busy = time.monotonic()
        self.last_assign = -1e9
        self.ident = f"{os.getpid()}:{start_time(os.getpid())}"
        self.settings: dict = {}  # re-read on every scheduling pass
        self.log = open(self.db.log_path, "ab", buffering=0)  # noqa: SIM115 - lives as long as the pool

    def say(self, msg: str) -> None:
        self.log.write(f"{time.strftime('%H:%M:%S')} pool {os.getpid()}: {msg}\n".encode())

    # -- lifecycle
    def run(self) -> int:
        lock = open(self.db.lock_path, "a+")  # noqa: SIM115 - held until exit
        t0 = time.monotonic()
        while True:  # another pool may be exiting right now: wait a little for its lock
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - t0 > 3.0:
                    return 0
                time.sleep(0.05)
        for s in STOP_SIGNALS:
            signal.signal(s, self._on_signal)
        self.db.cache.set("pool", {"pid": os.getpid(), "start": start_time(os.getpid()), "ident": self.ident})
        self.say("started")
        last_mtime, last_pass = None, 0.0
        try:
            while not self.stopping:
                try:
                    changed = self.reap()
                    try:
                        mtime = self.db.wake_path.stat().st_mtime_ns
                    except FileNotFoundError:
                        mtime = None
                    now = time.monotonic()
                    if changed or mtime != last_mtime or now - last_pass >= PASS_S:
                        last_mtime, last_pass = mtime, now
                        if not self.db.root.exists():  # checkpoint folder deleted (e.g. a test's tmp dir)
                            break
                        self.schedule()
                    self.enforce_cancels()
                    self.keep_spare()
                    if self.idle() and self.try_exit():
                        break
                except Exception:  # noqa: BLE001 - e.g. a busy database: log, retry; never drop running jobs
                    self.say("error, retrying:\n" + traceback.format_exc())
                    time.sleep(1.0)
                time.sleep(POLL_S)
        finally:
            self.shutdown()
        return 0

    def _on_signal(self, signum, frame) -> None:
        self.stopping = True

    def idle(self) -> bool:
        if self.children:
            self.last_busy = time.monotonic()
            return False
        idle_s = float(self.settings.get("idle_s") or os.environ.get("AE_LAB_WARM_IDLE") or IDLE_S)
        if time.monotonic() - self.last_busy <= idle_s:
            return False
        return time.time() - float(self.db.get("touch") or 0) > idle_s  # a page calling prewarm() keeps us warm

    def try_exit(self) -> bool:
        """Leave only if nothing is queued, atomically with respect to submits (they then start a new pool)."""
        with self.db.transact():
            if self.db.active():
                self.last_busy = time.monotonic()
                return False
            if (self.db.get("pool") or {}).get("ident") == self.ident:
                self.db.cache.delete("pool")
        self.say("idle, exiting")
        return True

    def shutdown(self) -> None:
        """Stop the warm process; ask running jobs to stop (they end 'interrupted') and wait for them."""
        self._stop_spare()
        for ch in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                ch.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5.0
        while self.children and time.monotonic() < deadline:
            self.reap()
            time.sleep(POLL_S)
        for ch in self.children.values():
            ch.proc.kill()
        while self.children:
            self.reap()
            time.sleep(POLL_S)
        with self.db.transact():
            if (self.db.get("pool") or {}).get("ident") == self.ident:
                self.db.cache.delete("pool")
        self.say("stopped")

    # -- processes
    def spawn(self) -> subprocess.Popen:
        # OpenMP threads that spin while waiting make torch 10-30x slower whenever the cores are shared
        # (another job, the app, other programs): let them sleep instead, unless the user chose otherwise.
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        return subprocess.Popen([sys.executable, str(WORKER), "child", str(self.db.root)], cwd=str(PROJECT), env=env,
                                stdin=subprocess.PIPE, stdout=self.log, stderr=self.log, close_fds=True)

    def _stop_spare(self) -> None:
        if self.spare is not None:  # it holds no job: no need to be gentle
            self.spare.kill()
            self.spare.wait()
            with contextlib.suppress(OSError):
                self.spare.stdin.close()
            self.spare = None

    def keep_spare(self) -> None:
        """Keep one warm process ready, started a little after the last job so it does not slow its start."""
        if self.spare is not None:
            if self.spare.poll() is None:
                return
            self.say(f"warm process {self.spare.pid} exited with {self.spare.returncode}")
            self.spare, self.spare_failures = None, self.spare_failures + 1
        warm = self.settings.get("warm")
        if warm is None:
            warm = os.environ.get("AE_LAB_WARM", "1") != "0"
        if not warm or self.stopping or self.spare_failures >= 3:
            return
        if time.monotonic() - self.last_assign < SPARE_DELAY_S:
            return
        self.spare = self.spawn()
        self.db.cache.set("spare", self.spare.pid)

    def launch(self, job_id: str, attempt: int, slot: int) -> None:
        """Hand the job to the warm process (or a fresh one if there is none)."""
        msg = (json.dumps({"job": job_id, "attempt": attempt, "slot": slot, "gpus": gpu_count()}) + "\n").encode()
        warm = self.spare is not None
        for _ in range(2):
            proc, self.spare = (self.spare or self.spawn()), None
            try:
                proc.stdin.write(msg)
                proc.stdin.close()
                break
            except (BrokenPipeError, OSError):  # the warm process died: use a fresh one
                proc.kill()
                proc.wait()
                warm = False
        self.children[job_id] = Child(proc, job_id, attempt, slot)
        self.last_assign = time.monotonic()
        with self.db.transact():
            rec = self.db.job(job_id)
            if rec is not None and rec.get("attempt") == attempt and rec["status"] == RUNNING:
                rec.update(pid=proc.pid, pid_start=start_time(proc.pid))
                self.db.put(rec)
        self.db.cache.incr("warm_starts" if warm else "cold_starts", default=0)
        self.say(f"job {job_id} (attempt {attempt}) -> process {proc.pid}")

    def reap(self) -> bool:
        """Collect finished job processes; record why a job ended if it could not say so itself."""
        changed = False
        for job_id, ch in list(self.children.items()):
            code = ch.proc.poll()
            if code is None:
                continue
            del self.children[job_id]
            changed = True
            rec = self.db.job(job_id)
            if rec is None or rec["status"] != RUNNING or rec.get("attempt") != ch.attempt:
                continue  # the job wrote its own final status
            k = self.db.epochs_done(job_id, rec)
            if ch.killed or self.db.get(f"cancel:{job_id}") is not None:
                status, msg = CANCELLED, forced_cancel_message(self.db, job_id, rec)
            elif code in tuple(-s for s in STOP_SIGNALS):
                status, msg = INTERRUPTED, f"{describe_exit(code, self.db.log_path)}; resume continues from epoch {k}"
            else:
                status, msg = dead_worker_message(self.db, job_id, rec, describe_exit(code, self.db.log_path))
            self.db.finish(job_id, ch.attempt, status, msg, exit_code=code)
            self.say(f"job {job_id}: {status}: {msg}")
        return changed

    def enforce_cancels(self) -> None:
        now = time.time()
        for ch in self.children.values():
            if ch.cancel_at is not None and not ch.killed and now - ch.cancel_at > CANCEL_GRACE_S:
                with contextlib.suppress(ProcessLookupError):
                    ch.proc.kill()
                ch.killed = True

    # -- scheduling
    def schedule(self) -> None:
        """Start queued jobs in order while there is capacity; fail running jobs whose process is gone."""
        self.settings = self.db.settings()
        limit = int(self.settings.get("max_jobs") or os.environ.get("AE_LAB_MAX_JOBS") or default_max_jobs())
        for ch in self.children.values():
            if ch.cancel_at is None:
                ch.cancel_at = self.db.get(f"cancel:{ch.job_id}")
        if not self._work(limit):
            return
        starts, dead = [], []
        with self.db.transact():
            keep, running, slots = [], 0, set()
            for job_id in self.db.active():
                rec = self.db.job(job_id)
                if rec is None or rec["status"] not in ACTIVE:
                    continue
                if rec["status"] == RUNNING and job_id not in self.children:
                    if alive(rec.get("pid"), rec.get("pid_start")):  # a job of an earlier pool, still going
                        running += 1
                        keep.append(job_id)
                    else:
                        dead.append((job_id, rec))
                    continue
                keep.append(job_id)
                if rec["status"] == RUNNING:
                    running += 1
                    slots.add(self.children[job_id].slot)
            for job_id in keep:
                rec = self.db.job(job_id)
                if rec["status"] != QUEUED or running >= limit or self.stopping:
                    continue
                slot = min(set(range(limit + 1)) - slots)
                slots.add(slot)
                running += 1
                rec.update(status=RUNNING, started=time.time(), pool=self.ident, pid=None, pid_start=None,
                           boot=boot_id(), message="")
                self.db.put(rec)
                starts.append((job_id, rec["attempt"], slot))
            self.db.cache.set("active", keep + [j for j, _ in dead])
        for job_id, rec in dead:
            status, msg = dead_worker_message(self.db, job_id, rec, describe_exit(None, self.db.log_path))
            self.db.finish(job_id, rec.get("attempt"), status, msg)
        for job_id, attempt, slot in starts:
            self.launch(job_id, attempt, slot)

    def _work(self, limit: int) -> bool:
        """Read-only look: is there anything to start, fail or tidy? (Saves a write transaction per pass.)"""
        running, queued = 0, False
        for job_id in self.db.active():
            rec = self.db.job(job_id)
            if rec is None or rec["status"] not in ACTIVE:
                return True
            if rec["status"] == QUEUED:
                queued = True
            elif job_id in self.children or alive(rec.get("pid"), rec.get("pid_start")):
                running += 1
            else:
                return True
        return queued and running < limit and not self.stopping


# ---- a job process ----------------------------------------------------------------------------------
class JobRun:
    """Runs one job in this process: the trainer's report/should_stop/controls callbacks, backed by the table."""

    def __init__(self, db: JobDB, job_id: str, attempt: int):
        self.db, self.job_id, self.attempt = db, job_id, attempt
        self.buf: list[dict] = []
        self.idx = {"attempt": attempt, "batches": []}
        self.epochs: list[dict] = []
        self.events: list[dict] = []
        self.dirty = False
        self.last_flush = 0.0
        self.signalled: str | None = None
        self.cancelled = False
        self.stale = False
        self.last_check = -1e9
        self.ctl: dict = {}
        self.last_ctl = -1e9
        self.calls = 0  # controls() is called once per step, just before it: counts steps exactly
        self.start_step = self.step = self.spe = self.steps_total = 0
        self.epoch = 0
        self.latest: dict = {}
        self.beta_override: float | None = None
        self.lr: float | None = None
        self.t0 = time.monotonic()
        self.t_start: float | None = None
        self.first = True

    # -- trainer callbacks
    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self.last_check >= CHECK_S:
            self.last_check = now
            self.cancelled = self.db.get(f"cancel:{self.job_id}") is not None
        return self.cancelled or self.stale or self.signalled is not None

    def controls(self) -> dict:
        """The steering values (β, lr); mirrors the trainer's own bookkeeping to record events live."""
        step = self.start_step + self.calls  # optimizer steps done before this one
        self.calls += 1
        now = time.monotonic()
        if now - self.last_ctl >= CHECK_S:
            self.last_ctl = now
            self.ctl = self.db.get(f"ctl:{self.job_id}") or {}
        beta, lr = self.ctl.get("beta"), self.ctl.get("lr")
        epoch = step // self.spe + 1 if self.spe else 1
        if beta is not None and beta != self.beta_override:
            self.beta_override = float(beta)
            self.events.append({"kind": "beta", "step": step, "epoch": epoch, "value": self.beta_override})
            self.dirty = True
        if lr is not None and lr != self.lr:
            self.lr = float(lr)
            self.events.append({"kind": "lr", "step": step, "epoch": epoch, "value": self.lr})
            self.dirty = True
        return self.ctl

    def report(self, ev: dict) -> None:
        kind = ev.get("type")
        if kind == "start":
            self.begin(ev)
        elif kind == "step":
            self.buf.append({k: v for k, v in ev.items() if k != "type"})
            self.step, self.latest = ev["step"], self.buf[-1]
            if self.first or time.monotonic() - self.last_flush >= FLUSH_S:
                self.first = False
                self.flush()  # the first live point goes out at once: it is what a page waits for
        elif kind == "epoch":
            self.epochs.append({k: v for k, v in ev.items() if k not in ("type", "snapshot")})
            self.epoch, self.dirty = ev["epoch"], True
            self.flush()

    def begin(self, ev: dict) -> None:
        """A new attempt: carry over the history before the checkpoint we start from, drop the rest."""
        self.spe, self.epoch = ev["steps_per_epoch"], ev["epoch"]
        self.start_step = self.step = ev["epoch"] * ev["steps_per_epoch"]
        self.steps_total = ev["epochs"] * ev["steps_per_epoch"]
        self.t_start = time.monotonic()
        from engine.core.store import Store

        hist = Store(self.db.root).history(self.job_id) if ev["epoch"] else {"steps": [], "epochs": [], "events": []}
        prior = [s for s in hist.get("steps", []) if s["epoch"] <= ev["epoch"]]
        self.epochs = [e for e in hist.get("epochs", []) if e["epoch"] <= ev["epoch"]]
        self.events = list(hist.get("events", []))
        if ev.get("resumed_from"):
            self.events.append({"kind": "resume", "epoch": ev["epoch"], "step": self.start_step,
                                "from": ev["resumed_from"]})
        self.events.append({"kind": "start", "epoch": ev["epoch"], "step": self.start_step, "device": ev["device"],
                            "params": ev["params"], "attempt": self.attempt})
        info = {"device": ev["device"], "params": ev["params"], "data_note": ev["data_note"],
                "steps_per_epoch": ev["steps_per_epoch"], "resumed_from": ev.get("resumed_from")}
        with self.db.transact():
            old = self.db.get(f"idx:{self.job_id}")
            if old:
                for k in range(len(old["batches"])):
                    self.db.cache.delete(f"pts:{self.job_id}:{old['attempt']}:{k}")
            if prior:
                self.db.cache.set(f"pts:{self.job_id}:{self.attempt}:0", prior)
                self.idx["batches"].append([prior[0]["step"], prior[-1]["step"]])
            self.db.cache.set(f"idx:{self.job_id}", self.idx)
            self.db.cache.set(f"ep:{self.job_id}", self.epochs)
            self.db.cache.set(f"ev:{self.job_id}", self.events)
            self._update(info=info, epoch=self.epoch, epochs=ev["epochs"], step=self.step,
                         steps_total=self.steps_total, latest=prior[-1] if prior else {})

    def _update(self, **fields) -> None:
        rec = self.db.job(self.job_id)
        if rec is None or rec.get("attempt") != self.attempt or rec["status"] != RUNNING:
            self.stale = True  # deleted, or finished by someone else (e.g. a forced cancel)
            return
        rec.update(fields)
        self.db.put(rec)

    def eta(self) -> float | None:
        done = self.step - self.start_step
        if not done or self.t_start is None:
            return None
        rate = done / max(time.monotonic() - self.t_start, 1e-6)
        return max(self.steps_total - self.step, 0) / rate

    def flush(self) -> None:
        if not self.buf and not self.dirty:
            return
        with self.db.transact():
            if self.buf:
                k = len(self.idx["batches"])
                self.db.cache.set(f"pts:{self.job_id}:{self.attempt}:{k}", self.buf)
                self.idx["batches"].append([self.buf[0]["step"], self.buf[-1]["step"]])
                self.db.cache.set(f"idx:{self.job_id}", self.idx)
            if self.dirty:
                self.db.cache.set(f"ep:{self.job_id}", self.epochs)
                self.db.cache.set(f"ev:{self.job_id}", self.events)
            self._update(step=self.step, epoch=self.epoch, latest=self.latest, eta_s=self.eta())
        self.buf, self.dirty, self.last_flush = [], False, time.monotonic()

    # -- the job
    def run(self, slot: int = 0, gpus: int = 0) -> int:
        rec = self.db.job(self.job_id)
        if rec is None or rec["status"] != RUNNING or rec.get("attempt") != self.attempt:
            return 0
        if gpus > 1:  # one GPU per concurrent job; CUDA is not initialised yet in this process
            vis = os.environ.get("CUDA_VISIBLE_DEVICES")
            ids = vis.split(",") if vis else [str(i) for i in range(gpus)]
            os.environ["CUDA_VISIBLE_DEVICES"] = ids[slot % len(ids)]
        for s in STOP_SIGNALS:
            signal.signal(s, lambda signum, frame: setattr(self, "signalled", signal.Signals(signum).name))
        with self.db.transact():
            self._update(pid=os.getpid(), pid_start=start_time(os.getpid()), boot=boot_id())
        if self.stale:  # cancelled (or deleted) while it was being handed over
            return 0

        from engine.core.config import RunConfig
        from engine.core.store import Store
        from engine.core.trainer import train

        cfg = RunConfig(**rec["config"])
        self.lr = cfg.lr
        if cfg.dataset in PRELOADED:
            from engine.data import load, variant

            if variant(cfg.dataset) != PRELOADED[cfg.dataset]:  # e.g. the full MNIST arrived since preloading
                load.cache_clear()
        try:
            res = train(cfg, self.report, self.should_stop, store=Store(self.db.root), controls=self.controls)
        except Exception as e:  # noqa: BLE001 - any failure becomes the job's one-line message
            traceback.print_exc()
            self.flush()
            msg = "out of memory" if isinstance(e, MemoryError) else one_line(e)
            if "out of memory" in msg.lower():
                msg = f"out of memory: {msg} — try a smaller batch size or model"
            k = self.db.epochs_done(self.job_id)
            self.db.finish(self.job_id, self.attempt, FAILED, msg + (f" (checkpoint of epoch {k} kept)" if k else ""))
            return 1
        self.flush()
        if res.status == "completed":
            status, msg = COMPLETED, res.message
        elif res.status == "diverged":
            status, msg = FAILED, res.message
        elif self.signalled:
            status, msg = INTERRUPTED, f"interrupted ({self.signalled}); resume continues from epoch {res.epochs}"
        elif self.stale:
            return 0
        else:
            status = CANCELLED
            msg = f"cancelled during epoch {res.epochs + 1}; kept the checkpoint of epoch {res.epochs}"
        self.db.finish(self.job_id, self.attempt, status, msg, cached=res.cached, epoch=res.epochs,
                       epoch_seconds=res.epoch_seconds)
        return 0


PRELOADED: dict[str, str] = {}  # dataset name -> the variant (e.g. "mnist-full") a warm process loaded


def preload() -> None:
    """What a warm process loads before it gets a job: torch, the trainer, the default dataset, and one
    tiny optimizer step (first calls into autograd and Adam are slow)."""
    import torch

    from engine.core.models import build_model
    from engine.core.presets import preset
    from engine.core.trainer import objective
    from engine.data import load, variant

    with contextlib.suppress(Exception):
        load("mnist")
        PRELOADED["mnist"] = variant("mnist")
    cfg = preset("seed-vae", hidden=(16,), latent_dim=2, dataset="synthetic")
    model = build_model(cfg, (1, 28, 28))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss, _ = objective(model, cfg, torch.rand(4, 1, 28, 28), 1.0)
    loss.backward()
    opt.step()


def child_main(root: str) -> int:
    db = JobDB(root)
    try:
        preload()
    except Exception:  # noqa: BLE001 - a job will report the real error
        traceback.print_exc()
    db.cache.set("ready", os.getpid())
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    msg = json.loads(line)
    code = JobRun(db, msg["job"], msg["attempt"]).run(msg.get("slot", 0), msg.get("gpus", 0))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip interpreter teardown: the process is gone right after the job is


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("pool", "child"):
        print("usage: worker.py pool|child CHECKPOINT_ROOT", file=sys.stderr)
        return 2
    if argv[0] == "pool":
        return Pool(argv[1]).run()
    return child_main(argv[1])


if __name__ == "__main__":
    sys.path[0] = str(PROJECT)  # not engine/ itself: its modules must be imported as engine.*
    sys.exit(main(sys.argv[1:]))
