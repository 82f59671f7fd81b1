"""TA-SFT cost benchmark: a TA-SFT training step vs a plain SFT step on the same model and batch.

Prints time and peak-memory ratios measured in this run (never compared with stored numbers), then the time of the
soft-target EMD bound vs exact optimal transport (`ot.emd2`) at V = 2000.

    python bench/ta_sft.py                 # organism + random Llama (V=32000, hidden 512) on CPU
    python bench/ta_sft.py --gpu-1b        # also a random ~1B Llama (V=128256) in bf16 on CUDA
    python bench/ta_sft.py --scaling       # only the ratio's table over vocabulary size and sequence length (CPU)

The SFT step is what a user runs without safetune: the model's own causal-LM loss (`model(..., labels=...)`) on
all rows. The TA-SFT step is `TASFT` on the same rows, `--harmful-rows` of them treated as D_h. Both include the
forward, backward and AdamW step. CPU peak memory is the process's peak resident set (VmHWM, reset before each
step through /proc/self/clear_refs; run with MALLOC_MMAP_THRESHOLD_ fixed so freed tensors leave the RSS);
CUDA peak memory is `torch.cuda.max_memory_allocated`.
"""
import argparse, os, statistics, sys, time
os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "65536")   # must be set before the allocator's first large block

if os.environ.get("_TA_BENCH_CHILD") != "1":               # re-exec so the malloc setting applies from the start
    os.environ["_TA_BENCH_CHILD"] = "1"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch
from transformers import LlamaConfig, LlamaForCausalLM
from safetune.ta_sft import TASFT
from safetune.train import SFT


def rss_peak_reset():
    with open("/proc/self/clear_refs", "w") as f: f.write("5")

def rss_peak_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"): return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")

def rss_now_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024


def make_batch(V, B, T, n_harm, prompt_len, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (B, T), generator=g)
    labels = ids.clone(); labels[:, :prompt_len] = -100
    part = torch.zeros(B, dtype=torch.long); part[B - n_harm:] = 1
    return {k: v.to(device) for k, v in dict(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels, part=part).items()}


def step(model, opt, objective, batch):
    loss, _ = objective(model, batch)
    loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    return loss.detach()


def measure(name, model, batch, reps, cuda, quiet=False):
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    objs = {"SFT": SFT(), "TA-SFT": TASFT(lam=0.3)}
    for o in objs.values(): step(model, opt, o, batch)        # warm-up: optimizer state, the EMD embedding, kernels
    times, peaks = {k: [] for k in objs}, {k: [] for k in objs}
    base = torch.cuda.memory_allocated() / 2**20 if cuda else rss_now_mb()
    for r in range(reps):
        for k, o in (objs.items() if r % 2 == 0 else reversed(objs.items())):   # alternate the order
            if cuda: torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
            else: rss_peak_reset()
            t0 = time.perf_counter(); step(model, opt, o, batch)
            if cuda: torch.cuda.synchronize()
            times[k].append(time.perf_counter() - t0)
            peaks[k].append(torch.cuda.max_memory_allocated() / 2**20 if cuda else rss_peak_mb())
    t = {k: statistics.median(v) for k, v in times.items()}
    m = {k: max(v) for k, v in peaks.items()}
    if quiet: return t, m, base
    print(f"\n## {name}")
    print(f"batch {tuple(batch['input_ids'].shape)}, {int(batch['part'].sum())} harmful rows, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, {reps} steps each (median time, max peak)")
    print(f"| step | time (ms) | peak memory (MiB) | peak above pre-step ({base:.0f} MiB) |\n|---|---|---|---|")
    for k in objs: print(f"| {k} | {1e3 * t[k]:.1f} | {m[k]:.0f} | {m[k] - base:.0f} |")
    print(f"ratio TA-SFT/SFT: time {t['TA-SFT'] / t['SFT']:.3f}, peak memory {m['TA-SFT'] / m['SFT']:.3f}, "
          f"peak above pre-step {(m['TA-SFT'] - base) / max(m['SFT'] - base, 1e-9):.3f}")
    return t, m, base


def scaling(reps, vocabs=(32000, 49152, 128256), lengths=(128, 512), batch=4):
    "TA-SFT's cost against vocabulary size and sequence length, on random Llamas (hidden 512, 4 layers, fp32 CPU)."
    print(f"\n## scaling: TA-SFT step / SFT step, random Llama hidden 512, 4 layers, fp32 CPU, batch {batch} "
          f"(1 harmful row), median of {reps}")
    print("| V | T | SFT step (ms) | TA-SFT step (ms) | time ratio | peak memory ratio |\n|---|---|---|---|---|---|")
    for V in vocabs:
        model = random_llama(V, 512, 4, 8, 1376, torch.float32, "cpu")
        for T in lengths:
            t, m, _ = measure("", model, make_batch(V, batch, T, 1, T // 4, "cpu"), reps, False, quiet=True)
            print(f"| {V} | {T} | {1e3 * t['SFT']:.0f} | {1e3 * t['TA-SFT']:.0f} | {t['TA-SFT'] / t['SFT']:.3f} | "
                  f"{m['TA-SFT'] / m['SFT']:.3f} |", flush=True)
        del model


def random_llama(V, hidden, layers, heads, inter, dtype, device, seed=0):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=V, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                      num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=4096,
                      tie_word_embeddings=False)
    return LlamaForCausalLM(cfg).to(device=device, dtype=dtype).train()


def bound_vs_pot(V=2000, d=64, n=20, seed=0):
    import ot
    from safetune.emd import emd_lower_bound, make_embedding, semantic_cost
    g = torch.Generator().manual_seed(seed)
    emb = make_embedding(V, "clustered", d=d, seed=seed)
    p = torch.randn(n, V, generator=g, dtype=torch.float64).mul(2).softmax(-1)
    q = torch.randn(n, V, generator=g, dtype=torch.float64).mul(2).softmax(-1)
    C = semantic_cost(emb).double().numpy()
    emd_lower_bound(p[:1], q[:1], emb)                           # warm-up (nearest-neighbour costs, cached)
    t0 = time.perf_counter(); lb = emd_lower_bound(p, q, emb); t_lb = (time.perf_counter() - t0) / n
    t0 = time.perf_counter(); ex = [ot.emd2(p[i].numpy(), q[i].numpy(), C, numItermax=10**7) for i in range(n)]
    t_ex = (time.perf_counter() - t0) / n
    assert (lb.numpy() <= torch.tensor(ex).numpy() + 1e-9).all()
    print(f"\n## soft-target bound vs exact EMD at V={V} (clustered embeddings, {n} random pairs, full supports)")
    print(f"emd_lower_bound: {1e3 * t_lb:.3f} ms/pair; ot.emd2: {1e3 * t_ex:.1f} ms/pair; speed-up {t_ex / t_lb:.0f}x; "
          f"mean bound/exact {float((lb / torch.tensor(ex)).mean()):.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gpu-1b", action="store_true", help="also the ~1B Llama (V=128256) in bf16 on CUDA")
    ap.add_argument("--scaling", action="store_true", help="only the table over V (32k, 49k, 128k) and T (128, 512)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.scaling: return scaling(min(a.reps, 5))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    from safetune.organism import load_organism
    org = load_organism(progress=False)
    m = org.model.train()
    measure("organism (V=2048, hidden 160, 3 layers)", m, make_batch(m.config.vocab_size, 20, 96, 4, 24, "cpu"), a.reps, False)
    del m, org
    m = random_llama(32000, 512, 4, 8, 1376, torch.float32, "cpu")
    measure("random Llama (V=32000, hidden 512, 4 layers), fp32 CPU", m, make_batch(32000, 8, 128, 2, 32, "cpu"), a.reps, False)
    del m
    if a.gpu_1b:
        if not torch.cuda.is_available(): sys.exit("--gpu-1b needs CUDA")
        m = random_llama(128256, 2048, 16, 32, 8192, torch.bfloat16, "cuda")
        measure("random Llama ~1B (V=128256, hidden 2048, 16 layers), bf16 CUDA", m,
                make_batch(128256, 8, 512, 2, 64, "cuda"), a.reps, True)
    bound_vs_pot()


if __name__ == "__main__":
    main()
