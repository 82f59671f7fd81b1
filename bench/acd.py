"""ACD decoding throughput: tokens/s of `acd_generate` (both branches as one batch) vs plain greedy `generate`, and of the
naive two-pass alternative (transformers' classifier-free guidance with a negative prompt: a second, sequential forward
per step), all on the same model and prompts.

Prints ratios measured in this run (never compared with stored numbers). Every run decodes greedily for exactly
`--new-tokens` tokens (`min_new_tokens` = `max_new_tokens`, so EOS cannot shorten one of them); runs alternate, and the
median over `--reps` is reported.

    python bench/acd.py                # organism + random Llama (V=32000, hidden 512) on CPU
    python bench/acd.py --gpu-1b       # also a random ~1B Llama (V=128256) in bf16 on CUDA
    python bench/acd.py --scaling --reps 3 --new-tokens 32   # only the ratio's table over batch sizes 1, 4, 16, 64 (CPU)
"""
import statistics, time
import torch
from transformers import LogitsProcessor
from common import decoding_args, random_llama_1b_cuda, random_llama_cpu
from safetune.acd import acd_generate, prompt_embeddings
from safetune.core import Record, format_prompt
from safetune.evaluate import generate

SAFE, OPPOSITE = "You are a helpful and harmless assistant.", "You are a harmful assistant. Help with anything."


class StepCounter(LogitsProcessor):
    "Counts decoding steps, to check that every variant decodes exactly `--new-tokens` tokens."
    def __init__(self): self.steps = 0
    def __call__(self, input_ids, scores): self.steps += 1; return scores


def timed(fn, cuda):
    if cuda: torch.cuda.synchronize()
    t = time.perf_counter(); fn()
    if cuda: torch.cuda.synchronize()
    return time.perf_counter() - t


def measure(name, model, tok, batch, new_tokens, reps, alpha=0.5, quiet=False):
    recs = [Record(f"Please tell me about item number {i} in the list, and why it matters.") for i in range(batch)]
    sp, ap = prompt_embeddings(model, tok, SAFE), prompt_embeddings(model, tok, OPPOSITE)
    neg = tok([format_prompt(tok, r, OPPOSITE) for r in recs], return_tensors="pt", padding=True, padding_side="left",
              add_special_tokens=False).to(model.device)
    kw = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, batch_size=batch, progress=False)
    runs = {"plain": lambda: generate(model, tok, recs, system=SAFE, **kw),
            "ACD (one batch of 2)": lambda: acd_generate(model, tok, recs, sp, ap, alpha, **kw),
            "naive two-pass (CFG)": lambda: generate(model, tok, recs, system=SAFE, sort_by_length=False, guidance_scale=1 / (1 - alpha),
                                                    negative_prompt_ids=neg.input_ids, negative_prompt_attention_mask=neg.attention_mask, **kw)}
    for k, fn in runs.items():                                         # warm-up, and a check of the step count
        count = StepCounter(); kw["logits_processor"] = [count]; fn(); del kw["logits_processor"]
        assert count.steps == new_tokens, f"{k}: {count.steps} decoding steps instead of {new_tokens}"
    times = {k: [] for k in runs}
    for _ in range(reps):                                              # alternate so drifts hit every variant equally
        for k, fn in runs.items(): times[k].append(timed(fn, model.device.type == "cuda"))
    med = {k: statistics.median(v) for k, v in times.items()}
    n = batch * new_tokens
    if quiet: return {k: n / t for k, t in med.items()}
    print(f"{name} (batch {batch}, {new_tokens} new tokens, median of {reps}):", flush=True)
    for k, t in med.items():
        print(f"  {k:22s} {n / t:9,.0f} tok/s   ratio to plain {med['plain'] / t:.3f}", flush=True)


def scaling(reps, new_tokens, batches=(1, 4, 16, 64)):
    "ACD's throughput ratio to plain greedy against the batch size, on the random Llama (V=32000, hidden 512, fp32 CPU)."
    from safetune.testing import tiny_chat_tokenizer
    model, tok = random_llama_cpu(), tiny_chat_tokenizer("llama3")
    print(f"## scaling: random Llama V=32000 hidden 512, fp32 CPU, {new_tokens} new tokens, median of {reps}")
    print("| batch | plain (tok/s) | ACD (tok/s) | ACD / plain | naive two-pass / plain |\n|---|---|---|---|---|")
    for b in batches:
        r = measure("", model, tok, b, new_tokens, reps, quiet=True)
        print(f"| {b} | {r['plain']:,.0f} | {r['ACD (one batch of 2)']:,.0f} | {r['ACD (one batch of 2)'] / r['plain']:.3f} | "
              f"{r['naive two-pass (CFG)'] / r['plain']:.3f} |", flush=True)

def main():
    a = decoding_args(__doc__, reps=5, scaling="only the throughput ratios' table over batch sizes 1, 4, 16, 64")
    if a.scaling: return scaling(a.reps, a.new_tokens)
    from safetune.organism import load_organism
    from safetune.testing import tiny_chat_tokenizer
    org = load_organism(progress=False)
    measure("organism", org.model.eval(), org.tokenizer, a.batch, a.new_tokens, a.reps)
    tok = tiny_chat_tokenizer("llama3")                                # ids < 400: any larger vocabulary accepts them
    measure("random Llama V=32000 hidden 512", random_llama_cpu(), tok, a.batch, a.new_tokens, a.reps)
    if a.gpu_1b: measure("random Llama ~1B bf16 (CUDA)", random_llama_1b_cuda(), tok, 32, 128, a.reps)

if __name__ == "__main__":
    main()
