"""Job subcommands of `python -m engine`: submit, status, jobs, cancel, wait, resume, set, bench-jobs.

`submit` returns at once (the job runs in a background worker that outlives this command); the others
work from any shell on the same checkpoint folder. Unknown jobs and bad values: one line, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from ..jobs import COMPLETED, JobError, JobInfo, get_backend
from .common import add_run_flags, config_from, fail


def backend_of(args: argparse.Namespace):
    kw = {"root": args.checkpoints} if getattr(args, "checkpoints", None) else {}
    return get_backend(args.backend, **kw)


def _guard(fn):
    """Turn a JobError (unknown job, refused value) into one line on stderr and exit code 2."""

    def run(args) -> int:
        try:
            return fn(args)
        except JobError as e:
            return fail(e)  # one line, whatever the message holds

    return run


def describe(info: JobInfo) -> str:
    parts = [f"{info.job_id}  {info.status}"]
    if info.epochs:
        parts.append(f"epoch {info.epoch}/{info.epochs}")
    if info.steps_total:
        parts.append(f"step {info.step}/{info.steps_total}")
    lat = info.latest or {}
    if "recon" in lat:
        parts.append(f"recon {lat['recon']:.3f}" + (f" kl {lat['kl']:.3f}" if lat.get("kl") else "")
                     + (f" β {lat['beta']:g}" if "beta" in lat else ""))
    if info.eta_s is not None and not info.done:
        parts.append(f"ETA {info.eta_s:.0f} s")
    if info.cached:
        parts.append("(from cache)")
    line = "  ".join(parts)
    return f"{line}\n  {info.message}" if info.message else line


def cmd_submit(args) -> int:
    cfg = config_from(args)
    b = backend_of(args)
    job_id = b.submit(cfg)
    info = b.status(job_id)
    note = {"completed": "already trained — loaded from cache", "running": "running", "queued": "queued"}
    print(f"{cfg.short()}: {note.get(info.status, info.status)}", file=sys.stderr)
    print(job_id)
    return 0


def cmd_status(args) -> int:
    info = backend_of(args).status(args.job)
    print(json.dumps(info.to_json()) if args.json else describe(info))
    return 0


def cmd_jobs(args) -> int:
    infos = backend_of(args).jobs()
    if args.json:
        print(json.dumps([i.to_json() for i in infos]))
        return 0
    if not infos:
        print("no jobs yet: `python -m engine submit --preset seed-vae` starts one")
    for i in infos:
        name = i.config.get("name", "")
        tail = "  (from cache)" if i.cached else ""
        print(f"{i.job_id:18s} {i.status:11s} {name:15s} epoch {i.epoch}/{i.epochs}{tail}")
    return 0


def cmd_cancel(args) -> int:
    b = backend_of(args)
    b.cancel(args.job)
    print(describe(b.status(args.job)))
    return 0


def cmd_resume(args) -> int:
    b = backend_of(args)
    job_id = b.resume(args.job)
    print(f"{b.status(job_id).status}", file=sys.stderr)
    print(job_id)
    return 0


def cmd_set(args) -> int:
    if args.beta is None and args.lr is None:
        return fail("give --beta B and/or --lr X")
    b = backend_of(args)
    b.steer(args.job, beta=args.beta, lr=args.lr)
    what = ", ".join(f"{k} = {v:g}" for k, v in (("β", args.beta), ("lr", args.lr)) if v is not None)
    print(f"{args.job}: {what} from the next step on")
    return 0


def cmd_wait(args) -> int:
    """A progress bar until the job ends; exit 0 only if it completed."""
    from tqdm import tqdm

    b = backend_of(args)
    info = b.status(args.job)
    bar = None
    t0 = time.monotonic()
    try:
        while True:
            if bar is None and info.steps_total and not args.quiet:
                bar = tqdm(total=info.steps_total, initial=info.step, unit="step", file=sys.stderr,
                           dynamic_ncols=True, desc=info.job_id)
            if bar is not None:
                bar.update(max(info.step - bar.n, 0))
                lat = info.latest or {}
                if "recon" in lat:
                    post = {"recon": f"{lat['recon']:.2f}", "loss": f"{lat['loss']:.3f}"}
                    if lat.get("kl"):
                        post["kl"] = f"{lat['kl']:.2f}"
                    bar.set_postfix(post, refresh=False)
            if info.done or (args.timeout is not None and time.monotonic() - t0 > args.timeout):
                break
            time.sleep(0.2)
            info = b.status(args.job)
    except KeyboardInterrupt:
        print(f"\nstill {info.status} in the background: `python -m engine wait {info.job_id}` to watch again",
              file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    print(describe(info))
    return 0 if info.status == COMPLETED else 1


def cmd_bench_jobs(args) -> int:
    from .bench_jobs import burst
    from .bench_jobs import main as bench_main

    if args.burst:
        return burst(args.burst, max_jobs=args.max_jobs, warm=args.warm)
    return bench_main(repeats=args.repeats)


def register(sub) -> None:
    def job_parser(name: str, help: str, func, job: bool = True):
        s = sub.add_parser(name, help=help)
        if job:
            s.add_argument("job", help="job id (printed by submit; see `python -m engine jobs`)")
        s.add_argument("--backend", help="embedded (default) or ray; default from $AE_LAB_BACKEND")
        s.set_defaults(func=_guard(func))
        return s

    s = job_parser("submit", "train a run in the background; prints the job id at once", cmd_submit, job=False)
    add_run_flags(s)
    s = job_parser("status", "state and progress of a job", cmd_status)
    s.add_argument("--json", action="store_true", help="print the job as one JSON object")
    s = job_parser("jobs", "list every job, newest first", cmd_jobs, job=False)
    s.add_argument("--json", action="store_true")
    job_parser("cancel", "stop a job at its next step (its last epoch checkpoint is kept)", cmd_cancel)
    s = job_parser("wait", "show a progress bar until the job ends (exit 0 if it completed)", cmd_wait)
    s.add_argument("--timeout", type=float, help="give up after this many seconds (exit 1)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    job_parser("resume", "continue a failed, cancelled or interrupted job from its last epoch", cmd_resume)
    s = job_parser("set", "steer a running job: new β and/or learning rate from its next step", cmd_set)
    s.add_argument("--beta", type=float, help="new KL weight β")
    s.add_argument("--lr", type=float, help="new learning rate")
    s = sub.add_parser("bench-jobs", help="submit → first metrics point latency of the embedded backend")
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--burst", type=int, default=0, help="N different quick-demo runs submitted at once, instead")
    s.add_argument("--max-jobs", type=int, help="with --burst: jobs at once (default $AE_LAB_MAX_JOBS or the default)")
    s.add_argument("--warm", type=int, help="with --burst: warm processes (default $AE_LAB_WARM or 1)")
    s.set_defaults(func=cmd_bench_jobs)

