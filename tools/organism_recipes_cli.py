"""The organism recipes through the command line over seeds 0-2: `python tools/organism_recipes_cli.py [SEED ...] [--only COMMAND ...]`.

Each seed runs `tests/test_organism_recipes.py`'s `cli_rates` (the README's commands with no tuning flags, then
`safetune eval`) for every method and writes `nbs/experiments/organism_recipes_cli.csv`; `45_recipes` sets it beside
the recipe functions' own seeds to measure the test's margin. With `--only`, only those commands run, and their rows
replace theirs in the CSV (the other commands' rows are kept: after a change to one recipe)."""
import sys, tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/"tests"))
from test_organism_recipes import cli_rates

if __name__ == "__main__":
    from safetune.cli import main
    args = sys.argv[1:]
    only = args[args.index("--only") + 1:] if "--only" in args else []
    seeds = [int(a) for a in (args[:args.index("--only")] if only else args)] or [0, 1, 2]
    commands = only or ["ta-sft", "red-flag", "mistakes", "acd fit"]
    tmp = Path(tempfile.mkdtemp(prefix="safetune-recipes-"))
    assert main(["organism", "--out", str(tmp/"org")]) == 0
    rows = []
    for seed in seeds:
        for command in commands:
            rows.append(dict(command=command, seed=seed, **cli_rates(command, tmp/"org"/"world", Path(tempfile.mkdtemp(dir=tmp)), seed)))
            print(rows[-1], flush=True)
    out = ROOT/"nbs"/"experiments"/"organism_recipes_cli.csv"
    new = pd.DataFrame(rows)
    if only: new = pd.concat([pd.read_csv(out).query("command not in @only"), new])
    new.reindex(columns=["command", "seed", "harmful", "refusal", "degenerate", "flag"]).to_csv(out, index=False)
    print(f"wrote {out}")
