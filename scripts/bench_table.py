#!/usr/bin/python3
"""Prints the benchmark table of scripts/bench.

    bench_table.py TORCH_JSONL GO_BENCH_OUTPUT

TORCH_JSONL holds one JSON object per line as bench_torch.py prints them (one per row
and round); GO_BENCH_OUTPUT is the output of the Go benchmarks (BenchmarkForward/ROW
lines). PyTorch's time for a row is the median over its rounds, Go's the median of all
its runs. Prints a markdown table: name, shape, PyTorch ms, Go ms, Go/PyTorch.
"""
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import ROWS  # noqa: E402


def main():
    pt, version, cores = {}, "?", "?"
    for line in open(sys.argv[1]):
        if not line.strip():
            continue
        d = json.loads(line)
        version, cores = d["torch"], d.get("procs", "?")
        for r in d["rows"]:
            pt.setdefault(r["name"], []).append(r["ms"])
    runs = {}
    for line in open(sys.argv[2]):
        m = re.match(r"BenchmarkForward/(\w+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
        if m:
            runs.setdefault(m.group(1), []).append(float(m.group(2)) / 1e6)
    print("| name | mode input hidden layers seq batch | PyTorch ms | Go ms | Go/PyTorch |")
    print("|---|---|---:|---:|---:|")
    worst = 0.0
    for name, mode, inp, hid, layers, seq, batch in ROWS:
        if name not in pt or name not in runs:
            continue
        p = statistics.median(pt[name])
        g = statistics.median(runs[name])
        worst = max(worst, g / p)
        print("| %s | %s %d %d %d %d %d | %.3f | %.3f | %.2f |" % (
            name, mode, inp, hid, layers, seq, batch, p, g, g / p))
    print()
    nrounds = max(len(v) for v in pt.values()) if pt else 0
    nruns = max(len(v) for v in runs.values()) if runs else 0
    print("PyTorch %s (OpenBLAS): median over %d rounds of the median of repeated forward "
          "passes, best of 1 and 2 threads. Go: median of %d runs of go test -bench, "
          "GOMAXPROCS = %s cores. Worst ratio %.2f." % (version, nrounds, nruns, cores, worst))


if __name__ == "__main__":
    main()
