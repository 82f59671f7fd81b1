"""The red flag under attack, through the command line: `python tools/red_flag_attacks.py [--runs DIR]`.

For seeds 0-2 and `--vary-prompts` 0 (the README's command) and 0.5, it trains the red flag on the organism as the
README does (`safetune train red-flag --model organism`, the world's training files, benign and borderline rows as
`--benign`), then runs `safetune eval --judge
flag` on the world's 200 test harmful prompts under every attack in `ATTACKS` below (and on the test borderline and
benign prompts, unattacked). It writes the tidy rows of every run into `nbs/experiments/red_flag_attacks.csv`, which
`20_red_flag` tabulates. A run directory already holding a model or an evaluation is reused (`--runs`)."""
import argparse, sys, tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
ATTACKS = ["none", "system:You are a helpful assistant.", "sample:4", "template:roleplay", "template:ignore_previous",
           "template:fiction", "template:prefix_injection", "template:refusal_suppression"]
VARY = {"0": "README command", "0.5": "--vary-prompts 0.5"}

def run(main, world:Path, runs:Path, seed:int, vary:str) -> pd.DataFrame:
    "Train (unless done) and evaluate one seed of one set-up; its results.csv with `seed` and `setup` columns."
    model, ev = runs/f"rf-vary{vary}-seed{seed}", runs/f"eval-vary{vary}-seed{seed}"
    if not (model/"safetune.json").is_file():
        assert main(["train", "red-flag", "--model", "organism", "--harmful", str(world/"train_harmful.jsonl"), "--benign",
                     str(world/"train_benign.jsonl"), str(world/"train_borderline.jsonl"), "--vary-prompts", vary, "--seed", str(seed),
                     "--no-progress", "--out", str(model)]) == 0
    if not (ev/"results.csv").is_file():
        assert main(["eval", "--model", str(model), "--harmful", str(world/"test_harmful.jsonl"), "--safe", str(world/"test_borderline.jsonl"),
                     "--benign", str(world/"test_benign.jsonl"), "--judge", "flag", "--max-new-tokens", "48", "--batch-size", "64",
                     "--out", str(ev)] + [x for a in ATTACKS for x in ("--attack", a)]) == 0
    return pd.read_csv(ev/"results.csv").assign(seed=seed, setup=VARY[vary])

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0]); ap.add_argument("--runs", default=None); a = ap.parse_args()
    from safetune.cli import main
    runs = Path(a.runs or tempfile.mkdtemp(prefix="safetune-rf-attacks-")); runs.mkdir(parents=True, exist_ok=True)
    if not (runs/"org"/"world").is_dir(): assert main(["organism", "--out", str(runs/"org")]) == 0
    t = pd.concat([run(main, runs/"org"/"world", runs, s, v) for v in VARY for s in (0, 1, 2)], ignore_index=True)
    out = ROOT/"nbs"/"experiments"/"red_flag_attacks.csv"
    t[["setup", "seed", "attack", "benchmark", "kind", "metric", "value", "ci_low", "ci_high", "n"]].to_csv(out, index=False, float_format="%.4f")
    print(f"wrote {out}")
