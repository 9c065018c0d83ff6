"""Atomic file writes (temp file + rename): a reader never sees half a file, a crash never leaves one.

A crash (kill -9, power loss) inside `atomic_write` can leave its temp file ".<name>.<random>.tmp" behind;
`sweep_temp` removes those once they are old enough that no live writer can still own them. A write that
fails because the disk is full raises `DiskFull`, whose message says so in words.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

TEMP_MAX_AGE_S = 600.0  # a temp file this old has no live writer (the biggest atomic write takes seconds)


class DiskFull(OSError):
    """A write failed because the disk (or the user's quota) is full; the message says what to do."""


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Call write(file_object) on a temp file next to `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if is_disk_full(e) and not isinstance(e, DiskFull):
            raise DiskFull(f"disk full: no space left to write {path.name} in {path.parent}") from e
        raise


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(obj).encode()))


def read_json(path: Path) -> Any:
    with open(path) as f:
        return json.load(f)


def is_disk_full(exc: BaseException) -> bool:
    """Is a full disk (ENOSPC, or EDQUOT: quota exceeded) anywhere in the exception's chain? torch and
    sqlite wrap the OSError in their own errors, so the cause or context is searched too."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, DiskFull) or (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)):
            return True
        if isinstance(e, sqlite3.OperationalError) and "disk is full" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def sweep_temp(folder: Path, pattern: str = ".*.tmp", older_than_s: float = TEMP_MAX_AGE_S) -> int:
    """Remove what a crashed writer left in `folder` (files or folders matching `pattern`, not recursive)
    that was last modified more than `older_than_s` ago; returns how many were removed."""
    removed = 0
    cutoff = time.time() - older_than_s
    for p in folder.glob(pattern) if folder.is_dir() else []:
        try:
            if p.lstat().st_mtime > cutoff:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed += 1
        except FileNotFoundError:  # another process swept it first
            continue
    return removed
