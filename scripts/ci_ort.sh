#!/usr/bin/env bash
# A short correctness run of the ONNX Runtime comparison (scripts/bench without the
# timing): a few rows exported from PyTorch to ONNX, run by ONNX Runtime (onnxruntime-node,
# 1 and 2 intra-op threads) and by ptport (`ptport run` on the state_dict), every output
# compared with PyTorch's. ptport must stay within the package's parity bounds (float32,
# hidden sizes up to 256: 2e-6; float64: 1e-12); ONNX Runtime within 1e-5, or the rows
# it is timed on are not the model PyTorch computes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-notebook,gru_small,lstm,bilstm,medium64}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -d scripts/node_modules/onnxruntime-node ]; then
	(cd scripts && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund)
fi
go build -o "$tmp/ptport" ./cmd/ptport
/usr/bin/python3 scripts/bench_export.py export "$tmp" "$ROWS"
for row in ${ROWS//,/ }; do
	"$tmp/ptport" run "$tmp/$row.pt" "$tmp/$row.in.pt" -o "$tmp/$row.go.pt"
done
/usr/bin/python3 scripts/bench_export.py compare "$tmp" "$ROWS" >"$tmp/go.json"
node scripts/bench_ort.js "$tmp" 0 "$ROWS" 1,2 >"$tmp/ort.json"
/usr/bin/python3 - "$tmp/go.json" "$tmp/ort.json" <<'PY'
import json, sys
go = json.load(open(sys.argv[1]))["rows"]
ort = json.load(open(sys.argv[2]))["rows"]
bad = 0
for who, rows, bound in (("ptport", go, 2e-6), ("ONNX Runtime", ort, 1e-5)):
    for r in rows:
        b = 1e-12 if r.get("dtype") == "float64" else bound
        ok = r["max_abs_err"] <= b
        bad += not ok
        print("%-12s %-10s max abs err %.2e (bound %.0e) %s" % (who, r["name"], r["max_abs_err"], b, "ok" if ok else "FAIL"))
if len(ort) == 0:
    print("ONNX Runtime ran no row")
    bad += 1
sys.exit(1 if bad else 0)
PY
