"""Background jobs: the backend contract (`base`), the embedded backend (worker processes on this machine,
the default), the Ray cluster backend, and classroom mode (isolation and quotas over either).
Every backend runs the one training function, `engine.core.trainer.train`, and folds its report events
with the one reducer, `engine.jobs.progress.Progress`.

Importing this package loads neither torch nor a backend: the embedded backend's supervisor
(`python -m engine.jobs.pool`) stays light."""

from __future__ import annotations

import os

from .base import (
    ACTIVE,
    CANCELLED,
    COMPLETED,
    FAILED,
    FINISHED,
    INTERRUPTED,
    QUEUED,
    RESUMABLE,
    RUNNING,
    STATUSES,
    Backend,
    JobError,
    JobInfo,
    check_steer,
)

__all__ = ["ACTIVE", "CANCELLED", "COMPLETED", "FAILED", "FINISHED", "INTERRUPTED", "QUEUED", "RESUMABLE", "RUNNING",
           "STATUSES", "Backend", "JobError", "JobInfo", "check_steer", "get_backend"]


def get_backend(name: str | None = None, **kwargs) -> Backend:
    """The backend named `name`, else $AE_LAB_BACKEND, else the embedded one."""
    name = name or os.environ.get("AE_LAB_BACKEND", "embedded")
    if name == "embedded":
        from .embedded import EmbeddedBackend

        return EmbeddedBackend(**kwargs)
    if name == "ray":
        from .ray_backend import RayBackend

        return RayBackend(**kwargs)
    raise JobError(f"unknown backend '{name}': use 'embedded' or 'ray'")
