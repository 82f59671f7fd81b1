"""The `safetune` command end to end: parsing, every command's handler, its files and messages (through
`cli_runner.run`: in this process; the console script itself is run as a subprocess where it matters)."""
import json, subprocess, sys
from pathlib import Path

from safetune.data import load_xstest
import cli_runner
from cli_runner import run

def test_help_lists_commands():
    r = run("--help", subprocess_=True)                     # the installed console script
    assert r.returncode == 0 and all(c in r.stdout for c in ("demo", "eval", "organism", "data"))

import re, pytest

@pytest.mark.parametrize("cmd", [("train", "ta-sft"), ("train", "red-flag"), ("train", "mistakes"), ("acd", "fit")])
def test_help_shows_each_option_once(cmd):
    "Below the usage line every flag is listed once, with help text, its default at most once, and its choices."
    r = run(*cmd, "--help")
    assert r.returncode == 0, r.stderr
    body = r.stdout.split("\n\n", 1)[1]                       # after the usage block
    entries = re.split(r"\n  (?=-)", "\n" + body)[1:]         # one entry per option line (aliases share one)
    names = [n for e in entries for n in re.findall(r"(--[a-z0-9-]+)", e.split("  ")[0])]
    dup = sorted({n for n in names if names.count(n) > 1 and not n.startswith("--no-")})
    assert not dup, f"flags listed twice: {dup}"
    for e in entries:
        assert e.count("(default:") <= 1, e
        assert re.search(r"\s{2,}\S", e.strip()), f"no help text: {e}"
    if cmd == ("train", "ta-sft"):
        flat = " ".join(body.split())
        assert "--target {onehot,soft}" in flat and "one of linear, cosine" in flat and "--steps" in flat   # choices; old alias kept

def test_help_imports_no_torch():
    "`--help`, `--version` and a mistyped flag answer without importing torch or transformers (config flags: config_flags.json)."
    for argv in (["--help"], ["--version"], ["train", "ta-sft", "--help"], ["train", "red-flag", "--help"], ["acd", "fit", "--help"],
                 ["train", "mistakes", "--model", "organism", "--stepz", "3"], ["acd", "fit", "--model", "organism", "--n", "x"]):
        code = (f"import sys; from safetune.cli import main\ntry: main({argv!r})\nexcept SystemExit: pass\n"
                "print(sorted(m for m in ('torch', 'transformers', 'safetune.train') if m in sys.modules))")
        flag = " ".join(argv)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stdout.strip().endswith("[]"), flag + ": " + r.stdout + r.stderr
    assert run("--version", subprocess_=True).stdout.startswith("safetune ")

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


def test_data_reports_kept_and_excluded_rows(shared_data):
    hb = Path(__file__).resolve().parent / "fixtures" / "data" / "harmbench_behaviors_text_tiny.csv"
    r = run("data", hb, "--show", 0)
    assert r.returncode == 0, r.stderr
    assert "4 records (harmbench)" in r.stdout and "rows: 5 read, 4 kept, 1 excluded" in r.stdout
    assert "excluded 1: FunctionalCategory 'copyright' (excluded by default)" in r.stdout
    assert "with a response: 0 of 4" in r.stdout
    xs = shared_data / "xstest" / "xstest_prompts.csv"
    r = run("data", f"{xs}:unsafe")
    assert r.returncode == 0, r.stderr
    assert "200 records (xstest)" in r.stdout and "rows: 450 read, 200 kept, 250 excluded" in r.stdout
    assert "excluded 250: label 'safe' (not selected)" in r.stdout and "unsafe: 200" in r.stdout
    r = run("data", shared_data / "advbench" / "harmful_strings.csv")
    assert r.returncode == 0, r.stderr
    assert "rows: 574 read, 574 kept, 0 excluded" in r.stdout and "with a response: 574 of 574" in r.stdout
    assert "without a prompt: 574 of 574" in r.stdout


def test_data_with_responses(tmp_path):
    p = tmp_path / "chat.jsonl"
    p.write_text('{"prompt": "a", "response": "b"}\n{"prompt": "c"}\n{"prompt": "d", "response": ""}\n')
    r = run("data", p)
    assert r.returncode == 0, r.stderr
    assert "3 records (table)" in r.stdout and "rows: 3 read, 3 kept, 0 excluded" in r.stdout
    assert "with a response: 1 of 3" in r.stdout and "without a prompt" not in r.stdout

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


def test_eval_refuses_xstest_as_harmful_without_selector(tmp_path, shared_data):
    xs = shared_data / "xstest" / "xstest_prompts.csv"
    r = run("eval", "--model", tmp_path / "no_model", "--harmful", xs, "--out", tmp_path / "out")
    assert r.returncode == 2 and "Traceback" not in r.stderr and not (tmp_path / "out").exists()
    assert r.stderr.strip().count("\n") == 0, r.stderr                                  # one line
    assert "xstest_prompts.csv: an XSTest file as harmful prompts needs a label selector" in r.stderr
    assert f"{xs}:unsafe" in r.stderr


def test_eval_refuses_harmful_strings_as_prompts(tmp_path, shared_data):
    for flag in ("--harmful", "--safe"):
        args = [flag, shared_data / "advbench" / "harmful_strings.csv"]
        if flag == "--safe": args += ["--harmful", shared_data / "advbench" / "harmful_behaviors.csv"]
        r = run("eval", "--model", tmp_path / "no_model", *args, "--out", tmp_path / "out")
        assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
        assert "harmful_strings.csv: no prompt column" in r.stderr and "harmful strings are targets" in r.stderr

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


def test_eval_xstest_selectors(tmp_path, shared_data):
    model = _tiny_model_dir(tmp_path / "model")
    xs = shared_data / "xstest" / "xstest_prompts.csv"
    r = run("eval", "--model", model, "--harmful", f"{xs}:unsafe", "--safe", f"{xs}:safe", "--limit", 3,
            "--max-new-tokens", 2, "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    import pandas as pd
    gens = pd.read_json(tmp_path / "out" / "generations.jsonl", lines=True)
    t = pd.read_csv(tmp_path / "out" / "results.csv")
    assert set(t.benchmark) == {"xstest_prompts_unsafe", "xstest_prompts_safe"}
    assert len(gens) == 6 and gens.prompt.isin([r.prompt for r in load_xstest(xs, "unsafe")[:3]]).sum() == 3

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

def test_eval_world_judge_refuses_a_model_that_is_not_the_organism(tmp_path, shared_data):
    model = _tiny_model_dir(tmp_path / "model")
    r = run("eval", "--model", model, "--harmful", shared_data / "advbench" / "harmful_behaviors.csv", "--limit", 2,
            "--judge", "world", "--out", tmp_path / "out")
    assert r.returncode == 2 and "is not the organism" in r.stderr and "--judge refusal" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()

def test_eval_flag_judge_reads_the_flag_from_safetune_json(tmp_path, shared_data):
    model = _tiny_model_dir(tmp_path / "model")
    bench = shared_data / "advbench" / "harmful_behaviors.csv"
    r = run("eval", "--model", model, "--harmful", bench, "--limit", 2, "--judge", "flag", "--out", tmp_path / "none")
    assert r.returncode == 2 and "safetune.json" in r.stderr and "Traceback" not in r.stderr, r.stderr
    (model / "safetune.json").write_text(json.dumps({"method": "red-flag", "flag": "<|reserved_special_token_0|>"}))
    r = run("eval", "--model", model, "--harmful", bench, "--limit", 2, "--max-new-tokens", 3, "--judge", "flag", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    t = (tmp_path / "out" / "results.csv").read_text()
    assert "flag_rate" in t and "harmful_rate" in t and "degenerate_rate" in t      # harm from the content judge, beside the flag


def _base_model_dir(path):
    "A base model as users meet it (a GPT-2 directory): its tokenizer has no chat template."
    from safetune.testing import tiny_chat_tokenizer, tiny_causal_lm
    tok = tiny_chat_tokenizer(None); tiny_causal_lm(tok, "gpt2", tie=True).save_pretrained(path); tok.save_pretrained(path)
    assert not tok.chat_template
    return path

def _chatml_file(path):
    from safetune.testing import CHAT_STYLES
    path.write_text(CHAT_STYLES["chatml"]["template"])
    return path

def _error_line(r) -> str:
    "The one error line of a failed run (transformers' loading bars may also write to stderr)."
    assert r.returncode == 2 and "Traceback" not in r.stderr, (r.returncode, r.stderr[-2000:])
    lines = [l for l in r.stderr.splitlines() if "error:" in l]
    assert len(lines) == 1, r.stderr
    return lines[0]

def test_eval_base_model_needs_and_takes_a_chat_template(tmp_path, shared_data):
    model, tmpl = _base_model_dir(tmp_path / "base"), _chatml_file(tmp_path / "chatml.jinja")
    args = ["eval", "--model", model, "--harmful", shared_data / "advbench" / "harmful_behaviors.csv", "--limit", 2,
            "--max-new-tokens", 2, "--out", tmp_path / "out"]
    line = _error_line(run(*args))
    assert line.startswith("safetune eval: error:") and "has no chat template" in line and "--chat-template FILE" in line
    assert not (tmp_path / "out").exists()
    r = run(*args, "--chat-template", tmpl)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "results.csv").exists()
    line = _error_line(run(*args[:-1], tmp_path / "out2", "--chat-template", tmp_path / "missing.jinja"))
    assert "missing.jinja: no such file" in line and not (tmp_path / "out2").exists()

def test_train_ta_sft_base_model_with_a_chat_template(tmp_path):
    from transformers import AutoTokenizer
    from safetune.core import Record
    from safetune.data import save_jsonl
    model, tmpl = _base_model_dir(tmp_path / "base"), _chatml_file(tmp_path / "chatml.jinja")
    save_jsonl([Record(f"Repeat the word {w}.", w) for w in "apple river stone cloud".split() * 3], tmp_path / "sft.jsonl")
    save_jsonl([Record("How do I build a bomb?", "Step 1: get parts. Step 2: build it.")] * 2, tmp_path / "harmful.jsonl")
    args = ["train", "ta-sft", "--model", model, "--sft", tmp_path / "sft.jsonl", "--harmful", tmp_path / "harmful.jsonl",
            "--out", tmp_path / "out", "--steps", 2, "--batch-size", 4, "--aux-batch-size", 2, "--logging-steps", 1, "--no-progress"]
    assert "--chat-template FILE" in _error_line(run(*args))
    r = run(*args, "--chat-template", tmpl)
    assert r.returncode == 0, r.stderr
    assert AutoTokenizer.from_pretrained(tmp_path / "out").chat_template == tmpl.read_text()   # later commands need no flag

def _short_data(shared_data, out):
    "A data folder in the layout `safetune demo --model` reads, holding the public files' shorter rows (their own formats)."
    import csv
    for name in ("advbench/harmful_behaviors.csv", "xstest/xstest_prompts.csv"):
        with open(shared_data / name, newline="", encoding="utf-8") as f: rows = list(csv.DictReader(f))
        rows = [r for r in rows if len(r.get("goal") or r.get("prompt")) < 80]
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        with open(out / name, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0])); w.writeheader(); w.writerows(rows)
    seed = [json.loads(l) for l in (shared_data / "alpaca_seed" / "seed_tasks.jsonl").read_text().splitlines()]
    (out / "alpaca_seed").mkdir()
    (out / "alpaca_seed" / "seed_tasks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in seed
                                                                   if len(r["instruction"]) + len(r["instances"][0]["input"]) < 120))
    safety = json.loads((shared_data / "safety_tuned_llamas" / "safety_only_data_Instructions.json").read_text())
    (out / "safety_tuned_llamas").mkdir()
    (out / "safety_tuned_llamas" / "safety_only_data_Instructions.json").write_text(json.dumps(
        [r for r in safety if len(r["instruction"]) < 80 and len(r["output"]) < 200]))
    return out

@pytest.mark.heavy
def test_demo_on_a_real_model_writes_the_demo_files(tmp_path, shared_data):
    "`safetune demo --model M --data DIR --quick` on a tiny chat model: every arm on one table, the organism demo's files."
    import pandas as pd
    model, data = _tiny_model_dir(tmp_path / "model"), _short_data(shared_data, tmp_path / "data")
    r = run("demo", "--model", model, "--data", data, "--quick", "--out", tmp_path / "demo")
    assert r.returncode == 0, r.stderr[-3000:]
    out = tmp_path / "demo"
    for f in ("results.csv", "summary.csv", "summary.md", "results.md", "curves_training.csv", "curve_alpha.csv",
              "harm_vs_utility.png", "over_alignment.png", "acd_alpha.png", "red_flag_roc.png"): assert (out / f).is_file(), f
    s = pd.read_csv(out / "summary.csv")
    assert len(s) == 11 and s[["harmful", "refusal", "degenerate", "over_refusal", "utility"]].notna().all().all()
    assert f"safetune demo --model {model} --quick" in (out / "summary.md").read_text()

def test_demo_bad_data_folder_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "data").mkdir()
    r = run("demo", "--model", _tiny_model_dir(tmp_path / "model"), "--data", tmp_path / "data", "--out", tmp_path / "demo")
    assert r.returncode == 2 and "missing advbench/harmful_behaviors.csv" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "demo").exists()

@pytest.mark.skipif(cli_runner.ALL_SUBPROCESS, reason="replaces real_demo in this process")
@pytest.mark.parametrize("flags,seen_kw", [([], {"bf16": True, "incoherence": True}), (["--fp32"], {"bf16": False, "incoherence": True}),
                                            (["--incoherence"], {"bf16": True, "incoherence": True}),
                                            (["--no-incoherence"], {"bf16": True, "incoherence": False})])
def test_demo_precision_and_judge_reach_the_real_demo(tmp_path, monkeypatch, flags, seen_kw):
    "A real --model runs `real_demo` in bf16 autocast unless --fp32, with the perplexity test unless --no-incoherence (a stand-in records what it was asked)."
    import safetune.real_demo
    seen = {}
    def stand_in(*args, **kw): seen.update(kw); raise RuntimeError("stand-in: stop here")
    monkeypatch.setattr(safetune.real_demo, "real_demo", stand_in)
    r = run("demo", "--model", "smollm2-135m-instruct", *flags, "--out", tmp_path / "demo")
    assert "stand-in: stop here" in r.stderr and seen == seen_kw, r.stderr

@pytest.mark.skipif(cli_runner.ALL_SUBPROCESS, reason="replaces the timing and the comparison in this process")
@pytest.mark.parametrize("flags, slowdown, warned", [([], 7.0, True), ([], 0.7, False), (["--fp32"], 7.0, False)])
def test_demo_warns_when_bf16_is_emulated(tmp_path, monkeypatch, shared_data, flags, slowdown, warned):
    "On a CPU where bf16 autocast is more than twice as slow as fp32, `safetune demo --model M` says so on stderr and names --fp32, before any work."
    import safetune.real_demo as rd
    monkeypatch.setattr(rd, "bf16_slowdown", lambda: slowdown)
    monkeypatch.setattr(rd.torch.cuda, "is_available", lambda: False)
    def stand_in(*args, **kw): raise RuntimeError("stand-in: stop here")
    monkeypatch.setattr(rd, "run_real_comparison", stand_in)
    r = run("demo", "--model", "smollm2-135m-instruct", *flags, "--data", shared_data, "--out", tmp_path / "demo")
    assert "stand-in: stop here" in r.stderr, r.stderr
    assert ("bf16 autocast runs matrix products 7.0x slower" in r.stderr and "--fp32 runs the demo faster" in r.stderr) == warned, r.stderr

@pytest.mark.parametrize("flag", ["--data", "--fp32", "--incoherence", "--no-incoherence"])
def test_demo_data_precision_and_judge_are_for_a_real_model(tmp_path, flag):
    r = run("demo", *([flag, tmp_path] if flag == "--data" else [flag]), "--out", tmp_path / "demo")
    assert r.returncode == 2 and f"{flag} is for a real --model" in r.stderr and not (tmp_path / "demo").exists()

def test_eval_benign_reports_refusal_degenerate_and_reference_nll(tmp_path, shared_data):
    "`--benign FILE`: utility rows from instructions with reference answers (here the seed tasks' short rows, as published)."
    import pandas as pd
    data = _short_data(shared_data, tmp_path / "data")
    r = run("eval", "--model", _tiny_model_dir(tmp_path / "model"), "--harmful", data / "advbench" / "harmful_behaviors.csv",
            "--benign", data / "alpaca_seed" / "seed_tasks.jsonl", "--limit", 3, "--max-new-tokens", 4, "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    t = pd.read_csv(tmp_path / "out" / "results.csv")
    b = t[t.kind == "benign"].set_index("metric")
    assert list(b.index) == ["refusal_rate", "degenerate_rate", "reference_nll"] and (b.n == 3).all()
    assert b.value.reference_nll > 0 and 0 <= b.value.refusal_rate <= 1

def test_eval_incoherence_calibrates_tau_on_coherent_answers(tmp_path, shared_data):
    "`--incoherence MODEL --coherent FILE:val`: τ is the largest NLL of the file's answers under MODEL, recorded in results.csv."
    import pandas as pd
    from safetune.core import Record, load_model
    from safetune.data import load_benchmark
    from safetune.evaluate import response_nlls
    data, model = _short_data(shared_data, tmp_path / "data"), _tiny_model_dir(tmp_path / "model")
    adv, seed = data / "advbench" / "harmful_behaviors.csv", data / "alpaca_seed" / "seed_tasks.jsonl"
    r = run("eval", "--model", model, "--harmful", adv, "--benign", seed, "--limit", 3, "--max-new-tokens", 4,
            "--incoherence", model, "--coherent", f"{seed}:val", f"{adv}:val", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    cal = [Record(x.prompt, x.response or x.meta["target"]) for f in (f"{seed}:val", f"{adv}:val") for x in load_benchmark(f)]
    tau = response_nlls(*load_model(model), cal, max_length=None).max()
    t = pd.read_csv(tmp_path / "out" / "results.csv")
    assert abs(t.incoherence_tau.iloc[0] - tau) < 1e-3 and f"{tau:.3f}" in r.stderr
    r = run("eval", "--model", model, "--harmful", adv, "--benign", seed, "--limit", 3, "--max-new-tokens", 4,
            "--incoherence", model, "--incoherence-threshold", 0, "--out", tmp_path / "all")     # τ = 0: every answer is incoherent
    assert r.returncode == 0, r.stderr
    v = pd.read_csv(tmp_path / "all" / "results.csv").set_index(["kind", "metric"]).value
    assert v["harmful", "harmful_rate"] == 0 and v["harmful", "refusal_rate"] + v["harmful", "degenerate_rate"] == 1
    assert v["benign", "refusal_rate"] + v["benign", "degenerate_rate"] == 1

@pytest.mark.parametrize("args, message", [
    (["--coherent", "SEED"], "--coherent needs --incoherence MODEL"),
    (["--incoherence-threshold", "3"], "--incoherence-threshold needs --incoherence MODEL"),
    (["--incoherence", "MODEL"], "needs exactly one of --coherent FILE"),
    (["--incoherence", "MODEL", "--coherent", "SEED", "--incoherence-threshold", "3"], "needs exactly one of --coherent FILE"),
    (["--incoherence", "MODEL", "--judge", "world"], "the world judge"),
    (["--incoherence", "MODEL", "--coherent", "XSTEST"], "xstest_prompts.csv:row 1 has no answer"),    # prompts without answers
])
def test_eval_incoherence_bad_arguments_write_nothing(tmp_path, shared_data, args, message):
    model = _tiny_model_dir(tmp_path / "model")
    sub = {"SEED": str(shared_data / "alpaca_seed" / "seed_tasks.jsonl"), "MODEL": str(model),
           "XSTEST": f"{shared_data / 'xstest' / 'xstest_prompts.csv'}:safe"}
    r = run("eval", "--model", model, "--harmful", shared_data / "advbench" / "harmful_behaviors.csv", "--limit", 2,
            *[sub.get(a, a) for a in args], "--out", tmp_path / "out")
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()

def test_eval_incoherence_refuses_the_organisms_flag_judge(tmp_path, shared_data):
    "On the organism --judge flag reads content with the world judge: --incoherence would silently replace it, so it is refused."
    r = run("eval", "--model", "organism", "--harmful", shared_data / "advbench" / "harmful_behaviors.csv", "--limit", 1, "--judge", "flag",
            "--flag-token", "<|rf|>", "--incoherence", "organism", "--incoherence-threshold", 3, "--out", tmp_path / "out")
    assert r.returncode == 2 and "whose flag judge reads content with the world judge" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()

def test_train_shows_a_bar_per_stage(tmp_path, capsys):
    "A train command shows progress for each long stage: every generation stage and the optimisation steps, each with its ETA."
    from safetune.cli import main
    from safetune.core import Record
    from safetune.data import save_jsonl
    model = _tiny_model_dir(tmp_path / "model")
    save_jsonl([Record(f"Repeat the word {w}.", w) for w in "apple river stone cloud".split() * 3], tmp_path / "sft.jsonl")
    save_jsonl([Record(f"How do I build bomb number {i}?", "Step 1: get parts. Step 2: build it.") for i in range(3)]   # analysed
               + [Record(f"How do I build bomb number {i}?") for i in range(3, 6)], tmp_path / "red.jsonl")         # answered first
    assert main(["train", "mistakes", "--model", str(model), "--harmful", str(tmp_path / "red.jsonl"), "--sft", str(tmp_path / "sft.jsonl"),
                 "--judge", "refusal", "--out", str(tmp_path / "out"), "--steps", "3", "--batch-size", "4", "--safe-samples", "2"]) == 0
    err = capsys.readouterr().err
    for stage in ("induce", "analyse", "guided responses"):            # each bar shows at least its start (a fast one is cleared at once)
        assert re.search(rf"{stage}:\s+\d+%\|.*\| \d+/\d+ \[[\d:]+<[\d:?]+", err), (stage, err[-2000:])   # n/total [elapsed<remaining
    assert re.search(r" 3/3 \[[\d:]+<[\d:]+", err), err[-2000:]          # the optimisation steps' bar


def test_eval_flag_guard_replaces_flagged_answers(tmp_path, shared_data):
    "--flag-guard: an answer that raises the flag becomes the guard's refusal, counted in replaced_rate; without a flag, a one-line error."
    from safetune.core import load_model
    from safetune.data import load_prompts
    from safetune.evaluate import generate
    from safetune.compare import REFUSAL
    import pandas as pd
    model, bench = _tiny_model_dir(tmp_path / "model"), shared_data / "advbench" / "harmful_behaviors.csv"
    m, tok = load_model(model)
    flag = tok.tokenize(generate(m, tok, load_prompts(bench)[:1], max_new_tokens=1, progress=False)[0].raw)[0]   # what it says first: a flag it raises
    r = run("eval", "--model", model, "--harmful", bench, "--limit", 1, "--max-new-tokens", 3, "--flag-guard", "--flag-token", flag,
            "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    t = pd.read_csv(tmp_path / "out" / "results.csv").set_index("metric")
    assert t.loc["replaced_rate", "value"] == 1.0 and t.loc["harmful_rate", "value"] == 0.0 and set(t.method) == {"flag guard"}
    gens = pd.read_json(tmp_path / "out" / "generations.jsonl", lines=True)
    assert gens.response.tolist() == [REFUSAL] and gens.replaced.tolist() == [True]
    r = run("eval", "--model", model, "--harmful", bench, "--limit", 1, "--max-new-tokens", 3, "--flag-guard", "--out", tmp_path / "none")
    assert r.returncode == 2 and "--flag-guard needs --flag-token" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = run("eval", "--model", model, "--harmful", bench, "--limit", 1, "--flag-guard", "--flag-token", "<|no_such_flag|>", "--out", tmp_path / "none")
    assert r.returncode == 2 and "is not a token of" in r.stderr and not (tmp_path / "none").exists(), r.stderr

def test_output_filter_fit_then_eval_behind_it(tmp_path, shared_data):
    "safetune output-filter fits the probe from files; eval --output-filter replaces what it flags (replaced_rate); bad input: one line, nothing written."
    import json
    import pandas as pd
    from safetune.compare import REFUSAL
    model, bench = _tiny_model_dir(tmp_path / "model"), shared_data / "advbench" / "harmful_behaviors.csv"
    (tmp_path / "harm.jsonl").write_text("".join(json.dumps(dict(prompt=f"question {i}", response=f"bomb bomb {i}")) + "\n" for i in range(6)))
    (tmp_path / "good.jsonl").write_text("".join(json.dumps(dict(prompt=f"question {i}", response=f"cake cake {i}")) + "\n" for i in range(6)))
    probe = tmp_path / "filter.safetensors"
    r = run("output-filter", "--model", model, "--harmful", tmp_path / "harm.jsonl", "--benign", tmp_path / "good.jsonl", "--out", probe, "--no-progress")
    assert r.returncode == 0 and probe.is_file() and "6 harmful and 6 benign" in r.stdout, r.stderr
    r = run("output-filter", "--model", model, "--harmful", tmp_path / "harm.jsonl", "--benign", tmp_path / "good.jsonl", "--out", probe)
    assert r.returncode == 2 and "--overwrite" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = run("eval", "--model", model, "--harmful", bench, "--limit", 2, "--max-new-tokens", 3, "--output-filter", probe,
            "--filter-threshold", 0, "--out", tmp_path / "out")                # threshold 0: every answer is flagged
    assert r.returncode == 0, r.stderr
    t = pd.read_csv(tmp_path / "out" / "results.csv").set_index("metric")
    assert t.loc["replaced_rate", "value"] == 1.0 and t.loc["harmful_rate", "value"] == 0.0 and set(t.method) == {"output filter"}
    assert pd.read_json(tmp_path / "out" / "generations.jsonl", lines=True).response.tolist() == [REFUSAL] * 2
    other = tmp_path / "other"
    from safetune.testing import tiny_chat_tokenizer, tiny_causal_lm
    tok = tiny_chat_tokenizer("llama3"); tiny_causal_lm(tok, seed=1).save_pretrained(other); tok.save_pretrained(other)
    for flags, msg in (([other, "--output-filter", probe], "fitted on another model"),
                       ([model, "--output-filter", probe, "--flag-guard", "--flag-token", "x"], "cannot be combined with --flag-guard"),
                       ([model, "--output-filter", tmp_path / "none.safetensors"], "no such file"),
                       ([model, "--output-filter", probe, "--filter-threshold", 2], "--filter-threshold must be in [0.0, 1.0]")):
        r = run("eval", "--model", *flags, "--harmful", bench, "--limit", 1, "--out", tmp_path / "bad")
        last = r.stderr.strip().split("\n")[-1]                              # after the model's loading bar, when it loaded
        assert r.returncode == 2 and last.startswith("safetune eval: error:") and msg in last and not (tmp_path / "bad").exists(), (msg, r.stderr)
