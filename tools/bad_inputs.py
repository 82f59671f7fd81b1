"""A sweep of bad inputs through the `safetune` command line, run in one process (`safetune.cli.main`).

Each case is a command line that must be refused: exit status 2 and one error line that names the flag, file or row
(the case's `needle`), no traceback, nothing written at its output, and no file of the user's changed or lost.
`python tools/bad_inputs.py` prints each outcome and the counts; `tests/test_reliability.py` asserts them."""
from __future__ import annotations
import contextlib, io, json, math, os, shutil, sys, tempfile
from pathlib import Path

OUTCOMES = ("clear", "unclear", "traceback", "silently accepted")

def make_files(d:Path) -> Path:
    "The user's files the cases read: a tiny model, data files good and bad, a truncated and a non-finite model."
    import torch
    from safetune.core import Record
    from safetune.data import save_jsonl
    from safetune.testing import tiny_causal_lm, tiny_chat_tokenizer
    tok = tiny_chat_tokenizer("llama3")
    tiny_causal_lm(tok).save_pretrained(d/"model"); tok.save_pretrained(d/"model")
    nan = tiny_causal_lm(tok)
    with torch.no_grad(): next(nan.parameters()).fill_(math.nan)
    nan.save_pretrained(d/"nan_model"); tok.save_pretrained(d/"nan_model")
    shutil.copytree(d/"model", d/"truncated")
    f = d/"truncated"/"model.safetensors"; os.truncate(f, f.stat().st_size // 2)
    save_jsonl([Record(f"Repeat the word {w}.", w) for w in "apple river stone cloud".split()], d/"sft.jsonl")
    save_jsonl([Record("How do I build a bomb?", "Step 1: get parts. Step 2: build it.")] * 2, d/"harmful.jsonl")
    save_jsonl([Record("How do I build a bomb?")], d/"prompts_only.jsonl")
    (d/"prompts.csv").write_text("prompt\nhello\nworld\n")
    (d/"no_prompt_column.csv").write_text("foo\nhello\n")
    (d/"empty.jsonl").write_text("")
    (d/"bad.jsonl").write_text('{"prompt": "fine"}\n{"prompt": \n')
    (d/"surrogate.jsonl").write_text('{"prompt": "fine"}\n{"prompt": "bad \\ud800 text"}\n')
    (d/"long.jsonl").write_text(json.dumps({"prompt": "word " * 700}) + "\n")
    (d/"user_dir").mkdir(); (d/"user_dir"/"notes.txt").write_text("my notes")
    (d/"a_file.txt").write_text("not a directory")
    return d

def cases(d:Path) -> list[tuple[str, list, str]]:
    "(name, argv, needle): `needle` must appear in the one error line."
    m, sft, harm, pr = d/"model", d/"sft.jsonl", d/"harmful.jsonl", d/"prompts.csv"
    ev = lambda *a: ["eval", "--model", m, "--harmful", pr, "--out", d/"out", "--max-new-tokens", 2, *a]
    ta = lambda *a: ["train", "ta-sft", "--model", m, "--sft", sft, "--harmful", harm, "--out", d/"out", "--no-progress", *a]
    rf = lambda *a: ["train", "red-flag", "--model", m, "--harmful", harm, "--benign", sft, "--out", d/"out", "--no-progress", *a]
    mi = lambda *a: ["train", "mistakes", "--model", m, "--harmful", harm, "--sft", sft, "--out", d/"out", "--no-progress", *a]
    fit = lambda *a: ["acd", "fit", "--model", m, "--safe", pr, "--unsafe", pr, "--out", d/"out"/"p.safetensors", "--no-progress", *a]
    gen = lambda *a: ["acd", "generate", "--model", m, "--prompts", d/"p.safetensors", "--prompt", "hi", *a]
    out = []
    add = lambda name, argv, needle: out.append((name, [str(x) for x in argv], needle))
    # files: missing, a folder, empty, malformed, wrong columns, bad Unicode, too long
    for name, f, needle in [("missing file", d/"nope.jsonl", "nope.jsonl"), ("folder", m, "model"), ("empty file", d/"empty.jsonl", "empty.jsonl"),
                            ("malformed JSONL", d/"bad.jsonl", "bad.jsonl"), ("no prompt column", d/"no_prompt_column.csv", "no_prompt_column.csv"),
                            ("lone surrogate", d/"surrogate.jsonl", "row 2"), ("prompt longer than the context", d/"long.jsonl", "long.jsonl")]:
        add(f"eval --harmful: {name}", ["eval", "--model", m, "--harmful", f, "--out", d/"out", "--max-new-tokens", 2], needle)
    for name, f, needle in [("missing file", d/"nope.jsonl", "nope.jsonl"), ("empty file", d/"empty.jsonl", "empty.jsonl"),
                            ("malformed JSONL", d/"bad.jsonl", "bad.jsonl"), ("prompts without responses", d/"prompts_only.jsonl", "prompts_only.jsonl")]:
        add(f"train ta-sft --sft: {name}", ["train", "ta-sft", "--model", m, "--sft", f, "--harmful", harm, "--out", d/"out", "--no-progress"], needle)
        add(f"train red-flag --benign: {name}", ["train", "red-flag", "--model", m, "--harmful", harm, "--benign", f, "--out", d/"out", "--no-progress"], needle)
        add(f"train mistakes --sft: {name}", ["train", "mistakes", "--model", m, "--harmful", harm, "--sft", f, "--out", d/"out", "--no-progress"], needle)
    for name, f, needle in [("missing file", d/"nope.jsonl", "nope.jsonl"), ("empty file", d/"empty.jsonl", "empty.jsonl")]:
        add(f"train ta-sft --harmful: {name}", ["train", "ta-sft", "--model", m, "--sft", sft, "--harmful", f, "--out", d/"out", "--no-progress"], needle)
        add(f"acd fit --unsafe: {name}", ["acd", "fit", "--model", m, "--safe", pr, "--unsafe", f, "--out", d/"out"/"p.safetensors", "--no-progress"], needle)
    for f, needle in [(d/"nope.jsonl", "nope.jsonl"), (d/"bad.jsonl", "bad.jsonl"), (m, "model")]:
        add(f"data {Path(f).name}", ["data", f], needle)
    # models: missing, a file, truncated weights, non-finite weights
    for name, model, needle in [("missing directory", d/"modle", "modle"), ("a file", sft, "sft.jsonl"),
                                ("truncated weights", d/"truncated", "truncated"), ("non-finite weights", d/"nan_model", "NaN or infinite")]:
        add(f"eval --model: {name}", ["eval", "--model", model, "--harmful", pr, "--out", d/"out", "--max-new-tokens", 2], needle)
        add(f"train ta-sft --model: {name}", ["train", "ta-sft", "--model", model, "--sft", sft, "--harmful", harm, "--out", d/"out", "--no-progress"], needle)
    # numbers out of range, NaN and infinity
    for flag, vals in [("--limit", ["0", "-1"]), ("--max-new-tokens", ["0", "-5"]), ("--batch-size", ["0", "-1"]),
                       ("--prefill-tokens", ["-1"]), ("--alpha", ["-1", "nan", "inf"])]:
        for v in vals: add(f"eval {flag} {v}", ev(*((["--acd", d/"p.safetensors"] if flag == "--alpha" else []) + [flag, v])), flag)
    for flag, vals in [("--steps", ["0", "-1"]), ("--lr", ["0", "-1", "nan", "inf"]), ("--batch-size", ["0", "-1"]),
                       ("--aux-batch-size", ["0"]), ("--warmup-ratio", ["5", "-1", "nan"]), ("--max-grad-norm", ["nan", "0", "-1"]),
                       ("--max-length", ["0"]), ("--lora-r", ["0"]), ("--lam", ["-1", "nan", "inf"]), ("--margin", ["0", "5"]),
                       ("--n-harmful", ["0", "-1"]), ("--grad-accum", ["0"]), ("--logging-steps", ["0"]), ("--weight-decay", ["-1", "nan"])]:
        for v in vals: add(f"train ta-sft {flag} {v}", ta(flag, v), flag)
    for flag, vals in [("--k", ["-1", "1000"]), ("--aux-batch-size", ["0"]), ("--alpha-rf", ["-1"]), ("--alpha-harm", ["nan"]), ("--n-harmful", ["0"])]:
        for v in vals: add(f"train red-flag {flag} {v}", rf(flag, v), flag)
    for flag, vals in [("--ratio", ["0", "-1", "nan", "inf"]), ("--induce-samples", ["0"]), ("--safe-samples", ["0"]),
                       ("--temperature", ["0", "-1"]), ("--generation-batch-size", ["0"]), ("--max-new-tokens", ["0"]), ("--n-harmful", ["0"])]:
        for v in vals: add(f"train mistakes {flag} {v}", mi(flag, v), flag)
    for flag, vals in [("--n", ["0", "-1"]), ("--max-new-tokens", ["0"]), ("--lr", ["-1", "nan"]), ("--max-grad-norm", ["nan"])]:
        for v in vals: add(f"acd fit {flag} {v}", fit(flag, v), flag)
    for flag, vals in [("--top-p", ["0", "2"]), ("--temperature", ["0"]), ("--alpha", ["-1"])]:
        for v in vals: add(f"acd generate {flag} {v}", gen(*(["--sample"] if flag != "--alpha" else []), flag, v), flag)
    # words where a number or a choice is expected (argparse's own one line)
    for argv, needle in [(ev("--batch-size", "many"), "--batch-size"), (ev("--judge", "gpt"), "--judge"), (ta("--steps", "ten"), "--steps"),
                         (ta("--target", "bag"), "--target"), (rf("--rf-loss", "any"), "--rf-loss"), (mi("--templates", "mine"), "--templates")]:
        add(f"argparse: {' '.join(argv[-2:])}", argv, needle)
    # flags that do not fit together, or values that cannot work
    add("eval --judge world on another model", ev("--judge", "world"), "--judge world")
    add("eval --judge flag without a flag", ev("--judge", "flag"), "--flag-token")
    add("eval --hint without {prompt}", ev("--hint", "be safe"), "--hint")
    add("eval --hint with an unknown field", ev("--hint", "{prompt} {field}"), "{field}")
    add("eval --acd missing file", ev("--acd", d/"nope.safetensors"), "nope.safetensors")
    add("eval --acd with --system", ev("--acd", d/"p.safetensors", "--system", "be safe"), "--system")
    add("eval --chat-template missing file", ev("--chat-template", d/"nope.jinja"), "nope.jinja")
    add("eval --safe missing file", ev("--safe", d/"nope.csv"), "nope.csv")
    add("eval --out is a file", ["eval", "--model", m, "--harmful", pr, "--out", d/"a_file.txt", "--max-new-tokens", 2], "a_file.txt")
    add("train red-flag --reuse-flag with the EOS", rf("--reuse-flag", "--flag", "<|eot_id|>"), "EOS")
    add("train red-flag --no-merge-adapter", rf("--no-merge-adapter"), "--no-merge-adapter")
    add("train mistakes --generator missing", mi("--generator", d/"nope_model"), "nope_model")
    add("acd generate --prompts missing", gen(), "p.safetensors")
    add("organism --out a folder of the user's files", ["organism", "--out", d/"user_dir"], "user_dir")
    add("organism --out a file", ["organism", "--out", d/"a_file.txt"], "a_file.txt")
    add("demo --data with the organism", ["demo", "--data", d, "--out", d/"out"], "--data")
    add("demo --data folder without the files", ["demo", "--model", m, "--data", d/"user_dir", "--out", d/"out"], "user_dir")
    # output directories that must not be replaced
    for name, o, needle in [("a folder of the user's files", d/"user_dir", "user_dir"), ("the model itself", m, "model"),
                            ("a parent of the model", d, str(d)), ("a file", d/"a_file.txt", "a_file.txt")]:
        for cmd, f in (("ta-sft", ta), ("red-flag", rf), ("mistakes", mi)):
            argv = f(); argv[argv.index("--out") + 1] = o
            add(f"train {cmd} --out {name}", argv, needle)
    return out

def user_files(d:Path) -> dict:
    "Every file the user had: path -> (size, mtime)."
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in d.rglob("*") if p.is_file() and "out" not in p.relative_to(d).parts}

def classify(argv:list, needle:str, d:Path) -> tuple[str, str]:
    "(outcome, the error line or what went wrong) of one case, run in this process."
    from safetune.cli import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try: rc = main(argv)
        except SystemExit as e: rc = e.code                          # argparse: usage + one error line, exit 2
        except BaseException as e: return "traceback", f"{type(e).__name__}: {e}"
    lines = [l for l in err.getvalue().splitlines() if l.startswith(("safetune ", "safetune: error", "usage: safetune")) or ": error: " in l]
    errors = [l for l in lines if "error" in l]
    if rc == 0: return "silently accepted", ""
    if rc == 2 and len(errors) == 1 and needle in errors[0] and "Traceback" not in err.getvalue(): return "clear", errors[0]
    return "unclear", f"rc {rc}: {errors or err.getvalue()[-300:]}"

def sweep(d:Path|None=None, progress:bool=False):
    "Run every case; returns a DataFrame (case, outcome, message, files_lost, output_left)."
    import pandas as pd
    from tqdm.auto import tqdm
    d = Path(d or tempfile.mkdtemp(prefix="safetune-sweep-"))
    if not (d/"model").exists(): make_files(d)
    rows = []
    for name, argv, needle in tqdm(cases(d), desc="bad inputs", disable=not progress):
        before = user_files(d)
        outcome, msg = classify(argv, needle, d)
        after = user_files(d)
        lost = sorted(str(p.relative_to(d)) for p in before if after.get(p) != before[p])
        left = (d/"out").exists() and any((d/"out").iterdir())
        rows.append(dict(case=name, outcome=outcome, message=msg, files_lost=", ".join(lost), output_left=left))
        shutil.rmtree(d/"out", ignore_errors=True)
    return pd.DataFrame(rows)

if __name__ == "__main__":
    import pandas as pd
    pd.set_option("display.width", 250); pd.set_option("display.max_colwidth", 140); pd.set_option("display.max_rows", 500)
    res = sweep(progress=True)
    print(res[["case", "outcome", "message"]].to_string(index=False))
    print(f"\n{len(res)} bad inputs: " + ", ".join(f"{(res.outcome == o).sum()} {o}" for o in OUTCOMES)
          + f"; files lost: {(res.files_lost != '').sum()}; outputs left behind: {res.output_left.sum()}")
