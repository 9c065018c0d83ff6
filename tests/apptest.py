"""What the AppTest modules share: the app opened at a page as `streamlit run app.py` serves it, and checks."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120


def stop_backend() -> None:
    """Stop the test's worker processes (the autouse conftest fixture gave it its own checkpoint folder)."""
    from engine.jobs import get_backend

    be = get_backend()
    if hasattr(be, "shutdown"):
        be.shutdown()


def page_file(key: str) -> str:
    """The script of page `key` (ui.nav), relative to the repository, as AppTest.switch_page takes it."""
    from ui.nav import PATHS

    return str(PATHS[key].relative_to(ROOT))


def app(path: str) -> AppTest:
    """The app as `streamlit run app.py` serves it (its navigation), opened at page `path`.

    A first run registers st.navigation's pages: AppTest finds a page by file only after it (the URL paths
    differ from the file names)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    return at if path == "app.py" else at.run().switch_page(path)


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def elements(at: AppTest, kind: str) -> list:
    """Elements of one proto type anywhere in the tree (e.g. 'imgs', 'vega_lite_chart')."""
    out = []

    def walk(node):
        if getattr(node, "type", None) == kind:
            out.append(node)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out
