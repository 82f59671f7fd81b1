"""The README's organism commands, with no tuning flags, reproduce the notebooks' recipes.

`safetune train ta-sft|red-flag|mistakes --model organism` and `safetune acd fit --model organism` (the recipe comes
with the name), each followed by `safetune eval` on the exported world's 200 test harmful prompts, must land within
the range that the recipe functions of `45_recipes` gave over seeds 0, 1 and 2 (`nbs/experiments/organism_recipes.csv`,
written there), widened by the margin that `safetune.recipes.CLI_RECIPE_MARGINS` gives each rate. The command line
reads the exported files and the functions draw from the world directly, so the two are two samples of one recipe; the
margins cover that, measured across seeds (45_recipes)."""
from pathlib import Path

import pandas as pd
import pytest

from safetune.recipes import CLI_RECIPE_MARGINS

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = pd.read_csv(ROOT/"nbs"/"experiments"/"organism_recipes.csv")
# The margins live beside the measurement that set them (45_recipes' `CLI_RECIPE_MARGINS`, checked there against the strays
# of tools/organism_recipes_cli.py's seeds 0-2); a rate without a margin is not asserted: TA-SFT's refusal and degenerate
# rates, because its recipe sits on a cliff and the command line's seed 0 collapsed (degenerate 0.99) where the other
# five runs did not. Which side one run lands on is not a test; the harmful rate, which held for all six runs, is.

pytestmark = pytest.mark.heavy   # scheduled first (conftest): one of the long ones

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from safetune.cli import main
    d = tmp_path_factory.mktemp("organism")
    assert main(["organism", "--out", str(d/"org")]) == 0
    return d/"org"/"world"

def commands(w:Path, out:Path) -> dict:
    "Each recipe as the README gives it: (the training command, the model `safetune eval` then scores, extra eval flags)."
    return {"ta-sft": (["train", "ta-sft", "--sft", w/"train_benign.jsonl", "--harmful", w/"train_harmful.jsonl"], out, []),
            "red-flag": (["train", "red-flag", "--harmful", w/"train_harmful.jsonl", "--benign", w/"train_benign.jsonl", w/"train_borderline.jsonl"],
                         out, ["--judge", "flag"]),
            "mistakes": (["train", "mistakes", "--harmful", w/"train_harmful.jsonl", "--sft", w/"train_benign.jsonl"], out, []),
            "acd fit": (["acd", "fit", "--safe", w/"train_benign.jsonl", w/"train_borderline.jsonl", "--unsafe", w/"train_harmful.jsonl"], "organism",
                        ["--acd", out/"prompts.acd.safetensors"])}

def cli_rates(command:str, w:Path, tmp:Path, seed:int=0) -> dict:
    "Train (or fit) through `safetune.cli.main`, evaluate on the test harmful prompts; the rates by metric name."
    from safetune.cli import main
    out = tmp/"model"
    train, model, extra = commands(w, out)[command]
    target = out/"prompts.acd.safetensors" if command == "acd fit" else out
    assert main([*map(str, train), "--model", "organism", "--seed", str(seed), "--out", str(target), "--no-progress"]) == 0
    assert main(["eval", "--model", str(model), "--harmful", str(w/"test_harmful.jsonl"), "--max-new-tokens", "48",
                 "--batch-size", "64", "--out", str(tmp/"eval"), *map(str, extra)] + ([] if "--judge" in extra else ["--judge", "world"])) == 0
    t = pd.read_csv(tmp/"eval"/"results.csv")
    return dict(zip(t.metric.str.removesuffix("_rate"), t.value))

@pytest.mark.parametrize("command", ["ta-sft", "red-flag", "mistakes", "acd fit"])
def test_cli_reproduces_recipe(command, world, tmp_path):
    got = cli_rates(command, world, tmp_path)
    ref = REFERENCE[REFERENCE.command == command]
    for m, margin in CLI_RECIPE_MARGINS[command].items():
        lo, hi = ref[m].min() - margin, ref[m].max() + margin
        assert lo <= got[m] <= hi, f"{command}: {m} {got[m]:.3f} outside the recipe's seeds 0-2 range {ref[m].min():.3f}-{ref[m].max():.3f} ± {margin}"
