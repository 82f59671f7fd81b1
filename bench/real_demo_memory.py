"""The real-model demo's memory: peak resident memory (RSS) of `safetune demo --model smollm2-135m-instruct`, stage by stage.

    python bench/real_demo_memory.py                    # --quick (about 5 minutes on 2 cores)
    python bench/real_demo_memory.py --full             # the demo itself (about 18 minutes)
    python bench/real_demo_memory.py --mmap-threshold 1048576   # and a second run under glibc's MALLOC_MMAP_THRESHOLD_

Each run is a fresh process doing what the command does (`real_demo.real_demo`, the zoo model from the cache) into a
temporary directory, while a thread samples its RSS every 0.2 s. A sample belongs to the stage whose time span
(`Comparison.stages`, consecutive) contains it. At the end the process reports the bytes its arms' models hold
(distinct storages: every trained arm keeps a full merged copy of the model until scoring), and its RSS after
`gc.collect()` and after glibc's `malloc_trim(0)`: the difference is heap that was freed but not returned to the
system. With `--mmap-threshold` the same demo runs again with a fixed glibc mmap threshold (large tensors mmapped, so
freed ones go back at once); the table prints both runs and the ratio of each figure, measured in this run. Linux
(glibc) only.
"""
import argparse, json, os, subprocess, sys, tempfile, time

RUN = r'''
import ctypes, gc, json, sys, threading, time, psutil
from safetune.real_demo import real_demo
proc, samples, done = psutil.Process(), [], threading.Event()
def sample():
    while not done.is_set(): samples.append((time.perf_counter(), proc.memory_info().rss)); time.sleep(0.2)
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
c = real_demo(sys.argv[1], quick={quick}, progress=False)
wall = time.perf_counter() - t0; done.set()
peaks, end = {{}}, t0
for stage, secs in c.stages.items():
    start, end = end, end + secs
    peaks[stage] = max([r for t, r in samples if start <= t < end] or [0])
seen, live = set(), 0
for a in c.arms:
    for p in list(a.model.parameters()) + list(a.model.buffers()):
        if (ptr := p.untyped_storage().data_ptr()) not in seen: seen.add(ptr); live += p.untyped_storage().nbytes()
gc.collect(); after_gc = proc.memory_info().rss
ctypes.CDLL("libc.so.6").malloc_trim(0); after_trim = proc.memory_info().rss
json.dump(dict(peaks=peaks, peak=max(r for _, r in samples), live_models=live, models=len({{id(a.model) for a in c.arms}}),
               after_gc=after_gc, after_trim=after_trim, wall=wall), open(sys.argv[2], "w"))
'''

def measured_demo(quick:bool, env:dict) -> dict:
    "One demo in a fresh process: its peak RSS per stage and overall, the models' bytes, RSS after gc and malloc_trim."
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([sys.executable, "-c", RUN.format(quick=quick), f"{d}/out", f"{d}/mem.json"], capture_output=True,
                           text=True, env=env)
        if r.returncode: sys.exit(f"the demo failed:\n{r.stderr[-3000:]}")
        return json.load(open(f"{d}/mem.json"))

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="the full demo instead of --quick")
    ap.add_argument("--mmap-threshold", type=int, default=None, metavar="BYTES",
                    help="also run with MALLOC_MMAP_THRESHOLD_=BYTES and print the ratio to the default run")
    a = ap.parse_args()
    runs = {"default": measured_demo(not a.full, dict(os.environ))}
    if a.mmap_threshold: runs[f"mmap ≥ {a.mmap_threshold}"] = measured_demo(not a.full, dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(a.mmap_threshold)))
    gib = lambda b: b / 2**30
    print(f"safetune demo --model smollm2-135m-instruct{'' if a.full else ' --quick'}: peak RSS (GiB) per stage")
    print(f"{'':<28}" + "".join(f"{n:>18}" for n in runs) + ("         ratio" if len(runs) == 2 else ""))
    first = next(iter(runs.values()))
    rows = [(f"stage: {s}", lambda r, s=s: gib(r["peaks"][s])) for s in first["peaks"]]
    rows += [("peak (whole run)", lambda r: gib(r["peak"])), ("arms' models (live)", lambda r: gib(r["live_models"])),
             ("RSS at the end, after gc", lambda r: gib(r["after_gc"])), ("... after malloc_trim", lambda r: gib(r["after_trim"])),
             ("wall seconds", lambda r: r["wall"])]
    for name, f in rows:
        v = [f(r) for r in runs.values()]
        print(f"{name:<28}" + "".join(f"{x:>18.2f}" for x in v) + (f"{v[1] / v[0]:>14.3f}" if len(v) == 2 and v[0] else ""))
    print(f"distinct models held by the arms: {first['models']}")
