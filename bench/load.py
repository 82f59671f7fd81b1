"""Runs on a busy machine: a short organism build and a short `safetune train ta-sft`, alone and beside CPU hogs.

    python bench/load.py                 # 3 hogs (a 3x load on 2 cores), each run alone and loaded, per setting
    python bench/load.py --settings spin auto     # before and after
    python bench/load.py --hogs 3 --build-examples 2000 --train-steps 30 --settings spin passive

Each workload runs in a fresh process (OpenMP reads its settings when torch loads) under each setting:
  spin     what a process got before: torch's default threads (one per CPU it may use) and OpenMP's default waiting,
           in which a thread that reaches a barrier spins for a while before it sleeps
  passive  OMP_WAIT_POLICY=PASSIVE: threads sleep at a barrier at once; the same threads
  auto     what the `safetune` command does now (`safetune.cli.passive_openmp_waits`): passive when other processes keep
           half a CPU or more busy as it starts, else OpenMP's default
  one      a single torch thread (no barrier at all; sums in another order, so numbers can differ in the last digits);
           training only, as the build fixes its thread count
A hog is `while True: pass` in its own process. The slowdown is loaded / idle wall time of the same setting; the issue's
target is <= 3x with 3 hogs on 2 cores. The build is the real build's code on fewer examples (its thread count is fixed
by `OrganismConfig.threads`, so waiting is the only knob it has); the training is the organism's TA-SFT recipe, cut short.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

BUILD = ("from safetune.cli import passive_openmp_waits\n{decide}"
         "from safetune.organism import OrganismConfig, train_organism\n"
         "train_organism(OrganismConfig(n_train={n}), progress=False)\n")
SETTINGS = {"spin": {}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}, "auto": {}, "one": {"OMP_NUM_THREADS": "1"}}

def timed(cmd:list[str], env:dict) -> float:
    "Wall seconds of one process; its stderr is shown if it fails."
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode: sys.exit(f"{' '.join(cmd[:4])} failed:\n{r.stderr[-2000:]}")
    return time.perf_counter() - t

def with_hogs(n:int, fn):
    "Run `fn()` while `n` busy-looping processes compete for the CPUs."
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try: time.sleep(1); return fn()
    finally:
        for h in hogs: h.kill()
        for h in hogs: h.wait()

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hogs", type=int, default=3, help="busy-looping processes beside the workload")
    ap.add_argument("--build-examples", type=int, default=2000, help="training examples of the short build (the real one: 26000)")
    ap.add_argument("--train-steps", type=int, default=30, help="optimizer steps of the short TA-SFT run")
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--workloads", nargs="+", default=["build", "train"], choices=["build", "train"])
    a = ap.parse_args()
    exe = str(Path(sys.executable).with_name("safetune"))
    tmp = Path(tempfile.mkdtemp(prefix="safetune-load-"))
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    base |= {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run([exe, "organism", "--out", tmp / "org"], env=base, capture_output=True, check=True)   # the world's files
    w = tmp / "org" / "world"
    train = [exe, "train", "ta-sft", "--model", "organism", "--sft", w / "train_benign.jsonl", "--harmful", w / "train_harmful.jsonl",
             "--max-steps", str(a.train_steps), "--no-progress", "--overwrite"]
    build = lambda s: [sys.executable, "-c", BUILD.format(n=a.build_examples, decide="passive_openmp_waits()\n" if s == "auto" else "")]
    print(f"{os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), {a.hogs} hogs")
    rows = []
    for work in a.workloads:
        for s in a.settings:
            if work == "build" and s == "one": continue   # the build sets its own thread count (OrganismConfig.threads)
            env = base | SETTINGS[s]
            cmd = build(s) if work == "build" else [*map(str, train), "--out", str(tmp / f"{work}-{s}")]
            if work == "train" and s == "spin":     # torch (and OpenMP) loaded before `safetune` can ask for passive waiting
                cmd = [sys.executable, "-c", "import sys, torch; from safetune.cli import main; sys.exit(main(sys.argv[1:]))", *cmd[1:]]
            idle = timed(cmd, env)
            loaded = with_hogs(a.hogs, lambda: timed(cmd, env))
            spin = next((r["idle_s"] for r in rows if r["workload"] == work and r["setting"] == "spin"), None)
            rows.append(dict(workload=work, setting=s, idle_s=round(idle, 1), loaded_s=round(loaded, 1), slowdown=round(loaded / idle, 2)))
            print(f"{work:6s} {s:8s} idle {idle:7.1f} s   beside {a.hogs} hogs {loaded:7.1f} s   slowdown {loaded / idle:5.2f}x"
                  + (f"   idle time / spin's idle time {idle / spin:.2f}" if spin else ""), flush=True)
    print(json.dumps(rows))
