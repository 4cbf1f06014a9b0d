#!/usr/bin/python3
"""Times torch.nn.RNN/LSTM/GRU forward on the CPU for the benchmark rows.

    bench_torch.py [BUDGET_SECONDS [ROW,ROW...]]

Prints one JSON object: {"torch": version, "procs": cores, "rows": [{"name", "ms",
"threads"}...]}. Each row's time is the median of repeated forward passes (eval mode,
no_grad, float32, about BUDGET_SECONDS of them, default 2) taken as the best over
torch.set_num_threads(1) and (2). ROWS are the same as rnn/bench_test.go's benchRows.
"""
import json
import os
import statistics
import sys
import time

import torch

ROWS = [
    # name, mode, input, hidden, layers, seq, batch
    ("notebook", "RNN", 2, 4, 1, 3, 1),
    ("stream", "RNN", 64, 256, 2, 1000, 1),
    ("small", "RNN", 64, 128, 1, 100, 32),
    ("medium", "RNN", 128, 256, 2, 100, 32),
    ("large", "RNN", 512, 1024, 1, 50, 32),
    ("lstm", "LSTM", 128, 256, 2, 100, 32),
    ("gru", "GRU", 128, 256, 2, 100, 32),
]


def median_ms(fn, budget_s):
    fn()  # warm up
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-6)
    reps = max(5, min(2000, int(budget_s / one)))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main():
    budget = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    only = set(sys.argv[2].split(",")) if len(sys.argv) > 2 and sys.argv[2] else None
    torch.manual_seed(0)
    out = []
    for name, mode, inp, hid, layers, seq, batch in ROWS:
        if only and name not in only:
            continue
        cls = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[mode]
        m = cls(inp, hid, layers).eval()
        x = torch.randn(seq, batch, inp)
        best = None
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with torch.no_grad():
                ms = median_ms(lambda: m(x), budget)
            if best is None or ms < best[0]:
                best = (ms, threads)
        out.append({"name": name, "ms": best[0], "threads": best[1]})
    print(json.dumps({"torch": torch.__version__, "procs": os.cpu_count(), "rows": out}))


if __name__ == "__main__":
    main()
