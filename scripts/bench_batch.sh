#!/usr/bin/env bash
# ptport batch throughput on this machine, in one run: a tree of 16 MiB checkpoints with
# --jobs 1 and --jobs 2, and 10,000 tiny checkpoints. Median of RUNS runs each (--force,
# so every run converts everything). Usage: scripts/bench_batch.sh [RUNS] [EXTRA FLAGS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ptport" ./cmd/ptport
/usr/bin/python3 - "$tmp" <<'PY'
import os, shutil, sys, torch
root = sys.argv[1]
torch.manual_seed(0)
os.makedirs(f"{root}/big/a"); os.makedirs(f"{root}/big/b")
for i in range(32):  # 32 files of 16 MiB
    torch.save({"w": torch.randn(2048, 2048)}, f"{root}/big/{'ab'[i % 2]}/m{i}.pt")
torch.save(torch.nn.RNN(4, 8).state_dict(), f"{root}/tiny.pt")
for d in range(100):  # 10,000 tiny files in 100 folders
    os.makedirs(f"{root}/tiny/{d}")
    for i in range(100):
        shutil.copy(f"{root}/tiny.pt", f"{root}/tiny/{d}/m{i}.pt")
PY
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
bench() { # tree jobs [flags] -> median seconds
	local tree=$1 jobs=$2 t=()
	shift 2
	for i in $(seq "$runs"); do
		sync # no writeback of the run before in this one
		s=$(date +%s.%N)
		"$tmp/ptport" batch "$tmp/$tree" -o "$tmp/out-$tree" --jobs "$jobs" --force --quiet "$@" >/dev/null 2>&1 || true
		e=$(date +%s.%N)
		t+=("$(echo "$e - $s" | bc)")
	done
	printf '%s\n' "${t[@]}" | median
}
EXTRA=("$@")
big1=$(bench big 1 "${EXTRA[@]}")
big2=$(bench big 2 "${EXTRA[@]}")
tiny=$(bench tiny 2 "${EXTRA[@]}")
mb=$(du -sm "$tmp/big" | cut -f1)
printf '| 32 x 16 MiB, --jobs 1 | %.2f s | %.0f MB/s |\n' "$big1" "$(echo "$mb * 1.048576 / $big1" | bc -l)"
printf '| 32 x 16 MiB, --jobs 2 | %.2f s | %.0f MB/s |\n' "$big2" "$(echo "$mb * 1.048576 / $big2" | bc -l)"
printf '| speed-up --jobs 2 / --jobs 1 | %.2fx | |\n' "$(echo "$big1 / $big2" | bc -l)"
printf '| 10,000 tiny files, --jobs 2 | %.2f s | %.0f files/s |\n' "$tiny" "$(echo "10000 / $tiny" | bc -l)"
