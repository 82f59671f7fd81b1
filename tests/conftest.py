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
