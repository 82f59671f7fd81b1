"""The real-model demo's time: `safetune demo --model smollm2-135m-instruct`, in fp32 and in bf16 autocast, stage by stage.

    python bench/real_demo.py            # --quick, both precisions (about 17 minutes on 2 cores)
    python bench/real_demo.py --full     # the demo itself (the targets: <= 30 min, --quick <= 8 min, on 2 idle cores)
    python bench/real_demo.py --precisions bf16

Each run is a fresh process doing what the command does (`real_demo.real_demo`, the zoo model from the cache, the data in
../shared/data or $SAFETUNE_DATA) into a temporary directory; the table is its stage times (`Comparison.stages`) and the
ratio bf16 / fp32 of each. The first run converts SmolLM2 into the cache if it is not there yet: run it once before timing.
"""
import argparse, json, os, subprocess, sys, tempfile, time

RUN = ("import json, sys\nfrom safetune.real_demo import real_demo\n"
       "c = real_demo(sys.argv[1], quick={quick}, bf16={bf16}, progress=False)\n"
       "json.dump(c.stages, open(sys.argv[2], 'w'))\n")

def timed_demo(quick:bool, bf16:bool) -> tuple[float, dict]:
    "Wall seconds of one demo in a fresh process, and its stage times."
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", RUN.format(quick=quick, bf16=bf16), f"{d}/out", f"{d}/stages.json"],
                           capture_output=True, text=True, env=os.environ)
        secs = time.perf_counter() - t
        if r.returncode: sys.exit(f"the demo failed:\n{r.stderr[-3000:]}")
        return secs, json.load(open(f"{d}/stages.json"))

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="the full demo instead of --quick")
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    a = ap.parse_args()
    runs = {p: timed_demo(not a.full, p == "bf16") for p in a.precisions}
    stages = list(next(iter(runs.values()))[1])
    print(f"safetune demo --model smollm2-135m-instruct{'' if a.full else ' --quick'}: seconds per stage")
    print(f"{'stage':<24}" + "".join(f"{p:>10}" for p in runs) + ("     bf16/fp32" if len(runs) == 2 else ""))
    for s in stages + ["total (wall)"]:
        v = {p: (r[0] if s == "total (wall)" else r[1][s]) for p, r in runs.items()}
        print(f"{s:<24}" + "".join(f"{x:>10.1f}" for x in v.values()) + (f"{v['bf16'] / v['fp32']:>14.3f}" if len(runs) == 2 else ""))
