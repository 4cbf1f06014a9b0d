#!/usr/bin/python3
"""Loads every hostile case of testdata/hostile with torch.load(weights_only=True) and
records what PyTorch does, for the README's security table.

    /usr/bin/python3 scripts/hostile_torch.py [--timeout S] [--memory MiB] [--only NAME...]

Each file is loaded in a child process limited to --timeout seconds (default 30) and
--memory MiB of address space (ulimit -v; default 4096). Only weights_only=True is ever
used. The files torch.load does not read are given to the Python reader of their
format: numpy.load(allow_pickle=False) for .npz, reading every array; json.load for
.json; json.loads of the header for .safetensors (the safetensors package is not
installed). The results (reader, outcome, seconds, peak RSS) go to
testdata/hostile/torch.json; --only reruns the named cases and keeps the others.
"""
import argparse
import gzip
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
hostile = os.path.join(root, "testdata", "hostile")

CHILD = r"""
import json, struct, sys
path = sys.argv[1]
if path.endswith(".npz"):
    import numpy
    with numpy.load(path, allow_pickle=False) as z:
        for name in z.files:
            z[name]
elif path.endswith(".json"):
    with open(path) as f:
        json.load(f)
elif path.endswith(".safetensors"):
    with open(path, "rb") as f:
        n, = struct.unpack("<Q", f.read(8))
        json.loads(f.read(n))
else:
    import torch
    torch.load(path, weights_only=True)
"""


def reader(name):
    if name.endswith(".npz"):
        return "numpy.load(allow_pickle=False)"
    if name.endswith(".json"):
        return "json.load"
    if name.endswith(".safetensors"):
        return "json.loads of the header"
    return "torch.load(weights_only=True)"


def run(path, timeout, memory):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory << 20, memory << 20))
    with tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, path], stdout=subprocess.DEVNULL,
                                stderr=err, preexec_fn=limit, start_new_session=True)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - start
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    last = lines[-1] if lines else ""
    # torch wraps the unpickler's error in a long warning; keep the error.
    last = last.split("WeightsUnpickler error: ")[-1]
    if timed_out:
        outcome = f"still running after {timeout:g} s (killed)"
    elif proc.returncode < 0:
        outcome = f"crashed: {signal.Signals(-proc.returncode).name}"
    elif proc.returncode == 0:
        outcome = "loaded"
    elif "MemoryError" in last or "DefaultCPUAllocator" in last or "bad_alloc" in last:
        outcome = "out of memory: " + last[:200]
    else:
        outcome = "refused: " + last[:200]
    return dict(outcome=outcome, seconds=round(elapsed, 2), peak_rss_mib=usage.ru_maxrss >> 10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--memory", type=int, default=4096)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    import numpy
    import torch
    with open(os.path.join(hostile, "cases.json")) as f:
        cases = json.load(f)
    results = {"cases": {}}
    if args.only:
        with open(os.path.join(hostile, "torch.json")) as f:
            results = json.load(f)
        cases = [c for c in cases if c["name"] in args.only]
    results.update({"torch": torch.__version__, "numpy": numpy.__version__, "python": sys.version.split()[0],
                    "timeout_s": args.timeout, "memory_limit_mib": args.memory})
    tmp = tempfile.mkdtemp()
    try:
        for c in cases:
            src = os.path.join(hostile, c["file"])
            path = os.path.join(tmp, c["name"])
            if c["file"].endswith(".gz"):
                with gzip.open(src) as fin, open(path, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            else:
                shutil.copy(src, path)
            r = run(path, args.timeout, args.memory)
            r["reader"] = reader(c["name"])
            os.remove(path)
            results["cases"][c["name"]] = r
            print(f"{c['name']:28} {r['seconds']:7.2f} s  {r['outcome']}", flush=True)
    finally:
        shutil.rmtree(tmp)
    for name, r in results["cases"].items():
        r["reader"] = reader(name)
    with open(os.path.join(hostile, "torch.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
        f.write("\n")


main()
