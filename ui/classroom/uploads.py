"""Uploaded datasets as the current user sees them: in classroom mode a student lists, keeps and removes only
their own (engine.jobs.datasets says what removing does); instructors and the local user see every upload."""

from __future__ import annotations

import streamlit as st

from engine.data import LOADERS, uploads
from engine.data.files import DiskFull
from engine.data.uploads import Prepared, UploadError
from engine.jobs import JobError
from engine.jobs.datasets import remove_upload
from engine.jobs.identity import User

from ..access.auth import current_user, visible_run_ids
from ..backend import plain_backend, store


def me() -> User:
    name, role = current_user()
    return User(name, role)


def my_uploads() -> list[dict]:
    """The uploads this user may see, newest first (a student's own, with the file names they uploaded)."""
    u = me()
    return uploads.stored(owner=None if u.instructor else u.name)


def keep(p: Prepared) -> str | None:
    """Store an accepted upload as this user's; its dataset name, or None after saying why not."""
    try:
        return uploads.save(p, owner=me().name)
    except (UploadError, DiskFull) as e:
        st.error(str(e))
    except OSError as e:  # the server's paths stay out of the page
        st.error(f"The server could not keep this dataset ({e.strerror or type(e).__name__}): ask your instructor.")
    return None


def remove(name: str) -> bool:
    """Remove an upload as this user may (see engine.jobs.datasets); True when it is gone from their list."""
    be = plain_backend()
    try:
        jobs = be.jobs() if be is not None else []  # every job: a queued one needs the data too
        done = remove_upload(name, me(), store(), jobs, mine=visible_run_ids())
    except (JobError, UploadError) as e:
        st.error(str(e))
        return False
    st.toast(done)
    return True


def trainable_datasets() -> list[str]:
    """Dataset names this user may train on, for a Dataset selectbox: every registered dataset except uploads,
    then the uploads this user may use (a student's own; every one for instructors and the local user)."""
    return [n for n in LOADERS if not n.startswith("upload-")] + [m["name"] for m in my_uploads()]
