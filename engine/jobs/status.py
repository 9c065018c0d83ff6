"""The job statuses. Standard library only: the embedded backend's supervisor (`engine.jobs.pool`) imports
them without loading torch."""

QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, INTERRUPTED = (
    "queued", "running", "completed", "failed", "cancelled", "interrupted")
STATUSES = (QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, INTERRUPTED)
ACTIVE = (QUEUED, RUNNING)
FINISHED = (COMPLETED, FAILED, CANCELLED, INTERRUPTED)
RESUMABLE = (FAILED, CANCELLED, INTERRUPTED)
