#!/usr/bin/env bash
# ptport batch throughput on this machine, in one run: a tree of 16 MiB checkpoints with
# --jobs 1 and --jobs 2, with and without fsync, beside what the disk itself takes (the
# same files copied by dd with an fsync each, all at once); 8 of them to JSON, which is
# bound by the processor; and 10,000 tiny checkpoints. Median of RUNS runs each (--force,
# so every run converts everything). Usage: scripts/bench_batch.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ptport" ./cmd/ptport
/usr/bin/python3 - "$tmp" <<'PY'
import os, shutil, sys, torch
root = sys.argv[1]
torch.manual_seed(0)
os.makedirs(f"{root}/big/a"); os.makedirs(f"{root}/big/b")
os.makedirs(f"{root}/json")
for i in range(32):  # 32 files of 16 MiB
    torch.save({"w": torch.randn(2048, 2048)}, f"{root}/big/{'ab'[i % 2]}/m{i}.pt")
    if i < 8:
        shutil.copy(f"{root}/big/{'ab'[i % 2]}/m{i}.pt", f"{root}/json/m{i}.pt")
torch.save(torch.nn.RNN(4, 8).state_dict(), f"{root}/tiny.pt")
for d in range(100):  # 10,000 tiny files in 100 folders
    os.makedirs(f"{root}/tiny/{d}")
    for i in range(100):
        shutil.copy(f"{root}/tiny.pt", f"{root}/tiny/{d}/m{i}.pt")
PY
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
timed() { # command... -> seconds
	sync # no writeback of the run before in this one
	local s e
	s=$(date +%s.%N)
	"$@" >/dev/null 2>&1 || true
	e=$(date +%s.%N)
	echo "$e - $s" | bc
}
bench() { # tree jobs [flags] -> median seconds
	local tree=$1 jobs=$2
	shift 2
	for i in $(seq "$runs"); do
		timed "$tmp/ptport" batch "$tmp/$tree" -o "$tmp/out-$tree" --jobs "$jobs" --force --quiet "$@"
	done | median
}
ddcopy() { # the 16 MiB files copied with an fsync each, all at once
	mkdir -p "$tmp/dd"
	find "$tmp/big" -name '*.pt' | xargs -P 0 -I{} sh -c 'dd if={} of='"$tmp"'/dd/$(basename {}) bs=16M conv=fsync status=none'
}
disk=$(for i in $(seq "$runs"); do timed ddcopy; done | median)
big1=$(bench big 1)
big2=$(bench big 2)
nosync1=$(bench big 1 --no-sync)
nosync2=$(bench big 2 --no-sync)
json1=$(bench json 1 --to json)
json2=$(bench json 2 --to json)
tiny=$(bench tiny 2)
mb=$(du -sm "$tmp/big" | cut -f1)
rate() { echo "$mb * 1.048576 / $1" | bc -l; }
row() { printf '| %s | %.2f s | %.0f MB/s |\n' "$1" "$2" "$(rate "$2")"; }
ratio() { echo "$1 / $2" | bc -l; }
echo "| 32 x 16 MiB ($mb MiB) | seconds | throughput |"
echo "|---|---|---|"
row "dd, an fsync per file, all at once (the disk)" "$disk"
row "--jobs 1" "$big1"
row "--jobs 2" "$big2"
row "--jobs 1 --no-sync" "$nosync1"
row "--jobs 2 --no-sync" "$nosync2"
printf '| 8 x 16 MiB to JSON, --jobs 1 | %.2f s | |\n' "$json1"
printf '| 8 x 16 MiB to JSON, --jobs 2 | %.2f s | |\n' "$json2"
printf '| 10,000 tiny files, --jobs 2 | %.2f s | %.0f files/s |\n' "$tiny" "$(echo "10000 / $tiny" | bc -l)"
echo
printf 'speed-up of --jobs 2 over --jobs 1: %.2fx (fsync), %.2fx (--no-sync), %.2fx (JSON)\n' \
	"$(ratio "$big1" "$big2")" "$(ratio "$nosync1" "$nosync2")" "$(ratio "$json1" "$json2")"
printf -- '--jobs 2 reaches %.0f%% of the disk; --jobs 1, %.0f%%\n' \
	"$(echo "100 * $disk / $big2" | bc -l)" "$(echo "100 * $disk / $big1" | bc -l)"
