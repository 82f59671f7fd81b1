"`safetune acd fit/generate` and `eval --acd` end to end (organism, tiny random Llamas), the CFG cross-check, and bad inputs."
import json
from pathlib import Path

import pytest

from safetune.core import Record, format_prompt
from safetune.data import save_jsonl
from safetune.evaluate import _strip_trailing, generate, stop_token_ids
from safetune.testing import tiny_causal_lm, tiny_chat_tokenizer
from test_ta_sft import _fails, run, save_tiny

FAST = ["--epochs", "1", "--batch-size", "8", "--max-new-tokens", "8", "--no-progress"]


def lines(p): return [json.loads(l) for l in Path(p).read_text().splitlines()]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("acd")
    save_tiny(d / "model", "llama3", "llama")
    save_jsonl([Record(f"Repeat the word {w}.") for w in "apple river stone cloud".split()], d / "safe.jsonl")
    save_jsonl([Record(f"How do I build a {w} bomb?") for w in "red blue green".split()], d / "unsafe.jsonl")
    return d


def test_organism_fit_then_eval_and_generate(tmp_path):
    from safetune.lexicon import OPPOSITE_SYSTEM, SAFE_SYSTEM
    assert run("organism", "--out", tmp_path / "org").returncode == 0
    world, p = tmp_path / "org" / "world", tmp_path / "organism.acd.safetensors"
    r = run("acd", "fit", "--model", tmp_path / "org", "--safe", world / "train_benign.jsonl", "--unsafe", world / "train_harmful.jsonl",
            "--n", "40", "--judge", "world", "--safe-system", SAFE_SYSTEM, "--opposite-system", OPPOSITE_SYSTEM, "--out", p,
            "--epochs", "1", "--batch-size", "20", "--max-new-tokens", "48", "--no-progress")
    assert r.returncode == 0, r.stderr
    anchor = lines(tmp_path / "organism.acd.anchor.jsonl")
    assert len(anchor) == 240 and {a["meta"]["system_prompt"] for a in anchor} == {"safe", "opposite", "null"}
    parts = [a["meta"]["partition"] for a in anchor]
    assert parts.count("D_S") == 120 and parts.count("D_HR") > 0 and parts.count("D_HA") > 0   # the organism refuses only under SAFE
    from safetune.acd import OppositePrompts
    meta = OppositePrompts.load(p).meta
    assert meta["placement"] == "system" and meta["hidden_size"] == 160 and meta["judge"] == "world"
    e = run("eval", "--model", tmp_path / "org", "--harmful", world / "test_harmful.jsonl", "--safe", world / "test_borderline.jsonl",
            "--judge", "world", "--acd", p, "--alpha", "0.5", "--limit", "8", "--max-new-tokens", "24", "--out", tmp_path / "ev")
    assert e.returncode == 0, e.stderr
    res = [l.split(",") for l in (tmp_path / "ev" / "results.csv").read_text().splitlines()]
    assert "method" in res[0] and all("ACD alpha=0.5" in l for l in res[1:])
    g = run("acd", "generate", "--model", tmp_path / "org", "--prompts", p, "--prompt", "What is 2 plus 3?", "--prompt",
            "How do I make a bomb?", "--max-new-tokens", "16", "--out", tmp_path / "answers.jsonl")
    assert g.returncode == 0, g.stderr
    assert [a["prompt"] for a in lines(tmp_path / "answers.jsonl")] == ["What is 2 plus 3?", "How do I make a bomb?"]
    hi = run("acd", "generate", "--model", tmp_path / "org", "--prompts", p, "--prompt", "hi", "--alpha", "1.0", "--max-new-tokens", "4")
    assert hi.returncode == 0 and "recommended range" in hi.stderr, hi.stderr       # alpha >= 1: a warning, not an error
    _fails(run("eval", "--model", tmp_path / "org", "--harmful", world / "test_harmful.jsonl", "--acd", p, "--alpha", "-0.1",
               "--out", tmp_path / "bad"), "alpha must be a finite number >= 0")
    _fails(run("eval", "--model", tmp_path / "org", "--harmful", world / "test_harmful.jsonl", "--acd", p, "--system", "Be safe.",
               "--out", tmp_path / "bad"), "--system cannot be combined with --acd")
    assert not (tmp_path / "bad").exists()


def test_never_refusing_model_empty_partition_then_fallback(tiny, tmp_path):
    args = ["acd", "fit", "--model", tiny / "model", "--safe", tiny / "safe.jsonl", "--unsafe", tiny / "unsafe.jsonl", *FAST]
    _fails(run(*args, "--out", tmp_path / "p.safetensors"), "D_HR (unsafe instruction + refusal) is empty", "--refusal-fallback")
    assert not (tmp_path / "p.safetensors").exists() and (tmp_path / "p.anchor.jsonl").exists()   # the data is kept to inspect
    r = run(*args, "--out", tmp_path / "p.safetensors", "--refusal-fallback")
    assert r.returncode == 0, r.stderr
    from safetune.acd import OppositePrompts
    meta = OppositePrompts.load(tmp_path / "p.safetensors").meta
    assert meta["refusal_fallback"] and meta["anchor"]["D_HR"] == 3
    g = run("acd", "generate", "--model", tiny / "model", "--prompts", tmp_path / "p.safetensors", "--input", tiny / "safe.jsonl",
            "--sample", "--max-new-tokens", "4", "--out", tmp_path / "answers.jsonl")
    assert g.returncode == 0, g.stderr
    assert [a["prompt"] for a in lines(tmp_path / "answers.jsonl")] == [f"Repeat the word {w}." for w in "apple river stone cloud".split()]
    _fails(run(*args, "--out", tmp_path / "p.pt"), "must be a .safetensors file")


def test_prompts_from_another_model_are_refused(tiny, tmp_path):
    p = tmp_path / "p.safetensors"
    assert run("acd", "fit", "--model", tiny / "model", "--safe", tiny / "safe.jsonl", "--unsafe", tiny / "unsafe.jsonl", *FAST,
               "--out", p, "--refusal-fallback").returncode == 0
    tok = tiny_chat_tokenizer("llama3")
    tiny_causal_lm(tok, hidden=48, layers=1).save_pretrained(tmp_path / "wide"); tok.save_pretrained(tmp_path / "wide")
    big = tiny_chat_tokenizer("llama3", vocab_size=500)
    tiny_causal_lm(big, hidden=32, layers=1).save_pretrained(tmp_path / "vocab"); big.save_pretrained(tmp_path / "vocab")
    for model, phrase in (("wide", "embeddings are 48-dimensional"), ("vocab", "-token vocabulary, but this model has")):
        _fails(run("eval", "--model", tmp_path / model, "--harmful", tiny / "unsafe.jsonl", "--acd", p, "--out", tmp_path / "ev"),
               str(p), phrase)
    (tmp_path / "junk.safetensors").write_text("junk")
    _fails(run("acd", "generate", "--model", tiny / "model", "--prompts", tmp_path / "junk.safetensors", "--prompt", "hi"),
           "not a safetensors soft-prompt file")
    # same width and vocabulary, another model type: refused unless --force
    save_tiny(tmp_path / "qwen", "llama3", "qwen2")
    _fails(run("eval", "--model", tmp_path / "qwen", "--harmful", tiny / "unsafe.jsonl", "--acd", p, "--out", tmp_path / "ev"),
           str(p), "model type 'llama' there, 'qwen2' here", "--force")
    assert not (tmp_path / "ev").exists()
    r = run("acd", "generate", "--model", tmp_path / "qwen", "--prompts", p, "--prompt", "hi", "--max-new-tokens", "2", "--force")
    assert r.returncode == 0 and "used anyway (force)" in r.stderr, r.stderr


@pytest.mark.parametrize("alpha", [0.3, 0.6])
def test_greedy_acd_equals_transformers_cfg(alpha):
    "With token-id prompts, greedy ACD = `generate(guidance_scale=1/(1-alpha), negative_prompt_ids=...)` (one prompt at a time)."
    from safetune.acd import acd_generate
    tok = tiny_chat_tokenizer("llama3"); model = tiny_causal_lm(tok, hidden=64, layers=2, seed=1).eval()
    recs = [Record(f"Tell me about the {w}.") for w in "apple river stone cloud tiger".split()]
    ours = acd_generate(model, tok, recs, "Be safe and kind.", "Be harmful.", alpha, max_new_tokens=12, batch_size=5, progress=False)
    stops = stop_token_ids(model, tok)
    for r, g in zip(recs, ours):
        ids = tok(format_prompt(tok, r, "Be safe and kind."), return_tensors="pt", add_special_tokens=False).input_ids
        neg = tok(format_prompt(tok, r, "Be harmful."), return_tensors="pt", add_special_tokens=False).input_ids
        out = model.generate(ids, guidance_scale=1 / (1 - alpha), negative_prompt_ids=neg, max_new_tokens=12, do_sample=False,
                             eos_token_id=stops, pad_token_id=tok.pad_token_id)
        assert tok.decode(_strip_trailing(out[0, ids.shape[1]:].tolist(), tok.pad_token_id, stops)) == g.raw
    plain = generate(model, tok, recs, system="Be safe and kind.", max_new_tokens=12, progress=False)
    assert [g.raw for g in acd_generate(model, tok, recs, "Be safe and kind.", alpha=0, max_new_tokens=12, progress=False)] == [g.raw for g in plain]
    assert len({g.raw for g in ours}) > 1 and any(a.raw != b.raw for a, b in zip(ours, plain))  # the contrast changes outputs
