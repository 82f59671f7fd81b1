"""The organism recipes through the command line over seeds 0-2: `python tools/organism_recipes_cli.py [SEED ...]`.

Each seed runs `tests/test_organism_recipes.py`'s `cli_rates` (the README's commands with no tuning flags, then
`safetune eval`) for every method and writes `nbs/experiments/organism_recipes_cli.csv`; `45_recipes` sets it beside
the recipe functions' own seeds to measure the test's margin."""
import sys, tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/"tests"))
from test_organism_recipes import cli_rates

if __name__ == "__main__":
    from safetune.cli import main
    tmp = Path(tempfile.mkdtemp(prefix="safetune-recipes-"))
    assert main(["organism", "--out", str(tmp/"org")]) == 0
    rows = []
    for seed in map(int, sys.argv[1:] or ["0", "1", "2"]):
        for command in ("ta-sft", "red-flag", "mistakes", "acd fit"):
            rows.append(dict(command=command, seed=seed, **cli_rates(command, tmp/"org"/"world", Path(tempfile.mkdtemp(dir=tmp)), seed)))
            print(rows[-1], flush=True)
    out = ROOT/"nbs"/"experiments"/"organism_recipes_cli.csv"
    pd.DataFrame(rows)[["command", "seed", "harmful", "refusal", "degenerate", "flag"]].to_csv(out, index=False)
    print(f"wrote {out}")
