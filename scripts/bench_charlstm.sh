#!/usr/bin/env bash
# Times the whole char-level model, Embedding(65, 64) -> LSTM(64, 512, num_layers=2) ->
# Linear(512, 65) (scripts/bench_charlstm.py), in PyTorch and in ptport, on this machine,
# in one run, and prints a markdown table of medians and ratios:
#
#   forward, batch 1     token ids (100, 1) -> logits (100, 1, 65)
#   forward, batch 32    token ids (100, 32) -> logits
#   step                 one token through the model from the state the last step left,
#                        as a greedy generator runs: PyTorch's model(ids, state), ptport's
#                        Stream.StepIndices (BenchmarkStreamStep, with its allocations)
#
#   scripts/bench_charlstm.sh            BUDGET=1 s per measurement, COUNT=5 step runs
#
# Before any timing, ptport check --whole compares ptport's logits with PyTorch's on the
# exported model. Each side takes its best over 1 and 2 threads (PyTorch's
# set_num_threads, Go's GOMAXPROCS). Other processes skew both: the table gives the load.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${BUDGET:-1}
COUNT=${COUNT:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/ptport" ./cmd/ptport
go test -c -o "$tmp/rnn.test" ./rnn
/usr/bin/python3 scripts/bench_charlstm.py export "$tmp"
"$tmp/ptport" check "$tmp/char.pt" "$tmp/char.ref.pt" --whole >"$tmp/check.txt" ||
	{ cat "$tmp/check.txt" >&2; exit 1; }
grep -E '^(PASS|FAIL)' "$tmp/check.txt" >&2

load() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(load)
/usr/bin/python3 scripts/bench_charlstm.py time "$BUDGET" >"$tmp/torch.json"
for procs in 1 2; do
	for batch in 1 32; do
		GOMAXPROCS=$procs "$tmp/ptport" bench "$tmp/char.pt" --whole --seq 100 --batch "$batch" --time "${BUDGET}s" --json \
			>"$tmp/go_b${batch}_p${procs}.json"
	done
done
: >"$tmp/step.txt"
for procs in 1 2; do # one run per GOMAXPROCS, as scripts/bench runs them
	"$tmp/rnn.test" -test.run '^$' -test.bench '^BenchmarkStreamStep$' -test.benchmem \
		-test.benchtime "${BUDGET}s" -test.count "$COUNT" -test.cpu "$procs" >>"$tmp/step.txt"
done
load_after=$(load)

/usr/bin/python3 - "$tmp" "$load_before" "$load_after" <<'EOF'
import json, re, statistics, sys
tmp, before, after = sys.argv[1:4]
torch = json.load(open(tmp + "/torch.json"))
go = {}
for batch in (1, 32):
    go["forward_b%d" % batch] = min(json.load(open("%s/go_b%d_p%d.json" % (tmp, batch, p)))["ns_per_forward"] / 1e6 for p in (1, 2))
steps = {}
allocs = set()
for line in open(tmp + "/step.txt"):
    m = re.match(r"BenchmarkStreamStep(-\d+)?\s+\d+\s+([\d.]+) ns/op\s+(\d+) B/op\s+(\d+) allocs/op", line)
    if m:
        steps.setdefault(m.group(1) or "-1", []).append(float(m.group(2)))
        allocs.add("%s B/op, %s allocs/op" % (m.group(3), m.group(4)))
go["step"] = min(statistics.median(v) for v in steps.values()) / 1e6
rows = [("forward, batch 1 (100 tokens)", "forward_b1"), ("forward, batch 32 (100 tokens each)", "forward_b32"),
        ("step (one token, state kept)", "step")]
print("char-LSTM Embedding(65, 64) -> LSTM(64, 512, num_layers=2) -> Linear(512, 65), float32; "
      "torch %s; load %s before, %s after\n" % (torch["torch"], before, after))
print("| | PyTorch | ptport | PyTorch / ptport |")
print("|---|---:|---:|---:|")
for label, key in rows:
    print("| %s | %.3f ms | %.3f ms | %.1fx |" % (label, torch[key], go[key], torch[key] / go[key]))
print("\nptport's step: %s" % ", ".join(sorted(allocs)))
EOF
