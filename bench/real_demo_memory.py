"""The real-model demo's memory: peak resident memory (RSS) of `safetune demo --model smollm2-135m-instruct`, stage by stage.

    python bench/real_demo_memory.py                    # --quick: releasing each arm's weights after scoring vs keeping them (about 13 minutes on 2 cores)
    python bench/real_demo_memory.py --full             # the demo itself (about 40 minutes)
    python bench/real_demo_memory.py --mmap-threshold 1048576   # and a third run under glibc's MALLOC_MMAP_THRESHOLD_

Each run is a fresh process doing what the command does (`real_demo.run_real_comparison`, the zoo model from the cache),
while a thread samples its RSS every 0.2 s. A sample belongs to the stage that started last (a stage starts where the
demo reseeds). Two runs, in this order: **kept**, `RealDemoConfig(keep_models=True)`, every trained arm keeping its full
merged copy of the model until the end (the demo before arms were scored as soon as trained), and **released**, the
demo's default, each trained arm scored at once and its copy dropped. At the end each process reports the bytes its
arms' models still hold (distinct storages), and its RSS after `gc.collect()` and after glibc's `malloc_trim(0)`: the
difference is heap that was freed but not returned to the system. The table prints both runs and the ratio released /
kept, measured in this run, and checks that both runs' tables are equal (all but the wall-clock columns). With
`--mmap-threshold` the released demo runs a third time with a fixed glibc mmap threshold (large tensors mmapped, so
freed ones go back at once). Linux (glibc) only.
"""
import argparse, json, os, subprocess, sys, tempfile

RUN = r'''
import ctypes, gc, json, sys, threading, time, psutil
import safetune.real_demo as rd
proc, samples, starts, done = psutil.Process(), [], [], threading.Event()
def sample():
    while not done.is_set(): samples.append((time.perf_counter(), proc.memory_info().rss)); time.sleep(0.2)
reseed = rd.seed_everything
def stage_start(seed): starts.append(time.perf_counter()); return reseed(seed)   # every stage of the demo starts by reseeding
rd.seed_everything = stage_start
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
cfg = (rd.RealDemoConfig.quick if {quick} else rd.RealDemoConfig)(keep_models={keep})
c = rd.run_real_comparison("smollm2-135m-instruct", cfg, progress=False)
wall = time.perf_counter() - t0; done.set()
peaks = {{}}
for name, start, end in zip(c.stages, starts, starts[1:] + [float("inf")]):
    peaks[name] = max([r for t, r in samples if start <= t < end] or [0])
seen, live = set(), 0
for a in c.arms:
    if a.model is None: continue
    for p in list(a.model.parameters()) + list(a.model.buffers()):
        if (ptr := p.untyped_storage().data_ptr()) not in seen: seen.add(ptr); live += p.untyped_storage().nbytes()
c.table.drop(columns=["cost_s", "decode_s"]).to_csv(sys.argv[2])
del c; gc.collect(); after_gc = proc.memory_info().rss
ctypes.CDLL("libc.so.6").malloc_trim(0); after_trim = proc.memory_info().rss
json.dump(dict(peaks=peaks, peak=max(r for _, r in samples), live_models=live, after_gc=after_gc, after_trim=after_trim, wall=wall),
          open(sys.argv[1], "w"))
'''

def measured_demo(quick:bool, keep:bool, env:dict) -> dict:
    "One demo in a fresh process: its peak RSS per stage and overall, the models' bytes, RSS after gc and malloc_trim, its table."
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([sys.executable, "-c", RUN.format(quick=quick, keep=keep), f"{d}/mem.json", f"{d}/table.csv"],
                           capture_output=True, text=True, env=env)
        if r.returncode: sys.exit(f"the demo failed:\n{r.stderr[-3000:]}")
        return json.load(open(f"{d}/mem.json")) | dict(table=open(f"{d}/table.csv").read())

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="the full demo instead of --quick")
    ap.add_argument("--mmap-threshold", type=int, default=None, metavar="BYTES",
                    help="also run the released demo with MALLOC_MMAP_THRESHOLD_=BYTES")
    a = ap.parse_args()
    runs = {"kept": measured_demo(not a.full, True, dict(os.environ)), "released": measured_demo(not a.full, False, dict(os.environ))}
    if a.mmap_threshold:
        runs[f"mmap ≥ {a.mmap_threshold}"] = measured_demo(not a.full, False, dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(a.mmap_threshold)))
    gib = lambda b: b / 2**30
    print(f"safetune demo --model smollm2-135m-instruct{'' if a.full else ' --quick'}: peak RSS (GiB) per stage")
    print(f"{'':<30}" + "".join(f"{n:>18}" for n in runs) + "  released / kept")
    rows = [(f"stage: {s}", lambda r, s=s: gib(r["peaks"][s])) for s in runs["kept"]["peaks"]]
    rows += [("peak (whole run)", lambda r: gib(r["peak"])), ("arms' models (live at the end)", lambda r: gib(r["live_models"])),
             ("RSS at the end, after gc", lambda r: gib(r["after_gc"])), ("... after malloc_trim", lambda r: gib(r["after_trim"])),
             ("wall seconds", lambda r: r["wall"])]
    for name, f in rows:
        v = [f(r) for r in runs.values()]
        print(f"{name:<30}" + "".join(f"{x:>18.2f}" for x in v) + (f"{v[1] / v[0]:>17.3f}" if v[0] else ""))
    same = runs["kept"]["table"] == runs["released"]["table"]
    print(f"the two runs' test tables (wall-clock columns aside) are {'identical' if same else 'DIFFERENT'}")
    if not same: sys.exit(1)
