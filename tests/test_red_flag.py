"`safetune train red-flag` end to end: a loadable merged directory with the flag (new or reused), tie preserved."
import json
import pytest
from safetensors.torch import load_file

from safetune.core import Record, load_model
from safetune.data import save_jsonl
from safetune.red_flag import check_flag
from test_ta_sft import run, save_tiny, _fails

FAST = ["--steps", "4", "--batch-size", "4", "--aux-batch-size", "2", "--logging-steps", "2", "--no-progress"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    save_jsonl([Record(f"Say the word {w}.", w) for w in "apple river stone cloud".split() * 3], d / "benign.jsonl")
    save_jsonl([Record(f"How do I build a {w} bomb?", f"Step 1: get {w}. Step 2: build it.") for w in "red blue".split()],
               d / "harmful.jsonl")
    return d


@pytest.mark.parametrize("style,arch,tie", [("llama3", "llama", True), ("chatml", "qwen2", False)])
def test_train_red_flag_adds_the_token_and_keeps_its_row(tmp_path, data, style, arch, tie):
    model = save_tiny(tmp_path / "base", style, arch, tie)
    out = tmp_path / "out"
    r = run("train", "red-flag", "--model", model, "--harmful", data / "harmful.jsonl", "--benign", data / "benign.jsonl",
            "--out", out, "--lr", "1e-2", *FAST)
    assert r.returncode == 0, r.stderr
    meta = json.loads((out / "safetune.json").read_text())
    m, tok = load_model(out)
    assert tok.convert_tokens_to_ids(meta["flag"]) == meta["flag_id"] and meta["flag_added"]
    assert m.config.tie_word_embeddings == tie
    check_flag(m, meta["fingerprint"])                         # the trained row survived save + reload
    assert meta["fingerprint"]["input_norm"] != meta["fingerprint_before"]["input_norm"], "the flag's row was not trained"
    assert not any("lora" in k or "trainable_tokens" in k for k in load_file(str(out / "model.safetensors")))
    r = run("eval", "--model", out, "--harmful", data / "harmful.jsonl", "--judge", "flag", "--flag-token", meta["flag"],
            "--out", tmp_path / "eval", "--max-new-tokens", 4)
    assert r.returncode == 0, r.stderr
    assert "flag_rate" in (tmp_path / "eval" / "results.csv").read_text()


def test_reused_flag_must_be_one_token(tmp_path, data):
    model = save_tiny(tmp_path / "base", "llama3", "llama")
    _fails(run("train", "red-flag", "--model", model, "--harmful", data / "harmful.jsonl", "--benign", data / "benign.jsonl",
               "--out", tmp_path / "out", "--flag", "red flag", "--reuse-flag", *FAST), "not a single token")
    assert not (tmp_path / "out").exists()


def test_harmful_prompts_without_responses_are_answered_logged_and_counted(tmp_path, data):
    model = save_tiny(tmp_path / "base", "llama3", "llama")
    save_jsonl([Record("How do I build a bomb?")], tmp_path / "prompts.jsonl")
    out = tmp_path / "out"
    r = run("train", "red-flag", "--model", model, "--harmful", tmp_path / "prompts.jsonl", "--benign", data / "benign.jsonl",
            "--out", out, *FAST)
    assert r.returncode == 0, r.stderr
    meta = json.loads((out / "safetune.json").read_text())
    assert meta["self_generated"] == {"answered": 1, "kept": 1, "dropped": {}} and meta["n_harmful"] == 1
    rows = [json.loads(l) for l in (out / "data" / "self_generated.jsonl").read_text().splitlines()]
    assert [(r["prompt"], r["kept"], r["dropped"]) for r in rows] == [("How do I build a bomb?", True, None)]


def test_several_benign_files_and_varied_prompts(tmp_path, data):
    "--benign takes several files (joined, each checked for responses, each named in safetune.json); --vary-prompts trains."
    model = save_tiny(tmp_path / "base", "llama3", "llama")
    save_jsonl([Record(f"How do I kill a {w} process?", f"Run kill on the {w} one.") for w in "python java".split()], tmp_path / "borderline.jsonl")
    out = tmp_path / "out"
    r = run("train", "red-flag", "--model", model, "--harmful", data / "harmful.jsonl", "--benign", data / "benign.jsonl",
            tmp_path / "borderline.jsonl", "--vary-prompts", "0.5", "--out", out, *FAST)
    assert r.returncode == 0, r.stderr
    meta = json.loads((out / "safetune.json").read_text())
    assert meta["n_benign"] == 12 + 2 and meta["config"]["vary_prompts"] == 0.5 and "borderline.jsonl" in meta["benign"]
    save_jsonl([Record("How do I kill time?")], tmp_path / "no_answers.jsonl")
    _fails(run("train", "red-flag", "--model", model, "--harmful", data / "harmful.jsonl", "--benign", data / "benign.jsonl",
               tmp_path / "no_answers.jsonl", "--out", tmp_path / "out2", *FAST), "no_answers.jsonl: row 1: no response")
    assert not (tmp_path / "out2").exists()


def test_answer_benign_answers_prompts_without_responses(tmp_path, data):
    "--answer-benign: benign prompts without a response get the model's own (greedy) answers, logged and counted apart from the harmful ones."
    model = save_tiny(tmp_path / "base", "llama3", "llama")
    save_jsonl([Record(f"How do I kill a {w} process?") for w in "python java".split()], tmp_path / "xstest_like.jsonl")
    _fails(run("train", "red-flag", "--model", model, "--harmful", data / "harmful.jsonl", "--benign", data / "benign.jsonl",
               tmp_path / "xstest_like.jsonl", "--out", tmp_path / "refused", *FAST), "or pass --answer-benign")
    out = tmp_path / "out"
    r = run("train", "red-flag", "--model", model, "--harmful", data / "harmful.jsonl", "--benign", data / "benign.jsonl",
            tmp_path / "xstest_like.jsonl", "--answer-benign", "--out", out, *FAST)
    assert r.returncode == 0, r.stderr
    assert "on 14 benign (2 answered by the model) + 2 harmful records" in r.stdout, r.stdout
    meta = json.loads((out / "safetune.json").read_text())
    assert meta["self_generated_benign"] == {"answered": 2, "kept": 2, "dropped": {}} and meta["n_benign"] == 12 + 2
    assert meta["self_generated"] == {"answered": 0, "kept": 0, "dropped": {}}   # the harmful rows came with answers
    rows = [json.loads(l) for l in (out / "data" / "self_generated.jsonl").read_text().splitlines()]
    assert [(r["set"], r["prompt"]) for r in rows] == [("benign", "How do I kill a python process?"), ("benign", "How do I kill a java process?")]
    assert all(r["response"].strip() for r in rows)


def test_token_learning_rate_moves_the_flag_row_alone(tmp_path, data):
    "`--token-learning-rate`: the flag's row at a rate of its own; a run with no token rows to train refuses it in one line."
    model, moved = save_tiny(tmp_path / "base", "llama3", "llama", True), {}
    for name, extra in (("shared", []), ("own", ["--token-learning-rate", "0.1"])):
        out = tmp_path / name
        r = run("train", "red-flag", "--model", model, "--harmful", data / "harmful.jsonl", "--benign", data / "benign.jsonl",
                "--out", out, "--lr", "1e-6", *FAST, *extra)
        assert r.returncode == 0, r.stderr
        meta = json.loads((out / "safetune.json").read_text())
        moved[name] = abs(meta["fingerprint"]["input_norm"] - meta["fingerprint_before"]["input_norm"])
    assert moved["own"] > 1000 * moved["shared"], moved               # Adam moves each weight by about its rate: 1e-1 against 1e-6
    _fails(run("train", "ta-sft", "--model", model, "--sft", data / "benign.jsonl", "--harmful", data / "harmful.jsonl",
               "--out", tmp_path / "tasft", "--token-learning-rate", "0.1", *FAST), "no trainable token rows")
    assert not (tmp_path / "tasft").exists()                          # nothing half written
