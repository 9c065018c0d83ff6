"""Simulate a class on the Ray backend under the classroom policy, and print what students would feel.

    .venv/bin/python scripts/class_load.py --tiny                 # 40 students, tiny configs, local Ray cluster
    .venv/bin/python scripts/class_load.py --students 40 --epochs 3 --gpus 1 --job-gpus 0.25   # on a GPU box
    AE_LAB_RAY_ADDRESS=head:6379 .venv/bin/python scripts/class_load.py --root /shared/ckpt     # a real cluster

Every student logs in (their own ClassroomBackend view), submits one run — half of the class the same
preset (one training, everyone else served by the shared cache or attached to the running job), the other
half a preset of their own with their own seed — tries one request over the limits (refused), and then keeps a
"page" open: every --poll seconds it makes the calls a Live-run page makes (status, jobs, metrics since the
last step) and times them. Printed: throughput, queue wait, run time, p50/p95 page response, peak
concurrent jobs, refusals.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.core.presets import PRESETS, preset  # noqa: E402
from engine.jobs import COMPLETED, QUEUED, RUNNING  # noqa: E402
from engine.jobs.classroom import ClassroomBackend, QuotaError, User  # noqa: E402
from engine.jobs.ray_backend import RayBackend, connect  # noqa: E402

SHARED = "seed-vae"


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q / 100 * (len(xs) - 1)))]


def config_for(i: int, args) -> object:
    """Student i's run: even students share one preset run; odd ones train their own preset/seed."""
    quick = dict(dataset="synthetic", train_limit=None) if args.tiny else dict(dataset=args.dataset)
    if i % 2 == 0:
        return preset(SHARED, epochs=args.epochs, **quick)
    name = sorted(PRESETS)[(i // 2) % len(PRESETS)]
    return preset(name, epochs=args.epochs, seed=100 + i, **quick)


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=40)
    ap.add_argument("--tiny", action="store_true", help="synthetic 28x28 blobs (500 images): runs in minutes on 2 CPUs")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--poll", type=float, default=1.0, help="seconds between a page's refreshes")
    ap.add_argument("--address", help="Ray cluster address (default $AE_LAB_RAY_ADDRESS, else a local cluster)")
    ap.add_argument("--cpus", type=int, default=os.cpu_count(), help="CPUs of the local cluster")
    ap.add_argument("--gpus", type=float, default=0, help="GPUs of the local cluster (logical)")
    ap.add_argument("--job-cpus", type=float, default=1.0)
    ap.add_argument("--job-gpus", type=float, default=None, help="GPU share per job (default 0.25 if GPUs exist)")
    ap.add_argument("--jobs-per-student", type=int, default=2)
    ap.add_argument("--root", help="checkpoint storage (default: a fresh temporary folder)")
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args(argv)
    if args.students < 1 or args.epochs < 1 or args.poll <= 0:
        ap.error("--students, --epochs and --poll must be positive")
    return args


@dataclass
class Class:
    """The simulated class: every student's thread records what a student would feel here."""

    rb: RayBackend
    args: argparse.Namespace
    page_ms: list[float] = field(default_factory=list)
    call_ms: dict[str, list[float]] = field(default_factory=lambda: {"status": [], "jobs": [], "metrics": []})
    refusals: list[str] = field(default_factory=list)
    mine: dict[int, str] = field(default_factory=dict)
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def student(self, i: int) -> None:
        me = ClassroomBackend(self.rb, User(f"student{i:02d}"))
        time.sleep(random.Random(i).uniform(0, 2))  # they do not all click at the same instant
        job = me.submit(config_for(i, self.args))
        with self.lock:
            self.mine[i] = job
        try:  # one request over the limits: the message a student would see
            me.submit(preset("seed-mlp-ae", epochs=me.policy.max_epochs + 1))
        except QuotaError as e:
            with self.lock:
                self.refusals.append(str(e))
        since, deadline = 0, time.monotonic() + self.args.timeout
        while not self.stop.is_set() and time.monotonic() < deadline:
            info, since = self.refresh(me, job, since)
            if info.done:
                return
            time.sleep(self.args.poll)

    def refresh(self, me: ClassroomBackend, job: str, since: int) -> tuple:
        """The calls a Live-run page makes on each refresh, timed; returns (job info, last step seen)."""
        t = time.perf_counter()
        info = me.status(job)
        t1 = time.perf_counter()
        me.jobs()
        t2 = time.perf_counter()
        m = me.metrics(job, since_step=since)
        t3 = time.perf_counter()
        with self.lock:
            self.page_ms.append((t3 - t) * 1000)
            for k, dt in (("status", t1 - t), ("jobs", t2 - t1), ("metrics", t3 - t2)):
                self.call_ms[k].append(dt * 1000)
        return info, (m["steps"][-1]["step"] if m["steps"] else since)

    def watch(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, sum(j.status == RUNNING for j in self.rb.jobs()))
            time.sleep(0.5)

    def run(self) -> float:
        """Every student at once; returns the wall time."""
        t0 = time.perf_counter()
        threads = [threading.Thread(target=self.student, args=(i,), daemon=True) for i in range(self.args.students)]
        threading.Thread(target=self.watch, daemon=True).start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(self.args.timeout)
        self.stop.set()
        return time.perf_counter() - t0


def report(c: Class, wall: float) -> int:
    """Print the figures; returns the exit code (1 if jobs were left queued or running)."""
    rb, args = c.rb, c.args
    infos = {j: rb.status(j) for j in set(c.mine.values())}
    trained = [i for i in infos.values() if i.started and not i.cached]
    waits = [i.started - i.created for i in trained]
    runs = [i.finished - i.started for i in trained if i.finished]
    done = sum(i.status == COMPLETED for i in infos.values())
    served = sum(infos[j].status == COMPLETED for j in c.mine.values())
    left = sum(i.status in (QUEUED, RUNNING) for i in infos.values())
    print(f"students: {args.students}  distinct runs: {len(infos)}  trained: {len(trained)}  "
          f"completed: {done}  still queued/running: {left}  students served: {served}/{args.students}")
    print(f"wall: {wall:.1f}s  throughput: {len(trained) / wall * 60:.1f} trained jobs/min, "
          f"{served / wall * 60:.1f} student requests served/min")
    print(f"queue wait (s): mean {statistics.fmean(waits) if waits else float('nan'):.1f}  p50 {pct(waits, 50):.1f}  "
          f"p95 {pct(waits, 95):.1f}  max {max(waits, default=float('nan')):.1f}")
    print(f"run time (s):   mean {statistics.fmean(runs) if runs else float('nan'):.1f}  p50 {pct(runs, 50):.1f}  "
          f"p95 {pct(runs, 95):.1f}")
    print(f"page response (status+jobs+metrics, ms): n {len(c.page_ms)}  p50 {pct(c.page_ms, 50):.1f}  "
          f"p95 {pct(c.page_ms, 95):.1f}  max {max(c.page_ms, default=float('nan')):.1f}")
    print("  per call p95 (ms): " + "  ".join(f"{k} {pct(v, 95):.1f}" for k, v in c.call_ms.items()))
    print(f"peak concurrent running jobs: {c.peak}  (per job: {rb.opts['num_cpus']} CPU, {rb.opts['num_gpus']} GPU)")
    print(f"quota refusals: {len(c.refusals)}  e.g. \"{c.refusals[0] if c.refusals else ''}\"")
    return 0 if left == 0 else 1


def main(argv=None) -> int:
    args = parse(argv)
    root = args.root or tempfile.mkdtemp(prefix="ae-lab-class-")
    t0 = time.perf_counter()
    connect(args.address, num_cpus=args.cpus, num_gpus=args.gpus or None)
    rb = RayBackend(root=root, num_gpus=args.job_gpus, num_cpus=args.job_cpus)
    print(f"cluster: {rb.cluster()['resources']}  (connect {time.perf_counter() - t0:.1f}s)", flush=True)
    teacher = ClassroomBackend(rb, User("teacher", "instructor"))
    teacher.set_policy(max_jobs_per_student=args.jobs_per_student, max_epochs=max(args.epochs, 5),
                       max_queue=max(200, args.students * 2))
    c = Class(rb, args)
    code = report(c, c.run())
    rb.close(kill_hub=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
