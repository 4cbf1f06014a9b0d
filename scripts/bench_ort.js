#!/usr/bin/env node
// Times ONNX Runtime (the npm package onnxruntime-node, its CPU execution provider) on the
// benchmark rows that bench_export.py wrote, and checks its outputs against PyTorch's.
//
//   node scripts/bench_ort.js DIR [BUDGET_SECONDS [ROW,ROW... [THREADS,THREADS...]]]
//
// For each row with an NAME.onnx in DIR and each intra-op thread count (default 1,2), it
// makes a session (sequential execution, one inter-op thread, every graph optimization),
// runs it once and compares every output with NAME.ref.bin, then takes the median of
// repeated runs over about BUDGET_SECONDS (default 1). Prints one JSON object:
//
//   {"ort": version, "rows": [{"name", "ms_by_threads": {"1": ms, ...}, "cpu_ms_by_threads",
//    "max_abs_err"}]}
//
// cpu_ms_by_threads is the median processor time of the process per run (all its threads,
// spinning ones included), which time slices given to other processes do not inflate.
// max_abs_err is the largest absolute difference from PyTorch over all outputs and thread
// counts. Install the package first (its CPU library is inside it; the skip keeps its
// install script from fetching GPU binaries):
//
//   (cd scripts && ONNXRUNTIME_NODE_INSTALL=skip npm ci)
"use strict";
const fs = require("fs");
const path = require("path");
const ort = require("onnxruntime-node");

function floats(file, dtype) {
  const buf = fs.readFileSync(file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return dtype === "float64" ? new Float64Array(ab) : new Float32Array(ab);
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

async function timeRow(dir, name, budget, threads) {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, name + ".json"), "utf8"));
  const x = new ort.Tensor(meta.dtype, floats(path.join(dir, name + ".x.bin"), meta.dtype), meta.input);
  const ref = floats(path.join(dir, name + ".ref.bin"), meta.dtype);
  const res = { name, ms_by_threads: {}, cpu_ms_by_threads: {}, max_abs_err: 0 };
  for (const t of threads) {
    const session = await ort.InferenceSession.create(path.join(dir, name + ".onnx"), {
      intraOpNumThreads: t,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
    const feeds = { [session.inputNames[0]]: x };
    const got = await session.run(feeds);
    let off = 0;
    for (const o of meta.outputs) {
      const v = got[o.name];
      const n = o.shape.reduce((a, b) => a * b, 1);
      if (!v || v.data.length !== n) {
        throw new Error(`${name}: ONNX Runtime's ${o.name} has ${v ? v.data.length : 0} values, PyTorch's ${n}`);
      }
      for (let i = 0; i < n; i++) {
        const e = Math.abs(v.data[i] - ref[off + i]);
        if (!(e <= res.max_abs_err)) res.max_abs_err = Number.isNaN(e) ? Infinity : e;
      }
      off += n;
    }
    let t0 = process.hrtime.bigint();
    await session.run(feeds);
    const one = Math.max(Number(process.hrtime.bigint() - t0) / 1e9, 1e-6);
    const reps = Math.max(5, Math.min(2000, Math.floor(budget / one)));
    const times = [];
    const cpu = [];
    for (let r = 0; r < reps; r++) {
      const c0 = process.cpuUsage();
      t0 = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1e3);
    }
    res.ms_by_threads[String(t)] = median(times);
    res.cpu_ms_by_threads[String(t)] = median(cpu);
    await session.release();
  }
  return res;
}

async function main() {
  const [dir, budgetArg, rowsArg, threadsArg] = process.argv.slice(2);
  if (!dir) {
    console.error("usage: bench_ort.js DIR [BUDGET_SECONDS [ROW,ROW... [THREADS,...]]]");
    process.exit(2);
  }
  const budget = budgetArg ? Number(budgetArg) : 1;
  const threads = (threadsArg || "1,2").split(",").map(Number);
  let rows = rowsArg ? rowsArg.split(",") : fs.readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5));
  rows = rows.filter((r) => fs.existsSync(path.join(dir, r + ".onnx")));
  const out = [];
  for (const r of rows) out.push(await timeRow(dir, r, budget, threads));
  const version = require("onnxruntime-node/package.json").version;
  console.log(JSON.stringify({ ort: version, rows: out }));
}

main().catch((e) => {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
