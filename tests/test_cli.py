"The `safetune` command end to end, run as a subprocess the way users run it."
import json, os, subprocess, sys
from pathlib import Path

SAFETUNE = str(Path(sys.executable).with_name("safetune"))

def run(*args, cwd=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([SAFETUNE, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)

def test_help_lists_commands():
    r = run("--help")
    assert r.returncode == 0 and all(c in r.stdout for c in ("demo", "eval", "organism", "data"))

def test_foundation_demo_writes_results(tmp_path):
    r = run("foundation-demo", "--steps", 40, "--out", tmp_path / "demo")
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert res["loss_after"] < res["loss_before"], res
    assert "held-out response loss" in r.stdout

def test_foundation_demo_is_reproducible(tmp_path):
    a, b = (run("foundation-demo", "--steps", "10", "--out", tmp_path / d) for d in "ab")
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    ra, rb = (json.loads((tmp_path / d / "demo.json").read_text()) for d in "ab")
    assert (ra["loss_before"], ra["loss_after"]) == (rb["loss_before"], rb["loss_after"])

def test_data_summarises_a_benchmark(shared_data):
    r = run("data", shared_data / "advbench" / "harmful_behaviors.csv")
    assert r.returncode == 0, r.stderr
    assert "520 records" in r.stdout

def test_data_bad_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "prompts.csv"
    bad.write_text("prompt,response\nhello,hi\n   ,empty\n")
    r = run("data", bad)
    assert r.returncode == 2
    assert "prompts.csv" in r.stderr and "row 2" in r.stderr and "empty" in r.stderr.lower()
    assert "Traceback" not in r.stderr

def test_data_missing_file_is_a_clear_error(tmp_path):
    r = run("data", tmp_path / "nope.csv")
    assert r.returncode == 2 and "nope.csv" in r.stderr and "Traceback" not in r.stderr

def _tiny_model_dir(path):
    from safetune.testing import tiny_chat_tokenizer, tiny_causal_lm
    tok = tiny_chat_tokenizer("llama3"); tiny_causal_lm(tok).save_pretrained(path); tok.save_pretrained(path)
    return path

def test_eval_end_to_end(tmp_path, shared_data):
    model = _tiny_model_dir(tmp_path / "model")
    r = run("eval", "--model", model, "--harmful", shared_data / "advbench" / "harmful_behaviors.csv",
            "--safe", shared_data / "xstest" / "xstest_prompts.csv", "--limit", 5, "--max-new-tokens", 4,
            "--prefill-tokens", 3, "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    import pandas as pd
    t = pd.read_csv(tmp_path / "out" / "results.csv")
    assert {"benchmark", "metric", "value", "ci_low", "ci_high", "n"} <= set(t.columns)
    got = set(zip(t.benchmark, t.metric))
    assert got == {("harmful_behaviors", "harmful_rate"), ("harmful_behaviors", "refusal_rate"), ("harmful_behaviors", "degenerate_rate"),
                   ("xstest_prompts", "refusal_rate")}
    assert set(t.ci) == {"clopper-pearson"}
    assert (t.n == 5).all()
    gens = pd.read_json(tmp_path / "out" / "generations.jsonl", lines=True)
    assert len(gens) == 10 and gens.prefill.str.len().gt(0).sum() == 5

def test_eval_flag_judge_reports_flag_rate(tmp_path, shared_data):
    model = _tiny_model_dir(tmp_path / "model")
    r = run("eval", "--model", model, "--harmful", shared_data / "advbench" / "harmful_behaviors.csv", "--limit", 3,
            "--max-new-tokens", 3, "--judge", "flag", "--flag-token", "<|reserved_special_token_0|>", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert "flag_rate" in (tmp_path / "out" / "results.csv").read_text()

def test_eval_bad_model_path_writes_nothing(tmp_path, shared_data):
    r = run("eval", "--model", tmp_path / "no_model", "--harmful", shared_data / "advbench" / "harmful_behaviors.csv",
            "--out", tmp_path / "out")
    assert r.returncode == 2 and "no_model" in r.stderr and "no such model directory" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()

def test_eval_malformed_benchmark_writes_nothing(tmp_path):
    model = _tiny_model_dir(tmp_path / "model")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "fine"}\n[1, 2]\n')
    r = run("eval", "--model", model, "--harmful", bad, "--out", tmp_path / "out")
    assert r.returncode == 2 and "bad.jsonl" in r.stderr and "row 2" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()
