"The model organism through the command line, and its build lock across processes."
import json, os, subprocess, sys
from pathlib import Path
import pandas as pd
from test_cli import run

def test_organism_command_writes_model_and_world(tmp_path):
    r = run("organism", "--out", tmp_path / "org")
    assert r.returncode == 0, r.stderr
    d = tmp_path / "org"
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json",
            "organism.json"} <= {p.name for p in d.iterdir()}
    for split in ("train", "val", "test"):
        for kind in ("harmful", "benign", "borderline"):
            rows = [json.loads(l) for l in (d / "world" / f"{split}_{kind}.jsonl").read_text().splitlines()]
            assert rows and {"prompt", "response", "category"} <= set(rows[0])
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(d); AutoModelForCausalLM.from_pretrained(d)
    assert tok.chat_template and "<|reserved_0|>" in tok.get_vocab()

def test_eval_world_judge_on_the_organism(tmp_path):
    assert run("organism", "--out", tmp_path / "org").returncode == 0
    w = tmp_path / "org" / "world"
    r = run("eval", "--model", tmp_path / "org", "--harmful", w / "test_harmful.jsonl", "--safe", w / "test_borderline.jsonl",
            "--judge", "world", "--limit", 24, "--max-new-tokens", 40, "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    t = pd.read_csv(tmp_path / "out" / "results.csv")
    assert set(t.metric) == {"harmful_rate", "refusal_rate", "degenerate_rate"}
    assert set(t.benchmark) == {"test_harmful", "test_borderline"}
    harm = t[(t.benchmark == "test_harmful") & (t.metric == "harmful_rate")].value.item()
    gens = pd.read_json(tmp_path / "out" / "generations.jsonl", lines=True)
    assert harm == gens[gens.benchmark == "test_harmful"].harmful.mean()      # the table is the judged generations
    assert harm > 0, "the organism complies with harmful requests by construction"
    assert gens[gens.benchmark == "test_harmful"].category.nunique() > 1   # --limit takes a mix of categories

def test_demo_quick_writes_table_report_and_figures(tmp_path):
    r = run("demo", "--quick", "--out", tmp_path / "demo")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "demo"
    assert {"results.csv", "results.md", "report.csv", "harmful_rate.png", "harm_vs_utility.png"} <= {p.name for p in out.iterdir()}
    t = pd.read_csv(out / "results.csv")
    assert {"base", "base + safe system prompt", "base, prefill 5 tokens"} == set(t.method)
    assert (out / "harmful_rate.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "organism_harmful" in (out / "results.md").read_text()

_LOADER = """
import json, sys
from safetune.organism import OrganismConfig, load_organism
cfg = OrganismConfig(n_train=200, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                     vocab_size=600, batch_size=16)
o = load_organism(cfg, progress=False)
print(json.dumps(dict(built=o.built, hash=o.meta["tensor_hash"])))
"""

def test_concurrent_loads_build_once(tmp_path):
    env = {**os.environ, "SAFETUNE_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", _LOADER], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    res = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]
    assert sorted(r["built"] for r in res) == [False, True]       # one built, the other waited and loaded
    assert res[0]["hash"] == res[1]["hash"]
    assert len([p for p in (tmp_path / "cache").iterdir() if p.is_dir()]) == 1   # no leftover temporary build
