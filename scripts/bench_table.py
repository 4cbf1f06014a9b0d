#!/usr/bin/python3
"""Prints the tables of scripts/bench from the files it wrote to DIR.

    bench_table.py DIR

DIR holds torch.jsonl (bench_torch.py's objects, one per row and round), ort.jsonl
(bench_ort.js's, likewise), go.txt (the BenchmarkForward lines of go test -cpu 1 and -cpu 2),
gemm.txt (BenchmarkGemm lines, one core), peak.json (fma_peak's), errors.json
(bench_export.py compare's) and machine.json ({"cpu", "cores", "load_before",
"load_after", "go"}). Times are medians: PyTorch's and ONNX Runtime's over the rounds
(each itself a median of repeated runs), Go's over all its runs. Prints markdown: the
float32 rows against PyTorch and ONNX Runtime, the float64 rows against PyTorch, the
largest matrix products on one core, and a paragraph on the machine and the targets.

Fractions of peak: "% of peak" is ptport's GFLOP/s (wall time) over the 2-core FMA peak;
"% per busy core" its cpu-GFLOP/s (work over the processor time the process used, so
over the cores it kept busy, spinning included, and not lowered by time slices given to
other processes) over the 1-core peak. Both peaks are fma_peak's, per thread processor
time (f32_cpu, f64_cpu), the best of its runs. The products' "% of peak beside it" is
BenchmarkGemm's %peak: the median share of the FMA peak measured in the same process
right after each round of the product (rnn's reportPeakShare), which the machine's drift
from one second to the next does not skew.
"""
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import ROWS  # noqa: E402


def jsonl(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def med(v):
    return statistics.median(v) if v else None


def fmt(v, f="%.3f"):
    return f % v if v is not None else "—"


def main():
    d = sys.argv[1]
    peak = json.load(open(os.path.join(d, "peak.json")))
    mach = json.load(open(os.path.join(d, "machine.json")))
    errs = {r["name"]: r["max_abs_err"] for r in json.load(open(os.path.join(d, "errors.json")))["rows"]}

    pt, ptcpu, version, rounds = {}, {}, "?", 0
    for o in jsonl(os.path.join(d, "torch.jsonl")):
        version = o["torch"]
        for r in o["rows"]:
            pt.setdefault(r["name"], []).append(r["ms"])
            if "cpu_ms_by_threads" in r:
                ptcpu.setdefault(r["name"], []).append(r["cpu_ms_by_threads"]["1"])
    ort, ort_err, ort_version = {}, {}, "?"
    for o in jsonl(os.path.join(d, "ort.jsonl")):
        ort_version = o["ort"]
        for r in o["rows"]:
            for t, ms in r["ms_by_threads"].items():
                ort.setdefault((r["name"], t), []).append(ms)
            for t, ms in r.get("cpu_ms_by_threads", {}).items():
                ort.setdefault((r["name"], "cpu" + t), []).append(ms)
            ort_err[r["name"]] = max(ort_err.get(r["name"], 0), r["max_abs_err"])
    go, gflops, cpuflops = {}, {}, {}
    for line in open(os.path.join(d, "go.txt")):
        m = re.match(r"BenchmarkForward/(\w+?)(?:-(\d+))?\s+\d+\s+([\d.]+) ns/op\s+([\d.]+) GFLOP/s"
                     r"(?:\s+([\d.]+) cpu-GFLOP/s)?", line)
        if m:
            key = (m.group(1), m.group(2) or "1")
            go.setdefault(key, []).append(float(m.group(3)) / 1e6)
            gflops.setdefault(key, []).append(float(m.group(4)))
            if m.group(5):
                cpuflops.setdefault(key, []).append(float(m.group(5)))
                # processor time per forward pass: the work over the work per processor second
                go.setdefault((key[0], "cpu" + key[1]), []).append(
                    float(m.group(3)) / 1e6 * float(m.group(4)) / float(m.group(5)))
    gemm = {}
    if os.path.exists(os.path.join(d, "gemm.txt")):
        for line in open(os.path.join(d, "gemm.txt")):
            m = re.match(r"BenchmarkGemm/(\d+x\d+x\d+)/(\w+)(?:-\d+)?\s+\d+\s+[\d.]+ ns/op"
                         r"(?:\s+([\d.]+) %peak)?\s+([\d.]+) GFLOP/s(?:\s+([\d.]+) cpu-GFLOP/s)?", line)
            if m:
                g = gemm.setdefault((m.group(1), m.group(2)), ([], [], []))
                g[0].append(float(m.group(4)))
                if m.group(5):
                    g[1].append(float(m.group(5)))
                if m.group(3):
                    g[2].append(float(m.group(3)))
    rounds = max((len(v) for v in pt.values()), default=0)
    runs = max((len(v) for v in go.values()), default=0)

    worst_ort, worst_lstm, worst_pt = 0.0, 0.0, 0.0
    f32 = [r for r in ROWS if r[8] == "float32"]
    f64 = [r for r in ROWS if r[8] == "float64"]
    print("| name | mode input/hidden/layers, seq, batch | PyTorch ms | ORT 1 thread ms | ORT 2 threads ms "
          "| ptport 1 core ms | ptport ms | ptport/PyTorch | ptport/ORT | 2 cores/1 | ptport GFLOP/s | % of peak "
          "| % per busy core | max abs err ORT, ptport |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in f32:
        name = row[0]
        p, g1, g2 = med(pt.get(name)), med(go.get((name, "1"))), med(go.get((name, "2")))
        o1, o2 = med(ort.get((name, "1"))), med(ort.get((name, "2")))
        if g2 is None:
            continue
        ob = min(v for v in (o1, o2) if v is not None) if (o1 or o2) else None
        rp = g2 / p if p else None
        ro = g2 / ob if ob else None
        if rp:
            worst_pt = max(worst_pt, rp)
        if ro:
            worst_ort = max(worst_ort, ro)
            if row[1] == "LSTM":
                worst_lstm = max(worst_lstm, ro)
        gf, cf = med(gflops.get((name, "2"))), med(cpuflops.get((name, "2")))
        print("| %s | %s%s %d/%d/%d, %d, %d | %s | %s | %s | %s | %s | %s | **%s** | %s | %.1f | %.0f%% | %s | %s, %s |" % (
            name, "bidirectional " if row[7] else "", row[1], row[2], row[3], row[4], row[5], row[6],
            fmt(p), fmt(o1), fmt(o2), fmt(g1), fmt(g2), fmt(rp, "%.2f"), fmt(ro, "%.2f"),
            fmt(g1 / g2 if g1 else None, "%.2f"), gf, 100 * gf / peak["f32_cpu"]["2"],
            fmt(100 * cf / peak["f32_cpu"]["1"] if cf else None, "%.0f%%"),
            fmt(ort_err.get(name), "%.1e"), fmt(errs.get(name), "%.1e")))
    print()
    print("| name (float64) | mode input/hidden/layers, seq, batch | PyTorch ms | ptport 1 core ms | ptport ms "
          "| ptport/PyTorch | ptport GFLOP/s | % of peak | % per busy core | max abs err |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in f64:
        name = row[0]
        p, g1, g2 = med(pt.get(name)), med(go.get((name, "1"))), med(go.get((name, "2")))
        if g2 is None:
            continue
        gf, cf = med(gflops.get((name, "2"))), med(cpuflops.get((name, "2")))
        print("| %s | %s %d/%d/%d, %d, %d | %s | %s | %s | %s | %.1f | %.0f%% | %s | %s |" % (
            name, row[1], row[2], row[3], row[4], row[5], row[6], fmt(p), fmt(g1), fmt(g2),
            fmt(g2 / p if p else None, "%.2f"), gf, 100 * gf / peak["f64_cpu"]["2"],
            fmt(100 * cf / peak["f64_cpu"]["1"] if cf else None, "%.0f%%"), fmt(errs.get(name), "%.1e")))
    print()
    if gemm:
        have = {k for _, k in gemm}
        sets = [next(k for k in ("avx512", "avx2", "go") if k in have)]  # the kernels Forward uses
        print("| product m×n×k (one core) | " + " | ".join(
            "%s GFLOP/s | %s cpu-GFLOP/s | %s %% of peak | %s %% of peak beside it" % (k, k, k, k) for k in sets)
              + " | gonum Sgemm GFLOP/s |")
        print("|---|" + "---:|" * (4 * len(sets) + 1))
        for shape in dict.fromkeys(sh for sh, _ in gemm):
            cells = []
            for k in sets:
                w, c, share = gemm.get((shape, k), ([], [], []))
                cells += [fmt(med(w), "%.1f"), fmt(med(c), "%.1f"),
                          fmt(100 * med(c) / peak["f32_cpu"]["1"] if c else None, "%.0f%%"),
                          fmt(med(share), "%.0f%%")]
            cells.append(fmt(med(gemm.get((shape, "gonum"), ([], [], []))[0]), "%.1f"))
            print("| %s | %s |" % (shape, " | ".join(cells)))
        print()
    print("| name (one core, processor time) | PyTorch ms | ORT ms | ptport ms | ptport/PyTorch | ptport/ORT |")
    print("|---|---:|---:|---:|---:|---:|")
    worst_cpu = 0.0
    for row in ROWS:
        name = row[0]
        p, o, g = med(ptcpu.get(name)), med(ort.get((name, "cpu1"))), med(go.get((name, "cpu1")))
        if g is None:
            continue
        if o:
            worst_cpu = max(worst_cpu, g / o)
        print("| %s | %s | %s | %s | %s | %s |" % (name, fmt(p), fmt(o), fmt(g), fmt(g / p if p else None, "%.2f"),
                                                   fmt(g / o if o else None, "%.2f")))
    print()
    print("(PyTorch and ONNX Runtime with 1 thread, ptport with GOMAXPROCS 1: the processor time of a forward "
          "pass, which other processes on the machine lengthen much less than the wall time; worst ptport/ORT "
          "%.2f.)" % worst_cpu)
    print()
    s1, s2 = med(go.get(("lstm_stream", "1"))), med(go.get(("lstm_stream", "2")))
    print("Machine: %s, %s cores, %s; measured FMA peak (scripts/fma_peak.c, per thread processor time) %.0f "
          "GFLOP/s float32 on 1 core, %.0f on 2, %.0f and %.0f float64; load average %s before, %s after. PyTorch %s (OpenBLAS), best of "
          "1 and 2 threads, median over %d rounds; ONNX Runtime %s (onnxruntime-node, CPU), its model exported "
          "by torch.onnx (opset 14), median over %d rounds per thread count (ptport/ORT against the better); "
          "ptport (%s) median of %d runs of go test -bench per column, GOMAXPROCS 1 and 2. GFLOP/s count the "
          "matrix products' multiply-adds twice; %% of peak is GFLOP/s over the 2-core peak, %% per busy core "
          "cpu-GFLOP/s (over the processor time used) over the 1-core peak."
          % (mach["cpu"], mach["cores"], peak["isa"].upper(), peak["f32_cpu"]["1"], peak["f32_cpu"]["2"],
             peak["f64_cpu"]["1"], peak["f64_cpu"]["2"], mach["load_before"], mach["load_after"], version, rounds,
             ort_version, rounds, mach["go"], runs))
    print()
    print("Worst ptport/ORT %.2f (LSTM rows %.2f), worst ptport/PyTorch %.2f; batch-1 LSTM 128/512 on 2 cores "
          "is %s× its 1-core speed." % (worst_ort, worst_lstm, worst_pt, fmt(s1 / s2 if s1 and s2 else None, "%.2f")))


if __name__ == "__main__":
    main()
