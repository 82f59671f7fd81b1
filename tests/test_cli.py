"The `safetune` command end to end, run as a subprocess the way users run it."
import json, os, subprocess, sys
from pathlib import Path

SAFETUNE = str(Path(sys.executable).with_name("safetune"))

def run(*args, cwd=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([SAFETUNE, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)

def test_help_lists_commands():
    r = run("--help")
    assert r.returncode == 0 and "demo" in r.stdout and "data" in r.stdout

def test_demo_quick_writes_results(tmp_path):
    r = run("demo", "--quick", "--out", tmp_path / "demo")
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert res["loss_after"] < res["loss_before"], res
    assert "held-out response loss" in r.stdout

def test_demo_is_reproducible(tmp_path):
    a, b = (run("demo", "--steps", "10", "--out", tmp_path / d) for d in "ab")
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
