"""`safetune --help` and `--version` start-up time against a bare Python start (issue target: the help in at most 1 s).

Each figure is the median wall time of `--reps` runs of a whole process; the ratio is against `python -c pass` measured in
the same run. The subcommands' own help (`safetune train ta-sft --help`) reads the configs' flags from
`safetune/config_flags.json` instead of importing torch and transformers to build them.
"""
import argparse, statistics, subprocess, sys, time
from pathlib import Path

def median_seconds(cmd:list[str], reps:int) -> float:
    "Median wall time of running `cmd` `reps` times (output discarded)."
    times = []
    for _ in range(reps):
        t = time.perf_counter(); subprocess.run(cmd, capture_output=True, check=True); times.append(time.perf_counter() - t)
    return statistics.median(times)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0]); ap.add_argument("--reps", type=int, default=5); a = ap.parse_args()
    exe = str(Path(sys.executable).with_name("safetune"))
    base = median_seconds([sys.executable, "-c", "pass"], a.reps)
    for name, cmd in (("safetune --help", [exe, "--help"]), ("safetune --version", [exe, "--version"]),
                      ("safetune train ta-sft --help", [exe, "train", "ta-sft", "--help"])):
        s = median_seconds(cmd, a.reps)
        print(f"{name:32s} {s:6.3f} s  ({s / base:5.1f}x a bare python start of {base:.3f} s)")
