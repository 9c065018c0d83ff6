"""scripts/class_ws.py against a real server, briefly: two students in classroom mode walk the whole path over
Streamlit's websocket protocol. What is checked is behaviour, never a timing: every page of the path was drawn
(its rerun ended with script_finished), each student was signed in as themselves by the minted login cookie,
the Launch reached a job, the clicks on the map were answered, and no error was seen."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import class_ws  # noqa: E402 - scripts/ is not a package

PATH_PAGES = {"Home", "Train", "Live run", "Latent space", "Lessons", "Runs"}


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_two_students_walk_the_path_signed_in_as_themselves(tmp_path):
    out = tmp_path / "ws.json"
    code = class_ws.main(["--sessions", "2", "--think", "0.3", "--ramp", "0", "--watch", "240", "--out", str(out)])
    assert code == 0
    level = json.loads(out.read_text())["levels"][0]
    assert level["errors"] == [], level["errors"]
    records = level["records"]
    assert PATH_PAGES <= {r["page"] for r in records}, {r["page"] for r in records}
    views = [r for r in records if r["action"] == "view"]
    assert all(r["bytes"] > 0 and r["messages"] > 1 for r in views)  # the page's elements came before the finish
    # each student signed in as themselves (the minted _streamlit_user cookie), never as the other
    names = level["signed_in"]
    assert all(n.startswith("Signed in as") for n in names), names
    assert len(set(names)) == 2 and "student0" in names[0] and "student1" in names[1], names
    assert set(level["launched"]) <= {"live", "cached"}, level["launched"]  # Launch opened Live run (or the cache)
    assert level["jobs"]["completed"] >= 1, level["jobs"]
    clicks = [r for r in records if r["action"] == "click"]
    assert len(clicks) == 6 or level["skipped"], (len(clicks), level["skipped"])
    assert any(r["action"] == "auto-rerun" for r in records)  # the Live run fragment's timer was followed
