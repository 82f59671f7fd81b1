"""What the perplexity test costs the real-model demo: scoring one arm with and without it, on SmolLM2.

    python bench/incoherence.py              # the demo's test sets (32 AdvBench, 32 XSTest-safe, 16 seed tasks), 3 repeats

One process, the base model from the zoo cache, bf16 autocast as the demo runs it. The baseline is `real_eval_result`
with the refusal judge's text rules alone (`judge=None`); the other column adds `real_judge`'s perplexity test (its
calibration on val, timed apart: the demo pays it once per run). Each arm is scored `--repeats` times in alternation and
the median is reported, with the ratio test / text rules. Generation is the same in both: the difference is the test's
forward passes over the answers the text rules call compliance or answered.
"""
import argparse, statistics, time

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, default=32, help="prompts per set (the demo's n_eval)")
    a = ap.parse_args()
    from safetune.core import load_model
    from safetune.real_demo import RealDemoConfig, demo_precision, real_benchmarks, real_data, real_eval_result, real_judge
    cfg, d = RealDemoConfig(n_eval=a.n, incoherence=True), real_data()
    m, tok = load_model("smollm2-135m-instruct", progress=False); m.eval()
    benches = real_benchmarks(d, "test", cfg.n_eval)
    with demo_precision(cfg.bf16):
        t = time.perf_counter(); judge = real_judge(m, tok, d, cfg); calib = time.perf_counter() - t
        times = {"text rules": [], "with the test": []}
        for _ in range(a.repeats):
            for name, j in (("text rules", None), ("with the test", judge)):
                t = time.perf_counter(); real_eval_result(m, tok, benches, cfg, judge=j); times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"SmolLM2 base, {cfg.n_eval} + {cfg.n_eval} + {cfg.n_eval // 2} test prompts, {cfg.max_new_tokens} new tokens, "
          f"median of {a.repeats} (seconds)")
    for k, v in med.items(): print(f"{k:<16}{v:>8.1f}")
    print(f"{'ratio':<16}{med['with the test'] / med['text rules']:>8.3f}")
    print(f"calibration (once per demo run, τ = {judge.incoherent.threshold:.3f}): {calib:.1f} s")
