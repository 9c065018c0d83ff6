"""Uploaded datasets in a class: who may train on one, and what removing one does.

- A student trains only on uploads they own (`check_dataset`, called by ClassroomBackend.submit and resume
  before anything else, so typing another student's `upload-<hash>` into a form or a request gets the same
  one line as a name that does not exist). Instructors (and the local mode, which has no ClassroomBackend)
  may use any. Every other dataset (MNIST, Ising sets, ...) is shared by the class.
- Removing (`remove_upload`) never breaks a run: while runs of yours were trained on the upload, it is refused
  with their ids (delete them first; they need the data to resume or continue). A student's remove drops
  only their ownership; the data go when nobody owns them and no run uses them any more. An instructor's
  remove (or the local user's) deletes the upload for everyone, once no run at all uses it.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..core.store import Store
from ..data import uploads
from .base import JobError, JobInfo
from .identity import User

UPLOAD_PREFIX = "upload-"


class DatasetInUse(JobError):
    """Runs still need this dataset; the message lists them and says what to do."""


def may_use(user: User, dataset: str) -> bool:
    """May `user` train on `dataset`? Only an upload's owners (and instructors) may."""
    if user.instructor or not dataset.startswith(UPLOAD_PREFIX):
        return True
    try:
        return user.name in uploads.owners(dataset)
    except uploads.UploadError:  # not an upload name at all: the config check explains it
        return False


def check_dataset(user: User, dataset: str) -> None:
    """JobError (one line) unless `user` may train on `dataset`; an upload of someone else's reads as missing."""
    if not may_use(user, dataset):
        shown = dataset[:40] if dataset.isprintable() else "?"
        raise JobError(f"you have no uploaded dataset '{shown}': upload the file on the Your data page "
                       "(uploads are private to whoever uploaded them)")


def runs_on(dataset: str, store: Store, jobs: Iterable[JobInfo] = ()) -> list[str]:
    """Ids of the stored runs and the jobs (any status) that train on `dataset`, oldest first."""
    ids = [m["run_id"] for m in reversed(store.runs()) if (m.get("config") or {}).get("dataset") == dataset]
    ids += [j.job_id for j in jobs if j.config.get("dataset") == dataset and j.job_id not in ids]
    return ids


def remove_upload(name: str, user: User, store: Store, jobs: Iterable[JobInfo] = (),
                  mine: set[str] | None = None) -> str:
    """Remove upload `name` as `user` sees it (see the module docstring); returns what happened, one line.

    `jobs`: every job of the backend (not only the user's); `mine`: the run ids the user follows (None: all,
    for instructors and the local mode). DatasetInUse if runs of theirs use it; UploadError if a student
    does not own it."""
    using = runs_on(name, store, jobs)
    yours = using if mine is None else [r for r in using if r in mine]
    if yours:
        listed = ", ".join(yours[:5]) + (f" and {len(yours) - 5} more" if len(yours) > 5 else "")
        whose = "runs" if mine is None else "of your runs"
        raise DatasetInUse(f"{len(yours)} {whose} were trained on this dataset ({listed}): delete them on the "
                           "Runs page first (they need the data to resume or continue)")
    if not user.instructor:
        left = uploads.disown(name, user.name)
        if left or using:  # others own it, or others' runs still use it: the data stay for them
            return "Removed from your datasets."
    uploads.remove(name)
    return "Removed."
