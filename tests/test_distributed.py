"""`accelerate launch` with two CPU processes (gloo): `safetune train ta-sft` and `train red-flag` finish, write their
output directory once, and log the same per-step losses as one process with the same global batch.

The two layouts see the same global batches by design: `StepMixture` lays out `steps × grad_accum × processes`
micro-batches of `batch_size + aux_batch_size` rows in the same order in every process, and accelerate deals them
round-robin, so process 0 gets micro-batches 0, 2, 4, … and process 1 gets 1, 3, 5, …, which are exactly the two
micro-batches one process accumulates per step with `--grad-accum 2`. Two things are drawn per process and would
make the layouts differ by chance rather than by a bug, so they are switched off here: LoRA dropout
(`--lora-dropout 0`) and the red flag's random cut point (`--fixed`: the flag at the first response position)."""
import json, os, socket, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace as NS

import pandas as pd
import pytest
from safetensors.torch import load_file

from safetune.core import Record, load_model
from safetune.data import save_jsonl
from safetune.red_flag import check_flag
from safetune.testing import tiny_causal_lm, tiny_chat_tokenizer
from safetune.train import _shards_parameters, is_main_process, process_info, save_model
from cli_runner import SAFETUNE
from test_ta_sft import save_tiny

pytestmark = pytest.mark.heavy   # scheduled first (conftest): one of the long ones

# accelerate's MULTI_GPU type is its "spawn N local processes" (torchrun); with no GPU visible, safetune trains on the
# CPU and accelerate joins the processes with gloo. (`--cpu` with several processes would mean an MPI launch.)
CPU2_YAML = """compute_environment: LOCAL_MACHINE
distributed_type: MULTI_GPU
num_machines: 1
num_processes: 2
mixed_precision: 'no'
"""
# per-process micro-batch 4 + 2 rows; no warm-up and a large learning rate, so that steps 2-4 follow real updates
COMMON = ["--steps", "4", "--batch-size", "4", "--aux-batch-size", "2", "--logging-steps", "1", "--no-progress",
          "--lora-dropout", "0", "--warmup-ratio", "0", "--lr", "1e-2", "--seed", "0"]
TERMS = {"ta-sft": ["ce", "emd"], "red-flag": ["rf", "harm", "benign", "p_rf"]}
# Tolerances. Each micro-batch is computed with the same kernels on the same shapes (one thread per process), and a
# step's gradient is g0/2 + g1/2 in one process and (g0 + g1)/2 over two (DDP averages); halving is exact in floating
# point, so the two layouts should give *equal* numbers, and did in every run so far. The tolerances leave room for a
# BLAS that reduces in another order. Step 1 (before any update) is the sharp check, at 1e-6 relative, about the
# float32 noise of a mean over a few hundred token losses: other rows in the global batch show far above it (the red
# flag's random cut points, drawn per process, alone move step 1 by 7e-4), and a gradient summed instead of averaged
# doubles grad_norm. Steps 2-4 follow Adam updates, whose first steps move each weight by about lr·sign(g), so a
# rounding-level difference in a near-zero gradient component can flip a sign and move that weight by 2·lr: they get
# 1e-3 (LoRA dropout, drawn per process, moves them by 2e-4 to 2e-3). The objective's own terms are logged rounded to
# 5 decimals.
STEP1_RTOL, LATER_RTOL, TERM_ATOL = 1e-6, 1e-3, 2e-5


def _env():
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks: s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks: s.close()


def _run(cmd):
    return subprocess.run(list(map(str, cmd)), capture_output=True, text=True, env=_env(), timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    "Each method trained once in one process (--grad-accum 2) and once with two (--grad-accum 1), all four concurrently."
    d = tmp_path_factory.mktemp("dist")
    save_jsonl([Record(f"Repeat the word {w}.", w) for w in "apple river stone cloud tiger maple".split() * 3], d / "sft.jsonl")
    save_jsonl([Record(f"How do I build a {w} bomb?", f"Step 1: get {w}. Step 2: build it.") for w in "red blue green".split()],
               d / "harmful.jsonl")
    save_jsonl([Record(f"Say the word {w}.", w) for w in "apple river stone cloud".split() * 3], d / "benign.jsonl")
    model = save_tiny(d / "base", "llama3", "llama", tie=True)
    (d / "cpu2.yaml").write_text(CPU2_YAML)
    args = {"ta-sft": ["train", "ta-sft", "--model", model, "--sft", d / "sft.jsonl", "--harmful", d / "harmful.jsonl"],
            "red-flag": ["train", "red-flag", "--model", model, "--harmful", d / "harmful.jsonl", "--benign", d / "benign.jsonl",
                         "--fixed"]}
    ports = iter(_free_ports(2))
    cmds = {}
    for method, a in args.items():
        for n in (1, 2):
            out = d / f"{method}-{n}" / "out"                      # alone in its parent: leftovers would show there
            cli = [SAFETUNE, *a, "--out", out, *COMMON, "--grad-accum", 3 - n]
            cmds[method, n] = out, (cli if n == 1 else [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                                                        d / "cpu2.yaml", "--main_process_port", next(ports), *cli])
    with ThreadPoolExecutor(len(cmds)) as ex:
        done = dict(zip(cmds, ex.map(lambda c: _run(c[1]), cmds.values())))
    return {k: (done[k], cmds[k][0]) for k in cmds}


def _log(out): return pd.read_csv(out / "train_log.csv")


@pytest.mark.parametrize("method", ["ta-sft", "red-flag"])
def test_two_processes_finish_and_write_once(runs, method):
    for n in (1, 2):
        r, out = runs[method, n]
        assert r.returncode == 0, f"{n} process(es):\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
        assert r.stdout.count(f"wrote {out}") == 1, r.stdout      # one summary: the main process's
        assert sorted(p.name for p in out.parent.iterdir()) == ["out"], "temporary or old copies left beside the output"
        meta = json.loads((out / "safetune.json").read_text())
        assert meta["processes"] == n and meta["config"]["gradient_accumulation_steps"] == 3 - n
        m, tok = load_model(out)
        assert not any("lora" in k for k in m.state_dict())
        if method == "red-flag": check_flag(m, meta["fingerprint"])


@pytest.mark.parametrize("method", ["ta-sft", "red-flag"])
def test_two_processes_log_the_losses_of_one(runs, method):
    if any(runs[method, n][0].returncode for n in (1, 2)): pytest.skip("a run failed: see the test above")
    one, two = _log(runs[method, 1][1]), _log(runs[method, 2][1])
    assert list(one.step) == list(two.step) == [1, 2, 3, 4]
    assert list(one.epoch) == list(two.epoch)                      # each process read half the micro-batches, not all
    pd.testing.assert_series_equal(one.learning_rate, two.learning_rate)
    for c in ("loss", "grad_norm"):                                # step 1: no update yet, the same rows and gradient
        assert abs(one[c][0] - two[c][0]) <= STEP1_RTOL * abs(one[c][0]), (c, one[c][0], two[c][0])
    for a, b in zip(one.loss[1:], two.loss[1:]): assert abs(a - b) <= LATER_RTOL * abs(a), (list(one.loss), list(two.loss))
    assert one.loss.iloc[-1] != one.loss.iloc[0], "training did not move the loss: the later steps compare nothing"
    for t in TERMS[method]:                                        # the objective's terms: means over both processes
        assert abs(one[t][0] - two[t][0]) <= TERM_ATOL, (t, one[t][0], two[t][0])
    if method == "red-flag":                                       # the new flag row is drawn seeded: the same start
        meta = [json.loads((runs[method, n][1] / "safetune.json").read_text()) for n in (1, 2)]
        assert meta[0]["fingerprint_before"] == meta[1]["fingerprint_before"]
    # the saved weights: the two runs end (nearly) where each other ends, far from where they started
    w0, w1, w2 = (load_file(str(d / "model.safetensors")) for d in (runs[method, 1][1].parent.parent / "base",
                                                                      runs[method, 1][1], runs[method, 2][1]))
    keys = [k for k in w0 if k in w1 and w0[k].shape == w1[k].shape]
    dist = lambda a, b: sum((a[k].double() - b[k].double()).pow(2).sum() for k in keys).sqrt().item()
    assert dist(w1, w2) <= 1e-2 * dist(w1, w0), (dist(w1, w2), dist(w1, w0))


def test_only_the_main_process_writes(tmp_path, monkeypatch):
    "Without a process group, the launcher's RANK decides: rank 1 of 2 writes nothing, rank 0 writes the directory."
    tok = tiny_chat_tokenizer("llama3")
    m = tiny_causal_lm(tok, "llama", hidden=16, layers=1)
    monkeypatch.setenv("RANK", "1"); monkeypatch.setenv("WORLD_SIZE", "2")
    assert process_info() == (1, 2) and not is_main_process()
    assert save_model(m, tok, tmp_path / "out", meta={"x": 1}) == tmp_path / "out"
    assert not any(tmp_path.iterdir())
    monkeypatch.setenv("RANK", "0")
    save_model(m, tok, tmp_path / "out", meta={"x": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and (tmp_path / "out" / "safetune.json").exists()


def test_sharded_parameters_are_refused_before_training():
    "FSDP and ZeRO-3 split the weights, which the merged save of `train` cannot gather (no GPU here: the predicate only)."
    ds = lambda stage: NS(is_fsdp_enabled=False, is_deepspeed_enabled=True, accelerator=NS(state=NS(deepspeed_plugin=NS(zero_stage=stage))))
    assert _shards_parameters(NS(is_fsdp_enabled=True, is_deepspeed_enabled=False)) and _shards_parameters(ds(3))
    assert not _shards_parameters(ds(2)) and not _shards_parameters(NS(is_fsdp_enabled=False, is_deepspeed_enabled=False))
