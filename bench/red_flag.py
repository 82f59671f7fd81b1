"""Red flag detector overhead: tokens/s of `generate` with `FlagDetector` vs plain `generate` on the same model.

Prints the throughput ratio measured in this run (never compared with stored numbers). Both runs decode greedily
the same prompts for exactly `--new-tokens` tokens (`min_new_tokens` = `max_new_tokens`, so EOS cannot shorten one of
them); runs alternate, and the median over `--reps` is reported.

    python bench/red_flag.py                # organism + random Llama (V=32000, hidden 512) on CPU
    python bench/red_flag.py --gpu-1b       # also a random ~1B Llama (V=128256) in bf16 on CUDA
"""
import argparse, statistics, time
import torch
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessorList
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
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--gpu-1b", action="store_true", help="also a random ~1B Llama in bf16 on CUDA")
    a = ap.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    from safetune.organism import load_organism
    org = load_organism(progress=False)
    measure("organism", org.model.eval(), len(org.tokenizer), a.batch, 32, a.new_tokens, a.reps, "cpu")
    cfg = LlamaConfig(vocab_size=32000, hidden_size=512, intermediate_size=1376, num_hidden_layers=4, num_attention_heads=8,
                      num_key_value_heads=8, max_position_embeddings=512)
    measure("random Llama V=32000 hidden 512", LlamaForCausalLM(cfg).eval(), 32000, a.batch, 32, a.new_tokens, a.reps, "cpu")
    if a.gpu_1b:
        cfg = LlamaConfig(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                          num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=2048, tie_word_embeddings=True)
        m = LlamaForCausalLM(cfg).to("cuda", torch.bfloat16).eval()
        measure("random Llama ~1B bf16 (CUDA)", m, 128256, 32, 64, 128, a.reps, "cuda")


if __name__ == "__main__":
    main()
