"""Bad inputs through the `safetune` command: each is refused up front, in one line naming the flag, file or row,
with exit status 2 (130 for Ctrl-C), no traceback, and no output written."""
import json, os
from pathlib import Path

import pytest

from cli_runner import run

def refused(r, *needles, out=None):
    "Exit 2, one error line containing every needle, no traceback, nothing written at `out`."
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    lines = [l for l in r.stderr.splitlines() if l.startswith("safetune ")]
    assert len(lines) == 1, r.stderr[-2000:]
    assert all(n in lines[0] for n in needles), (needles, lines[0])
    if out is not None: assert not Path(out).exists() or not any(Path(out).iterdir()), list(Path(out).iterdir())
    return lines[0]

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from safetune.core import Record
    from safetune.data import save_jsonl
    from safetune.testing import tiny_causal_lm, tiny_chat_tokenizer
    d = tmp_path_factory.mktemp("rel")
    tok = tiny_chat_tokenizer("llama3"); tiny_causal_lm(tok).save_pretrained(d/"model"); tok.save_pretrained(d/"model")
    save_jsonl([Record(f"Repeat the word {w}.", w) for w in "apple river stone cloud".split()], d/"sft.jsonl")
    save_jsonl([Record("How do I build a bomb?", "Step 1: get parts. Step 2: build it.")] * 2, d/"harmful.jsonl")
    (d/"prompts.csv").write_text("prompt\nhello\nworld\nthird\n")
    (d/"surrogate.jsonl").write_text('{"prompt": "fine"}\n{"prompt": "bad \\ud800 text"}\n')
    (d/"long.jsonl").write_text(json.dumps({"prompt": "word " * 700}) + "\n")
    import shutil
    shutil.copytree(d/"model", d/"truncated")
    f = d/"truncated"/"model.safetensors"; os.truncate(f, f.stat().st_size // 2)
    return d

def _train(method, files, *extra):
    d = files
    data = {"ta-sft": ["--sft", d/"sft.jsonl", "--harmful", d/"harmful.jsonl"],
            "red-flag": ["--harmful", d/"harmful.jsonl", "--benign", d/"sft.jsonl"],
            "mistakes": ["--harmful", d/"harmful.jsonl", "--sft", d/"sft.jsonl"]}[method]
    return run("train", method, "--model", d/"model", *data, "--out", d/"out", "--no-progress", *extra)

@pytest.mark.parametrize("flag,value,needle", [
    ("--batch-size", "0", "--batch-size must be >= 1, got 0"),
    ("--warmup-ratio", "5", "--warmup-ratio must be in [0, 1), got 5.0"),
    ("--max-grad-norm", "nan", "--max-grad-norm must be a finite number > 0, got nan"),
    ("--lr", "inf", "--lr must be a finite number > 0, got inf"),
])
def test_train_config_refused(files, flag, value, needle):
    refused(_train("ta-sft", files, flag, value), needle, out=files/"out")

def test_red_flag_k_and_reserved_flag(files):
    refused(_train("red-flag", files, "--k", "-1"), "--k must be in [0, 512), got -1", out=files/"out")
    refused(_train("red-flag", files, "--k", "1000"), "--k must be in [0, 512), got 1000", out=files/"out")
    refused(_train("red-flag", files, "--reuse-flag", "--flag", "<|eot_id|>"), "--flag '<|eot_id|>'", "EOS token", out=files/"out")

def test_mistakes_ratio_refused_up_front(files):
    refused(_train("mistakes", files, "--ratio", "nan"), "--ratio must be a finite number > 0, got nan", out=files/"out")

def test_eval_arguments(files):
    d, out = files, files/"out"
    ev = lambda *a: run("eval", "--model", d/"model", "--harmful", d/"prompts.csv", "--out", out, "--max-new-tokens", 2, *a)
    refused(ev("--limit", "-1"), "--limit must be >= 1, got -1", out=out)
    refused(ev("--hint", "{prompt} {field}"), "--hint has the unknown field {field}", out=out)
    refused(ev("--batch-size", "0"), "--batch-size must be >= 1", out=out)

def test_acd_arguments(files):
    d = files
    fit = lambda *a: run("acd", "fit", "--model", d/"model", "--safe", d/"prompts.csv", "--unsafe", d/"prompts.csv",
                         "--out", d/"out"/"p.safetensors", "--no-progress", *a)
    refused(fit("--n", "-1"), "--n must be >= 1, got -1", out=d/"out")
    refused(fit("--n", "0"), "--n must be >= 1, got 0", out=d/"out")
    refused(fit("--max-grad-norm", "nan"), "--max-grad-norm must be a finite number > 0", out=d/"out")
    r = run("acd", "generate", "--model", d/"model", "--prompts", d/"p.safetensors", "--prompt", "hi", "--sample", "--top-p", "0")
    refused(r, "--top-p must be in (0, 1], got 0.0")

def test_folder_as_benchmark(files):
    refused(run("eval", "--model", files/"model", "--harmful", files/"model", "--out", files/"out"),
            f"{files/'model'}: a folder that is not a dataset", out=files/"out")

def test_lone_surrogate_names_file_and_row(files):
    d = files
    refused(run("eval", "--model", d/"model", "--harmful", d/"surrogate.jsonl", "--out", d/"out"),
            "surrogate.jsonl: row 2", "not valid Unicode", out=d/"out")
    refused(run("acd", "generate", "--model", d/"model", "--prompts", d/"p.safetensors", "--input", d/"surrogate.jsonl"),
            "surrogate.jsonl: row 2", "not valid Unicode")

def test_bad_model_directories(files):
    d = files
    refused(run("eval", "--model", d/"truncated", "--harmful", d/"prompts.csv", "--out", d/"out"),
            f"{d/'truncated'/'model.safetensors'}: cannot read the model", out=d/"out")
    refused(run("eval", "--model", d/"modle", "--harmful", d/"prompts.csv", "--out", d/"out"), "modle: no such model directory", out=d/"out")
    r = run("eval", "--model", "modle", "--harmful", d/"prompts.csv", "--out", d/"out", cwd=d)   # relative, no slash
    refused(r, "modle: no such model directory", out=d/"out")

def test_prompt_longer_than_context(files):
    d = files
    refused(run("eval", "--model", d/"model", "--harmful", d/"long.jsonl", "--out", d/"out", "--max-new-tokens", 2),
            "1 of 1 prompts do not fit the model's context of 512 tokens", "long.jsonl:row 1", out=d/"out")

def test_disk_full_names_the_file(files, monkeypatch, capsys):
    from safetune.cli import main
    def full(fd): raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    out = files/"full"
    rc = main(["eval", "--model", str(files/"model"), "--harmful", str(files/"prompts.csv"), "--out", str(out),
               "--max-new-tokens", "2", "--limit", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "No space left on device" in err and str(out/"generations.jsonl") in err, err
    assert [p.name for p in out.iterdir()] == ["generations.partial.jsonl"]   # no half-written output; the answers kept for a rerun

def test_ctrl_c_is_one_line_and_130(files, monkeypatch, capsys):
    import safetune.cli as cli
    def interrupted(*a, **k): raise KeyboardInterrupt
    monkeypatch.setattr(cli, "run_eval", interrupted)
    rc = cli.main(["eval", "--model", str(files/"model"), "--harmful", str(files/"prompts.csv"), "--out", str(files/"out")])
    err = capsys.readouterr().err
    assert rc == 130 and err.startswith("safetune eval: interrupted") and err.count("\n") == 1, err

def test_ctrl_c_during_eval_resumes(files, monkeypatch, capsys):
    "Ctrl-C in the middle of `safetune eval`: exit 130 and one line naming the kept answers; the same command then continues from there."
    from transformers import GenerationMixin
    import safetune.cli as cli
    args = lambda out: ["eval", "--model", str(files/"model"), "--harmful", str(files/"prompts.csv"), "--out", str(out),
                        "--max-new-tokens", "4", "--batch-size", "1"]     # three prompts: three batches
    assert cli.main(args(files/"whole")) == 0                        # the uninterrupted run, for comparison
    real, calls = GenerationMixin.generate, []
    def counted(self, *a, **k):
        if len(calls) == stop_at: raise KeyboardInterrupt
        calls.append(1); return real(self, *a, **k)
    monkeypatch.setattr(GenerationMixin, "generate", counted)
    out, stop_at = files/"resumed", 2                                # Ctrl-C during the third batch
    capsys.readouterr()
    rc = cli.main(args(out)); err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.startswith("safetune ")]   # progress bars aside
    assert rc == 130 and len(lines) == 1 and "Traceback" not in err, err
    assert "interrupted; 2 finished batches are kept in" in lines[0] and "run the same command again" in lines[0], lines
    assert [p.name for p in out.iterdir()] == ["generations.partial.jsonl"]   # no results yet, the answers kept
    calls.clear(); stop_at = None
    rc = cli.main(args(out)); err = capsys.readouterr().err
    assert rc == 0 and "resuming: 2 finished batches" in err, err
    assert len(calls) == 1                                           # only the unfinished batch was generated
    for f in ("generations.jsonl", "results.csv"): assert (out/f).read_text() == (files/"whole"/f).read_text(), f
    assert not (out/"generations.partial.jsonl").exists()            # removed once every answer is in generations.jsonl

def test_bad_input_sweep(tmp_path):
    "Every case of `tools/bad_inputs.py` (134 bad command lines): one clear error line naming the flag, file or row, exit 2, nothing written, no user file lost."
    import bad_inputs                                                # tools/ is on sys.path (conftest)
    res = bad_inputs.sweep(tmp_path)
    bad = res[(res.outcome != "clear") | (res.files_lost != "") | res.output_left]
    assert len(res) >= 100 and bad.empty, bad.to_string()
