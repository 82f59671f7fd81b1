"""Red flag detector overhead: tokens/s of `generate` with `FlagDetector` vs plain `generate` on the same model.

Prints the throughput ratio measured in this run (never compared with stored numbers). Both runs decode greedily
the same prompts for exactly `--new-tokens` tokens (`min_new_tokens` = `max_new_tokens`, so EOS cannot shorten one of
them); runs alternate, and the median over `--reps` is reported.

    python bench/red_flag.py                # organism + random Llama (V=32000, hidden 512) on CPU
    python bench/red_flag.py --gpu-1b       # also a random ~1B Llama (V=128256) in bf16 on CUDA
"""
import statistics, time
import torch
from transformers import LogitsProcessorList
from common import decoding_args, random_llama_1b_cuda, random_llama_cpu
from safetune.red_flag import FlagDetector


def timed_generate(model, ids, new_tokens, detector):
    kw = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
    if detector is not None: detector.reset(); kw["logits_processor"] = LogitsProcessorList([detector])
    if ids.is_cuda: torch.cuda.synchronize()
    t = time.perf_counter()
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kw)
    if ids.is_cuda: torch.cuda.synchronize()
    return time.perf_counter() - t, out


def measure(name, model, vocab, batch, prompt_len, new_tokens, reps, device):
    ids = torch.randint(0, vocab, (batch, prompt_len), generator=torch.Generator().manual_seed(0)).to(device)
    det = FlagDetector(flag_id=vocab - 1, done_ids=[])
    _, plain_out = timed_generate(model, ids, new_tokens, None); _, det_out = timed_generate(model, ids, new_tokens, det)
    assert torch.equal(plain_out, det_out), "the monitor-mode detector changed what was generated"
    t_plain, t_det = [], []
    for _ in range(reps):                                   # alternate so drifts hit both equally
        t_plain.append(timed_generate(model, ids, new_tokens, None)[0]); t_det.append(timed_generate(model, ids, new_tokens, det)[0])
    tp, td = statistics.median(t_plain), statistics.median(t_det)
    n = batch * new_tokens
    print(f"{name}: plain {n / tp:,.0f} tok/s, with detector {n / td:,.0f} tok/s -> throughput ratio {tp / td:.3f} "
          f"(batch {batch}, {new_tokens} new tokens, median of {reps})", flush=True)


def main():
    a = decoding_args(__doc__, reps=7)
    from safetune.organism import load_organism
    org = load_organism(progress=False)
    measure("organism", org.model.eval(), len(org.tokenizer), a.batch, 32, a.new_tokens, a.reps, "cpu")
    measure("random Llama V=32000 hidden 512", random_llama_cpu(), 32000, a.batch, 32, a.new_tokens, a.reps, "cpu")
    if a.gpu_1b: measure("random Llama ~1B bf16 (CUDA)", random_llama_1b_cuda(), 128256, 32, 64, 128, a.reps, "cuda")

if __name__ == "__main__":
    main()
