import sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "tools"))

@pytest.fixture(scope="session")
def shared_data() -> Path:
    "The public benchmark files beside the project (`../shared/data`)."
    if not SHARED_DATA.exists(): pytest.fail(f"{SHARED_DATA} is missing: the shared benchmark files sit beside the repo")
    return SHARED_DATA

DOCS_SMOKE = ROOT / "_docs_smoke"

@pytest.fixture(scope="session")
def docs_site():
    """The docs smoke build, rendered once per session into `_docs_smoke/` (git-ignored, kept to look at) with a
    local MathJax so that maths typesets offline: `.out` the pages, `.cache` the processed notebooks they were
    made from, `.report` {page: problems} as `docs_smoke.render` returns it."""
    import shutil, types
    import docs_smoke
    shutil.rmtree(DOCS_SMOKE, ignore_errors=True)  # no page left over from an earlier build
    cache = Path(docs_smoke.process_notebooks())
    report = docs_smoke.render_pages(cache, DOCS_SMOKE, mathjax_url="local")
    return types.SimpleNamespace(root=ROOT, out=DOCS_SMOKE, cache=cache, report=report)
