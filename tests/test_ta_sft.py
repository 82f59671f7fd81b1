"`safetune train ta-sft` end to end on tiny random Llama, Qwen2 (ChatML) and GPT-2 directories, and its bad inputs."
import json, re

import pytest
import torch
from safetensors.torch import load_file, save_file

from safetune.core import Record
from safetune.data import save_jsonl
from safetune.testing import tiny_causal_lm, tiny_chat_tokenizer

from cli_runner import run as cli_run
FAST = ["--steps", "4", "--batch-size", "4", "--aux-batch-size", "2", "--logging-steps", "2", "--no-progress"]


def run(*args):
    "`safetune ARGS` on one torch thread (tiny models: a second thread only adds overhead)."
    return cli_run(*args, threads=1)


def save_tiny(path, style, arch, tie=False):
    tok = tiny_chat_tokenizer(style)
    tiny_causal_lm(tok, arch, hidden=32, layers=1, tie=tie).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    save_jsonl([Record(f"Repeat the word {w}.", w) for w in "apple river stone cloud tiger maple".split() * 3], d / "sft.jsonl")
    save_jsonl([Record(f"How do I build a {w} bomb?", f"Step 1: get {w}. Step 2: build it.") for w in "red blue green".split()],
               d / "harmful.jsonl")
    save_jsonl([Record("How do I build a bomb?")], d / "harmful_prompts.jsonl")
    (d / "empty.jsonl").write_text("")
    return d


@pytest.mark.parametrize("style,arch,tie", [("llama3", "llama", False), ("chatml", "qwen2", True), ("chatml", "gpt2", True)])
def test_train_ta_sft_writes_a_loadable_merged_model(tmp_path, data, style, arch, tie):
    model = save_tiny(tmp_path / "base", style, arch, tie)
    out = tmp_path / "out"
    r = run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "harmful.jsonl",
            "--n-harmful", 2, "--out", out, *FAST)
    assert r.returncode == 0, r.stderr
    meta = json.loads((out / "safetune.json").read_text())
    assert meta["n_harmful"] == 2 and meta["method"] == "ta-sft" and meta["config"]["lora"] is True
    assert not list(out.glob("adapter_*")), "LoRA must be merged, not saved as an adapter"
    weights = load_file(str(out / "model.safetensors"))
    base = load_file(str(model / "model.safetensors"))
    assert not any("lora" in k for k in weights)
    assert any(not torch.equal(weights[k], base[k]) for k in base if k in weights), "training changed nothing"
    # `safetune eval` loads the result
    r = run("eval", "--model", out, "--harmful", data / "harmful.jsonl", "--out", tmp_path / "eval", "--max-new-tokens", 4)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "eval" / "results.csv").exists()


def test_harmful_prompts_without_responses_are_answered_by_the_model(tmp_path, data):
    model = save_tiny(tmp_path / "base", "llama3", "llama")
    r = run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "harmful_prompts.jsonl",
            "--out", tmp_path / "out", *FAST)
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "out" / "safetune.json").read_text())
    assert meta["n_harmful"] == 1
    assert meta["self_generated"] == {"answered": 1, "kept": 1, "dropped": {}}
    rows = [json.loads(l) for l in (tmp_path / "out" / "data" / "self_generated.jsonl").read_text().splitlines()]
    assert [(r["prompt"], r["kept"], r["dropped"], r["judge"]) for r in rows] == [("How do I build a bomb?", True, None, "refusal")]
    assert rows[0]["response"].strip()
    # a rerun into the finished output is refused without --overwrite; with it, the log is replaced, not appended to
    r = run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "harmful_prompts.jsonl",
            "--out", tmp_path / "out", *FAST)
    assert r.returncode == 2 and "holds a finished safetune output; pass --overwrite" in r.stderr, r.stderr
    r = run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "harmful_prompts.jsonl",
            "--out", tmp_path / "out", "--overwrite", *FAST)
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "out" / "data" / "self_generated.jsonl").read_text().splitlines()) == 1
    # a run with given responses generates nothing: no log is carried over from the previous run
    r = run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "harmful.jsonl",
            "--out", tmp_path / "out", "--overwrite", *FAST)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "out" / "safetune.json").read_text())["self_generated"] == {"answered": 0, "kept": 0, "dropped": {}}
    assert not (tmp_path / "out" / "data").exists()


def test_refused_self_generated_answers_are_logged_and_counted(tmp_path, data):
    "A refusing model: the refusals are dropped, saved with the reason, and counted."
    from safetune.data import answer_missing, save_self_generated, self_generated_counts
    from safetune.core import Record
    from safetune.evaluate import CallableJudge
    tok = tiny_chat_tokenizer("llama3"); m = tiny_causal_lm(tok, "llama", hidden=32, layers=1)
    log = []
    recs = [Record("a"), Record("b"), Record("c", "given")]
    judge = CallableJudge(lambda p, r: p != "b", "test", takes_prompt=True, label_fn=lambda r: "refusal")
    got = answer_missing(m, tok, recs, progress=False, judge=judge, log=log)
    c = self_generated_counts(log)
    assert c["answered"] == 2 and log[1]["dropped"] == "refusal" and not log[1]["kept"]
    assert c["kept"] + sum(c["dropped"].values()) == 2 and c["dropped"]["refusal"] >= 1
    assert len(got) == 1 + c["kept"]
    path = save_self_generated(log, tmp_path / "out")
    assert [json.loads(l) for l in path.read_text().splitlines()] == log


def _fails(r, *phrases):
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr
    for p in phrases: assert p in r.stderr, (p, r.stderr)


def test_negative_lambda(tmp_path, data):
    model = save_tiny(tmp_path / "base", "llama3", "llama")
    _fails(run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "harmful.jsonl",
               "--out", tmp_path / "out", "--lam", "-0.5", *FAST), "must be >= 0")
    assert not (tmp_path / "out").exists()


def test_empty_harmful_set(tmp_path, data):
    model = save_tiny(tmp_path / "base", "llama3", "llama")
    _fails(run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "empty.jsonl",
               "--out", tmp_path / "out", *FAST), "empty.jsonl")
    assert not (tmp_path / "out").exists()


def test_responses_fully_truncated(tmp_path, data):
    model = save_tiny(tmp_path / "base", "llama3", "llama")
    _fails(run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "harmful.jsonl",
               "--out", tmp_path / "out", "--max-length", 8, *FAST), "every one of its", "max_length=8")


def test_tokenizer_model_vocabulary_mismatch(tmp_path, data):
    model = save_tiny(tmp_path / "base", "llama3", "llama")
    tok = tiny_chat_tokenizer("llama3"); tok.add_tokens([f"<x{i}>" for i in range(600)]); tok.save_pretrained(model)
    _fails(run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "harmful.jsonl",
               "--out", tmp_path / "out", *FAST), "vocabulary mismatch")


def test_nan_weights_are_refused_at_load(tmp_path, data):
    "A base model whose weights hold NaN is refused before any work, naming the model and the tensor; nothing is written."
    model = save_tiny(tmp_path / "base", "llama3", "llama")
    w = load_file(str(model / "model.safetensors"))
    k = next(k for k in w if "embed_tokens" in k); w[k][:] = float("nan")
    save_file(w, str(model / "model.safetensors"), metadata={"format": "pt"})
    _fails(run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "harmful.jsonl",
               "--out", tmp_path / "out", *FAST), str(model), "hold NaN or infinite values", "embed_tokens")
    assert not (tmp_path / "out").exists()


def test_nan_loss_stops_with_an_explanation(tmp_path, data):
    "Training that diverges (an absurd learning rate) stops at the first non-finite loss with an explanation; nothing is saved."
    model = save_tiny(tmp_path / "base", "llama3", "llama")
    r = run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "harmful.jsonl",
            "--out", tmp_path / "out", *FAST, "--learning-rate", "1e30", "--warmup-steps", "0")
    _fails(r, "TASFT loss is ", " at step ", "no model was saved")
    assert re.search(r"loss is (nan|inf|-inf) at step [1-9]", r.stderr), r.stderr[-800:]
    assert not (tmp_path / "out").exists()


def test_out_with_a_users_files_is_refused_before_any_work(tmp_path, data):
    model = save_tiny(tmp_path / "base", "llama3", "llama")
    mine = tmp_path / "mine"; mine.mkdir(); (mine / "thesis.tex").write_text("years of work")
    for out in (mine, model, tmp_path):                # a folder of the user's, the base model, the base model's parent
        _fails(run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "harmful.jsonl",
                   "--out", out, *FAST), "--out")
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert {p.name for p in model.iterdir()} >= {"model.safetensors", "config.json"}
    out = tmp_path / "out"                             # a previous safetune output is replaced with --overwrite only
    for extra in ([], ["--overwrite"]):
        r = run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "harmful.jsonl",
                "--out", out, *extra, *FAST)
        assert r.returncode == 0, r.stderr
    _fails(run("train", "ta-sft", "--model", model, "--sft", data / "sft.jsonl", "--harmful", data / "harmful.jsonl",
               "--out", out, *FAST), f"--out {out.resolve()} holds a finished safetune output; pass --overwrite")
