#!/usr/bin/python3
"""Times torch.nn.RNN/LSTM/GRU forward on the CPU for the benchmark rows.

    bench_torch.py [BUDGET_SECONDS [ROW,ROW...]]

Prints one JSON object: {"torch": version, "procs": cores, "rows": [{"name", "ms",
"threads", "ms_by_threads", "cpu_ms_by_threads"}...]}; cpu_ms_by_threads holds the
medians of the process's processor time per forward pass. Each row's time is the median of repeated forward
passes (eval mode, no_grad, about BUDGET_SECONDS of them, default 2) taken as the best
over torch.set_num_threads(1) and (2). ROWS are the same as rnn/bench_test.go's
benchRows; model(row) builds a row's module and input, seeded, for bench_export.py too.
"""
import json
import os
import statistics
import sys
import time

import torch

# name, mode, input, hidden, layers, seq, batch, bidirectional, dtype
ROWS = [
    ("notebook", "RNN", 2, 4, 1, 3, 1, False, "float32"),
    ("stream", "RNN", 64, 256, 2, 1000, 1, False, "float32"),
    ("small", "RNN", 64, 128, 1, 100, 32, False, "float32"),
    ("medium", "RNN", 128, 256, 2, 100, 32, False, "float32"),
    ("large", "RNN", 512, 1024, 1, 50, 32, False, "float32"),
    ("lstm", "LSTM", 128, 256, 2, 100, 32, False, "float32"),
    ("gru", "GRU", 128, 256, 2, 100, 32, False, "float32"),
    ("lstm_stream", "LSTM", 128, 512, 1, 200, 1, False, "float32"),
    ("lstm_large", "LSTM", 1024, 1024, 2, 64, 64, False, "float32"),
    ("gru_small", "GRU", 32, 64, 1, 50, 8, False, "float32"),
    ("bilstm", "LSTM", 128, 256, 2, 100, 32, True, "float32"),
    ("medium64", "RNN", 128, 256, 2, 100, 32, False, "float64"),
    ("lstm64", "LSTM", 128, 256, 2, 100, 32, False, "float64"),
    ("gru64", "GRU", 128, 256, 2, 100, 32, False, "float64"),
    ("lstm_stream64", "LSTM", 128, 512, 1, 200, 1, False, "float64"),
]

NAMES = [r[0] for r in ROWS]


def select(arg):
    """Returns the rows named in the comma-separated arg (all when empty), in ROWS order;
    an unknown name is an error."""
    if not arg:
        return list(ROWS)
    want = arg.split(",")
    unknown = [w for w in want if w not in NAMES]
    if unknown:
        sys.exit("unknown rows %s; the rows are %s" % (",".join(unknown), ",".join(NAMES)))
    return [r for r in ROWS if r[0] in want]


def model(row):
    """Returns (module, input) for row, in eval mode, from a seed of the row's own."""
    name, mode, inp, hid, layers, seq, batch, bidir, dtype = row
    torch.manual_seed(NAMES.index(name))
    cls = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[mode]
    dt = getattr(torch, dtype)
    m = cls(inp, hid, layers, bidirectional=bidir).to(dt).eval()
    x = torch.randn(seq, batch, inp, dtype=dt)
    return m, x


def median_ms(fn, budget_s):
    """Returns the medians of the wall time and of the process's processor time of
    repeated calls of fn, in milliseconds."""
    fn()  # warm up
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-6)
    reps = max(5, min(2000, int(budget_s / one)))
    times, cpu = [], []
    for _ in range(reps):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times) * 1e3, statistics.median(cpu) * 1e3


def main():
    budget = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    rows = select(sys.argv[2] if len(sys.argv) > 2 else "")
    out = []
    for row in rows:
        m, x = model(row)
        by, cpu = {}, {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with torch.no_grad():
                by[str(threads)], cpu[str(threads)] = median_ms(lambda: m(x), budget)
        best = min(by, key=by.get)
        out.append({"name": row[0], "ms": by[best], "threads": int(best), "ms_by_threads": by,
                    "cpu_ms_by_threads": cpu})
    print(json.dumps({"torch": torch.__version__, "procs": os.cpu_count(), "rows": out}))


if __name__ == "__main__":
    main()
