"""The Ray task that trains one job on a worker: `train(cfg, report, should_stop, controls=...)` with the
checkpoint store rooted at a directory every node can reach. It pushes every report event (but "done") to the
job's hub (`engine.jobs.ray_hub`), and a small thread polls the hub for stop/β/lr."""

from __future__ import annotations

import os
import threading

import ray

from ..core.config import RunConfig
from ..core.store import Store

NAMESPACE = "ae_lab"  # the Ray namespace of every hub


class Steering:
    """Worker side of cancel/steer: a daemon thread polls the hub, so the training loop only reads locals."""

    def __init__(self, hub, job_id: str, attempt: int, every: float = 0.3):
        self.hub, self.job_id, self.attempt, self.every = hub, job_id, attempt, every
        self.stop, self.values, self.hub_lost = False, {}, False
        self._quit = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._quit.is_set():
            try:
                c = ray.get(self.hub.controls.remote(self.job_id, self.attempt), timeout=10)
                self.stop, self.values = bool(c.get("stop")), c
            except ray.exceptions.RayActorError:  # the hub is gone: nobody can see or stop this job
                self.stop = self.hub_lost = True  # stop cleanly; the run shows as interrupted, resumable
            except Exception:  # noqa: BLE001 - a slow hub must not kill training; try again
                pass
            self._quit.wait(self.every)

    def should_stop(self) -> bool:
        return self.stop

    def controls(self) -> dict:
        return {k: self.values.get(k) for k in ("beta", "lr")}

    def close(self) -> None:
        self._quit.set()


@ray.remote(max_retries=0)
def run_job(cfg_json: dict, root: str, hub: str, job_id: str, attempt: int, threads: int) -> dict:
    """Train one attempt of a job; returns the trainer's result (TrainResult as JSON)."""
    import torch

    from ..core.trainer import train

    handle = ray.get_actor(hub, namespace=NAMESPACE)
    ctx = ray.get_runtime_context()
    resources = {k: v for k, v in ctx.get_assigned_resources().items() if not k.startswith("node:")}
    cuda = torch.cuda.is_available()
    handle.started.remote(job_id, attempt, {"pid": os.getpid(), "node": ctx.get_node_id(), "resources": resources,
                                           "cuda": cuda, "host": os.uname().nodename})
    torch.set_num_threads(max(1, threads))
    cfg = RunConfig(**cfg_json)
    if cfg.device == "auto" and not cuda:
        cfg = cfg.model_copy(update={"device": "cpu"})  # a logical GPU share without CUDA (tests, CPU nodes)
    steering = Steering(handle, job_id, attempt)
    last = []

    store = Store(root)

    def report(event: dict) -> None:
        if event.get("type") == "start" and event.get("epoch"):  # resumed: the hub gets the stored history too
            event = {**event, "history": store.history(job_id)}
        if event.get("type") != "done":
            last[:] = [handle.push.remote(job_id, attempt, event)]

    try:
        result = train(cfg, report, steering.should_stop, store=store, controls=steering.controls)
        if steering.hub_lost and result.status == "stopped":  # nobody stopped it: not a cancel, an interruption
            store.set_meta(job_id, status="interrupted",
                           message=f"the cluster's job table was lost; resume continues from epoch {result.epochs}")
            return result.to_json()
        if last:
            ray.get(last[0], timeout=30)  # every event is in the hub before the job is marked finished
    finally:
        steering.close()
    return result.to_json()
