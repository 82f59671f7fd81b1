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

def pytest_collection_modifyitems(items):
    "The `heavy` tests first: with pytest-xdist (`.ci/run`) a long test started last would keep one worker busy alone."
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)   # stable: otherwise the collection order

DOCS_SMOKE = ROOT / "_docs_smoke"

@pytest.fixture(scope="session")
def docs_site(request, tmp_path_factory):
    """The docs smoke build, rendered once per test run into `_docs_smoke/` (git-ignored, kept to look at) with a
    local MathJax so that maths typesets offline: `.out` the pages, `.cache` the processed notebooks they were
    made from, `.report` {page: problems} as `docs_smoke.render` returns it. Under pytest-xdist the first worker
    to ask builds it, under a lock, and the others read what it recorded."""
    import json, shutil, types
    from filelock import FileLock
    import docs_smoke
    def build():
        shutil.rmtree(DOCS_SMOKE, ignore_errors=True)  # no page left over from an earlier build
        cache = Path(docs_smoke.process_notebooks())
        return {"cache": str(cache), "report": docs_smoke.render_pages(cache, DOCS_SMOKE, mathjax_url="local")}
    if not hasattr(request.config, "workerinput"): site = build()          # one process: nothing to share
    else:
        run_dir = tmp_path_factory.getbasetemp().parent                      # this run's, shared by its workers
        record = run_dir / "docs_site.json"
        with FileLock(run_dir / "docs_site.lock"):
            if not record.is_file(): record.write_text(json.dumps(build()))
            site = json.loads(record.read_text())
    return types.SimpleNamespace(root=ROOT, out=DOCS_SMOKE, cache=Path(site["cache"]), report=site["report"])
