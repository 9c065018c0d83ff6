"""Benchmark of the embedded backend: submit → first metrics point for the lecture's seed VAE on MNIST.

`python -m engine bench-jobs` (or `python -m engine.cli.bench_jobs`). Real processes, a throw-away
checkpoint folder. Prints, for a warm worker (the normal case: the supervisor keeps one preloaded) and a
cold start (a fresh Python importing torch), the seconds from `submit()` returning control to the first
step point being readable through `metrics()`, and how long `cancel()` takes until the worker is gone.

`--burst N` measures a class instead: N different quick-demo runs (seed VAE, 2 epochs on 2,000 digits: the Train
page's "Quick demo settings") submitted at once, with `--max-jobs` of them at a time and `--warm` warm processes;
it prints each run's submit → first point (median, p95, max) and the time until all have finished.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time


def machine_line() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"({os.cpu_count()} CPU cores, load average {load:.1f})"


def first_point(backend, cfg, timeout: float = 120.0) -> tuple[str, float]:
    """(job id, seconds from submit to the first step point visible through metrics())."""
    t0 = time.perf_counter()
    job_id = backend.submit(cfg)
    while time.perf_counter() - t0 < timeout:
        if backend.metrics(job_id)["steps"]:
            return job_id, time.perf_counter() - t0
        time.sleep(0.002)
    raise TimeoutError(f"no metrics point after {timeout:.0f} s: {backend.status(job_id)}")


def cancel_seconds(backend, job_id: str) -> float:
    from ..jobs.procs import alive

    pid = backend.processes(job_id)
    t0 = time.perf_counter()
    backend.cancel(job_id)
    while backend.status(job_id).status == "running" or (pid and alive(pid[0])):
        time.sleep(0.002)
    return time.perf_counter() - t0


def burst(n: int, max_jobs: int | None = None, warm: int | None = None, timeout: float = 600.0) -> int:
    """N distinct quick-demo runs submitted at once; submit → first point of each, and until all have ended."""
    from ..core.presets import preset
    from ..jobs.embedded import EmbeddedBackend
    from ..jobs.procs import default_max_jobs, job_threads, warm_count

    tmp = tempfile.mkdtemp(prefix="ae-lab-bench-burst-")
    b = EmbeddedBackend(f"{tmp}/ck", max_jobs=max_jobs, warm=warm)
    try:
        b.prewarm(wait=True)
        limit = max_jobs or int(os.environ.get("AE_LAB_MAX_JOBS") or default_max_jobs())
        t0 = time.perf_counter()
        ids = [b.submit(preset("seed-vae", epochs=2, train_limit=2000, seed=500 + i)) for i in range(n)]
        first: dict[str, float] = {}
        while len(first) < n or not all(b.status(j).done for j in ids):
            if time.perf_counter() - t0 > timeout:
                print(f"gave up after {timeout:.0f} s", file=sys.stderr)
                return 1
            for j in ids:
                if j not in first and b.metrics(j)["steps"]:
                    first[j] = time.perf_counter() - t0
            time.sleep(0.01)
        total = time.perf_counter() - t0
        s = sorted(first.values())
        p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
        print(f"{n} quick-demo runs submitted at once ({limit} at a time, {warm_count(warm, limit)} warm, "
              f"{job_threads(limit)} torch thread(s) each):")
        print(f"  submit → first point: median {statistics.median(s):.2f} s, p95 {p95:.2f} s, max {s[-1]:.2f} s")
        print(f"  all {n} finished after {total:.2f} s; statuses: {sorted({b.status(j).status for j in ids})}")
        print(machine_line())
        return 0
    finally:
        b.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def main(repeats: int = 3) -> int:
    from ..core.presets import preset
    from ..jobs.embedded import EmbeddedBackend

    tmp = tempfile.mkdtemp(prefix="ae-lab-bench-jobs-")
    warm_b = cold_b = None
    try:
        warm_b = EmbeddedBackend(f"{tmp}/warm", warm=True, max_jobs=1)
        t0 = time.perf_counter()
        if not warm_b.prewarm(wait=True):
            print("the warm worker did not come up; see", warm_b.db.log_path, file=sys.stderr)
            return 1
        print(f"warm worker ready after {time.perf_counter() - t0:.2f} s (supervisor + torch + MNIST, once)")
        warm, cancels = [], []
        for r in range(repeats):
            warm_b.prewarm(wait=True)
            job_id, s = first_point(warm_b, preset("seed-vae", epochs=2, seed=100 + r))
            warm.append(s)
            time.sleep(0.5)  # let it train a little, then measure cancel
            cancels.append(cancel_seconds(warm_b, job_id))
            print(f"  run {r + 1}: first point {s:.3f} s, cancel → worker gone {cancels[-1]:.3f} s")
        warm_b.shutdown()

        cold_b = EmbeddedBackend(f"{tmp}/cold", warm=False, max_jobs=1)
        job_id, cold = first_point(cold_b, preset("seed-vae", epochs=2, seed=999))
        cold_b.cancel(job_id)
        cold_b.shutdown()

        print(f"submit → first metrics point, seed VAE on MNIST (784-400-20, batch 128), {repeats} runs:")
        print(f"  warm worker: median {statistics.median(warm):.3f} s (max {max(warm):.3f} s; target ≤ 1.5 s)")
        print(f"  cold start (no warm worker, fresh Python + torch): {cold:.3f} s")
        print(f"cancel → worker process gone: median {statistics.median(cancels):.3f} s (target ≤ 1 s)")
        print(machine_line() + " during the benchmark")
        return 0
    finally:
        for b in (warm_b, cold_b):
            if b is not None:
                b.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
