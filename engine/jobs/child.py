"""A job process of the embedded backend: `python -m engine.jobs.child CHECKPOINT_ROOT`.

Started by the supervisor (`engine.jobs.pool`) as a fresh interpreter (nothing, CUDA included, is inherited
from the app). It lowers its own CPU priority ($AE_LAB_JOB_NICE, so the app's page renders win the cores),
preloads torch, the trainer and MNIST, then waits for one job on stdin
(`{"job": id, "attempt": a, "slot": s, "gpus": n, "threads": t}`), runs `engine.core.trainer.train` on it with
t torch threads and exits, releasing its memory and GPU. Its progress goes to the job table in batches
(`engine.jobs.jobdb`). With `--serve` it is instead a fork server: it preloads once and forks a job process
for each job line (`serve`), which is how a CPU-only supervisor on Linux starts jobs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
import traceback

from ..core.config import RunConfig
from ..core.store import Store
from ..core.trainer import TrainResult, train
from .jobdb import JobDB
from .procs import STOP_SIGNALS, boot_id, job_nice, start_time
from .progress import Progress
from .status import CANCELLED, COMPLETED, FAILED, INTERRUPTED, RUNNING

FLUSH_S = 0.2  # a job writes its buffered step points at most this often
CHECK_S = 0.1  # a job reads its cancel flag and steering controls at most this often
PRELOADED: dict[str, str] = {}  # dataset name -> the variant (e.g. "mnist-full") a warm process loaded


def one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    return msg if isinstance(e, ValueError | RuntimeError) and msg else f"{type(e).__name__}: {msg}"


class Throttled:
    """A value read from the job table at most every CHECK_S seconds (the trainer polls it every step)."""

    def __init__(self, read):
        self.read, self.value, self.at = read, None, float("-inf")

    def __call__(self):
        now = time.monotonic()
        if now - self.at >= CHECK_S:
            self.value, self.at = self.read(), now
        return self.value


class JobRun:
    """Runs one job in this process: the trainer's report/should_stop/controls callbacks, backed by the table."""

    def __init__(self, db: JobDB, job_id: str, attempt: int):
        self.db, self.job_id, self.attempt = db, job_id, attempt
        self.progress = Progress(attempt, before=lambda: Store(db.root).history(job_id))
        self.sent = 0  # step points of progress.steps already in the table
        self.dirty = False  # epochs or events changed since the last flush
        self.last_flush = float("-inf")
        self.signalled: str | None = None
        self.stale = False  # the job was deleted or finished by someone else: stop
        self.cancelled = Throttled(lambda: db.cancel_asked(job_id) is not None)
        self.controls = Throttled(lambda: db.controls(job_id))

    # -- trainer callbacks
    def should_stop(self) -> bool:
        return self.cancelled() or self.stale or self.signalled is not None

    def report(self, ev: dict) -> None:
        kind = self.progress.feed(ev)
        if kind == "start":
            self.begin()
        elif kind == "step":
            if time.monotonic() - self.last_flush >= FLUSH_S:
                self.flush()  # the first live point goes out at once: it is what a page waits for
        elif kind == "event":  # β/lr changed or resumed: goes out with the next flush
            self.dirty = True
        elif kind == "epoch":
            self.dirty = True
            self.flush()

    def begin(self) -> None:
        """A new attempt: replace the previous attempt's points with the carried-over history."""
        with self.db.transact():
            self.db.reset_points(self.job_id, self.attempt)
            self.sent, self.dirty = 0, True
            self._write()
            self._update(info=self.progress.info, **self.progress.fields())

    def flush(self) -> None:
        if self.sent == len(self.progress.steps) and not self.dirty:
            return
        with self.db.transact():
            self._write()
            self._update(**self.progress.fields())
        self.last_flush = time.monotonic()

    def _write(self) -> None:
        """New step points as one batch; epochs and events when they changed (inside a transaction)."""
        new = self.progress.steps[self.sent:]
        if new:
            self.db.add_points(self.job_id, new)
            self.sent += len(new)
        if self.dirty:
            self.db.set_epochs(self.job_id, self.progress.epochs)
            self.db.set_events(self.job_id, self.progress.events)
            self.dirty = False

    def _update(self, **fields) -> None:
        rec = self.db.job(self.job_id)
        if rec is None or rec.get("attempt") != self.attempt or rec["status"] != RUNNING:
            self.stale = True  # deleted, or finished by someone else (e.g. a forced cancel)
            return
        rec.update(fields)
        self.db.put(rec)

    # -- the job
    def run(self, slot: int = 0, gpus: int = 0, threads: int | None = None) -> int:
        """Train the job with `threads` torch threads (None: torch's default); record how it ended.
        The exit code of the process."""
        rec = self.db.job(self.job_id)
        if rec is None or rec["status"] != RUNNING or rec.get("attempt") != self.attempt:
            return 0
        pick_gpu(slot, gpus)
        if threads:
            import torch

            torch.set_num_threads(threads)
        for s in STOP_SIGNALS:
            signal.signal(s, lambda signum, frame: setattr(self, "signalled", signal.Signals(signum).name))
        with self.db.transact():
            self._update(pid=os.getpid(), pid_start=start_time(os.getpid()), boot=boot_id(), threads=threads)
        if self.stale:  # cancelled (or deleted) while it was being handed over
            return 0
        cfg = RunConfig(**rec["config"])
        reload_if_changed(cfg.dataset)
        try:
            res = train(cfg, self.report, self.should_stop, store=Store(self.db.root), controls=self.controls)
        except Exception as e:  # noqa: BLE001 - any failure becomes the job's one-line message
            traceback.print_exc()
            self.flush()
            self.db.finish(self.job_id, self.attempt, FAILED, self.failure(e))
            return 1
        self.flush()
        self.record(res)
        return 0

    def failure(self, e: Exception) -> str:
        msg = "out of memory" if isinstance(e, MemoryError) else one_line(e)
        if "out of memory" in msg.lower():
            msg = f"out of memory: {msg} — try a smaller batch size or model"
        k = self.db.epochs_done(self.job_id)
        return msg + (f" (checkpoint of epoch {k} kept)" if k else "")

    def record(self, res: TrainResult) -> None:
        """The job's final status from the trainer's result (nothing if someone else already finished it)."""
        if res.status == "completed":
            status, msg = COMPLETED, res.message
        elif res.status == "diverged":
            status, msg = FAILED, res.message
        elif self.signalled:
            status, msg = INTERRUPTED, f"interrupted ({self.signalled}); resume continues from epoch {res.epochs}"
        elif self.stale:
            return
        else:
            status = CANCELLED
            msg = f"cancelled during epoch {res.epochs + 1}; kept the checkpoint of epoch {res.epochs}"
        self.db.finish(self.job_id, self.attempt, status, msg, cached=res.cached, epoch=res.epochs,
                       epoch_seconds=res.epoch_seconds)


def pick_gpu(slot: int, gpus: int) -> None:
    """One GPU per concurrent job; CUDA is not initialised yet in this process."""
    if gpus > 1:
        vis = os.environ.get("CUDA_VISIBLE_DEVICES")
        ids = vis.split(",") if vis else [str(i) for i in range(gpus)]
        os.environ["CUDA_VISIBLE_DEVICES"] = ids[slot % len(ids)]


def reload_if_changed(dataset: str) -> None:
    """Forget a preloaded dataset whose files changed since (e.g. the full MNIST arrived)."""
    if dataset in PRELOADED:
        from ..data import load, variant

        if variant(dataset) != PRELOADED[dataset]:
            load.cache_clear()


def preload(threads: int | None = None) -> None:
    """What a warm process loads before it gets a job: torch, the trainer, the default dataset, and one
    tiny optimizer step with the trainer's own optimizer (first calls into autograd and Adam are slow; the
    fused Adam's first construction alone imports ~900 modules, ~1.6 s, which a job would otherwise pay before
    its first point). A fork server preloads on one thread: no OpenMP thread team exists when it forks."""
    import torch

    from ..core.models import build_model
    from ..core.presets import preset
    from ..core.trainer import adam, objective
    from ..data import load, variant

    if threads is not None:
        torch.set_num_threads(threads)
    with contextlib.suppress(Exception):
        load("mnist")
        PRELOADED["mnist"] = variant("mnist")
    cfg = preset("seed-vae", hidden=(16,), latent_dim=2, dataset="synthetic")
    model = build_model(cfg, (1, 28, 28))
    opt = adam(model, cfg)
    loss, _ = objective(model, cfg, torch.rand(4, 1, 28, 28), 1.0)
    loss.backward()
    opt.step()


def serve(root: str, out: int) -> int:
    """The fork server: after `preload`, each job line on stdin becomes a job process forked from this one, with
    torch, the trainer and MNIST already in memory (a fork takes milliseconds; a fresh process needs seconds to
    import torch, ~30 s on a loaded 2-core server). It forks twice, so the job is re-parented to the supervisor
    (a child subreaper, see `engine.jobs.pool`), which reaps it and reads its exit status like any child's; the
    job's pid goes back on `out` (the original stdout; fd 1 itself goes to the log, so that nothing printed
    can be taken for a pid) once that has happened. Exits when stdin closes."""
    while True:
        line = sys.stdin.readline()
        if not line.strip():
            return 0
        r, w = os.pipe()
        mid = os.fork()
        if mid == 0:  # the middle process: never returns into this loop (a failed fork answers nothing)
            try:
                os.close(r)
                job = os.fork()
                if job == 0:
                    os.close(w)
                    os.close(out)
                    _run_forked(root, line)
                os.write(w, f"{job}\n".encode())
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            pid = f.read().strip()
        os.waitpid(mid, 0)  # the middle process is gone: the job now belongs to the supervisor
        os.write(out, f"{pid}\n".encode())


def _run_forked(root: str, line: str) -> None:
    """The job process made by `serve`: its own database connection (SQLite must not cross a fork), stdin off
    the server's pipe, then the job, then exit without returning."""
    code = 1
    try:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        msg = json.loads(line)
        code = JobRun(JobDB(root), msg["job"], msg["attempt"]).run(msg.get("slot", 0), msg.get("gpus", 0),
                                                                     msg.get("threads"))
    except BaseException:  # noqa: BLE001 - whatever happens, never return into the server's loop
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def main(argv: list[str]) -> int:
    forking = argv[1:] == ["--serve"]
    if len(argv) != 1 and not forking:
        print("usage: python -m engine.jobs.child CHECKPOINT_ROOT [--serve]", file=sys.stderr)
        return 2
    db = JobDB(argv[0])
    out = os.dup(1) if forking else -1
    if forking:
        os.dup2(2, 1)
    try:
        os.nice(job_nice())
    except (OSError, ValueError):  # not permitted here, or a bad setting (the backend reports it): run as is
        traceback.print_exc()
    try:
        preload(1 if forking else None)
    except Exception:  # noqa: BLE001 - a job will report the real error
        traceback.print_exc()
    db.set_ready(os.getpid())
    if forking:
        return serve(argv[0], out)
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    msg = json.loads(line)
    code = JobRun(db, msg["job"], msg["attempt"]).run(msg.get("slot", 0), msg.get("gpus", 0), msg.get("threads"))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip interpreter teardown: the process is gone right after the job is


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
