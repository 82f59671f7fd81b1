"""Benchmark the model organism: build time from a cold cache, cached load time, build determinism, and the pin.

    python bench/organism.py            # two cold rebuilds (separate caches) + cached loads in fresh processes

The default organism ships pinned in the package (`safetune.organism.PINNED_HASH`); this bench rebuilds it from code
(`load_organism(pinned=False)` in an empty cache), loads the rebuild from the cache, and says whether this machine reproduces the pin.

Targets (issue: the model organism): build <= 120 s on 2 CPU cores, cached load <= 10 s, identical weights for the
same seed. Each figure is printed with its ratio to the target; run it on an otherwise idle machine.
"""
import json, os, subprocess, sys, tempfile, time

BUILD = "from safetune.organism import load_organism; import json,time; t=time.time(); o=load_organism(pinned=False, progress=False); " \
        "print(json.dumps(dict(built=o.built, seconds=time.time()-t, hash=o.meta['tensor_hash'], threads=o.meta['torch_threads'])))"

def run(cache):
    "Load (building if needed) in a fresh process; returns the loader's json line and the process wall time."
    t = time.time()
    r = subprocess.run([sys.executable, "-c", BUILD], env={**os.environ, "SAFETUNE_CACHE": cache}, capture_output=True, text=True)
    if r.returncode: sys.exit(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1]), time.time() - t

if __name__ == "__main__":
    builds, loads = [], []
    for i in range(2):
        cache = tempfile.mkdtemp(prefix="safetune-bench-")
        b, wall = run(cache); assert b["built"]; builds.append((b, wall))
        l, lwall = run(cache); assert not l["built"]; loads.append((l, lwall))
        print(f"build {i}: {b['seconds']:.1f} s in load_organism ({wall:.1f} s process wall, {b['threads']} threads), "
              f"ratio to the 120 s target {wall / 120:.2f}; cached load {l['seconds']:.2f} s ({lwall:.1f} s process wall), "
              f"ratio to the 10 s target {lwall / 10:.2f}")
    same = builds[0][0]["hash"] == builds[1][0]["hash"]
    print(f"determinism: tensor hashes {builds[0][0]['hash']} / {builds[1][0]['hash']} -> {'identical' if same else 'DIFFERENT'}")
    from safetune.organism import PINNED_HASH
    print(f"the pin: {PINNED_HASH} -> this machine {'reproduces it' if builds[0][0]['hash'] == PINNED_HASH else 'builds other weights'}")
    sys.exit(0 if same else 1)
