"""The one reducer of the trainer's report events, used by the embedded job process and by the Ray hub.

`engine.core.trainer.train` reports start | step | event | epoch | done, and it reports every entry of the
run's event history itself (β/lr changes, resume), so a backend only folds what it is told:

    p = Progress(attempt, before=lambda: store.history(run_id))
    for ev in the trainer's reports: p.feed(ev)
    p.fields()    -> the live JobInfo fields (epoch, epochs, step, steps_total, latest, eta_s)
    p.history()   -> {"steps", "epochs", "events"} as the pages draw them; p.info: device, params, ...

Standard library only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

INFO_KEYS = ("device", "params", "data_note", "steps_per_epoch", "resumed_from")


def empty_history() -> dict:
    return {"steps": [], "epochs": [], "events": []}


def metrics_view(history: dict, since_step: int = 0, attempt: int = 0, info: dict | None = None) -> dict:
    """The `Backend.metrics` answer for a history: step points after `since_step`, every epoch and event."""
    return {"steps": [s for s in history["steps"] if s["step"] > since_step], "epochs": list(history["epochs"]),
            "events": list(history["events"]), "attempt": attempt, "info": dict(info or {})}


def carried_over(history: dict, epoch: int) -> dict:
    """What an attempt starting from the checkpoint of `epoch` keeps of the run's earlier history: the points,
    epochs and events up to that checkpoint (what came after it is trained again)."""
    return {"steps": [s for s in history["steps"] if s["epoch"] <= epoch],
            "epochs": [e for e in history["epochs"] if e["epoch"] <= epoch],
            "events": [e for e in history["events"] if e.get("epoch", 0) <= epoch]}


class Progress:
    """The live state of one attempt of a job, folded from the trainer's report events."""

    def __init__(self, attempt: int = 0, before: Callable[[], dict] | None = None):
        """before: the run's history before this attempt, read at the start event when it resumes from a
        checkpoint (default: nothing), unless the start event carries it as "history"."""
        self.attempt = attempt
        self._before = before
        self.steps: list[dict] = []
        self.epochs: list[dict] = []
        self.events: list[dict] = []
        self.info: dict = {}
        self.step = self.steps_total = self.epoch = self.epochs_total = 0
        self.latest: dict = {}
        self._t0 = time.monotonic()
        self._step0 = 0

    def feed(self, ev: dict) -> str | None:
        """Fold one report event in; returns its type."""
        kind = ev.get("type")
        if kind == "start":
            self._start(ev)
        elif kind == "step":
            self.latest = {k: v for k, v in ev.items() if k != "type"}
            self.steps.append(self.latest)
            self.step = self.latest["step"]
        elif kind == "event":
            self.events.append(ev["event"])
        elif kind == "epoch":
            self.epochs.append({k: v for k, v in ev.items() if k not in ("type", "snapshot")})
            self.epoch = ev["epoch"]
        return kind

    def _start(self, ev: dict) -> None:
        """A new attempt: carry over the history before the checkpoint it starts from, drop the rest."""
        spe, k = ev["steps_per_epoch"], ev["epoch"]
        before = ev.get("history")  # sent along by a worker that reads the store (the Ray hub cannot)
        if before is None and k and self._before:
            before = self._before()
        prior = carried_over(before, k) if k and before else empty_history()
        self._before = None  # read once (the hub would otherwise chain every earlier attempt's history)
        self.steps, self.epochs, self.events = prior["steps"], prior["epochs"], prior["events"]
        self.epoch, self.epochs_total = k, ev["epochs"]
        self.step = self._step0 = k * spe
        self.steps_total = ev["epochs"] * spe
        self.latest = self.steps[-1] if self.steps else {}
        self._t0 = time.monotonic()
        self.info = {key: ev.get(key) for key in INFO_KEYS}
        self.events.append({"kind": "start", "epoch": k, "step": self.step, "device": ev["device"],
                            "params": ev["params"], "attempt": self.attempt, "resumed_from": ev.get("resumed_from")})

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace of this attempt so far (None before its first step)."""
        done = self.step - self._step0
        if done <= 0 or not self.steps_total:
            return None
        return (time.monotonic() - self._t0) / done * max(self.steps_total - self.step, 0)

    def fields(self) -> dict:
        """The JobInfo fields this attempt's progress sets."""
        return {"epoch": self.epoch, "epochs": self.epochs_total, "step": self.step,
                "steps_total": self.steps_total, "latest": self.latest, "eta_s": self.eta_s}

    def history(self) -> dict:
        return {"steps": self.steps, "epochs": self.epochs, "events": self.events}

    def metrics(self, since_step: int = 0) -> dict:
        return metrics_view(self.history(), since_step, self.attempt, self.info)
