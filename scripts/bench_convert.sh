#!/usr/bin/env bash
# Converting a 1 GiB float32 checkpoint to safetensors, side by side with cp of the same
# file, in one run on this machine: median wall time of RUNS runs each, and ptport's peak
# RSS. Usage: scripts/bench_convert.sh [RUNS]   (needs /usr/bin/python3 with torch)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ptport" ./cmd/ptport
/usr/bin/python3 - "$tmp/big.pt" <<'PY'
import sys, torch
torch.manual_seed(0)
# 16 tensors of 64 MiB: 1 GiB of float32 in all
torch.save({f"layer{i}.weight": torch.randn(4096, 4096) for i in range(16)}, sys.argv[1])
PY
ls -l "$tmp/big.pt" | awk '{printf "input: %.0f MiB\n", $5/1048576}'
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
timeit() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
cp_times=(); cps_times=(); pt_times=(); rss=()
for i in $(seq "$runs"); do
	# Each timed command starts with no dirty pages of the one before, and the input in
	# the page cache for all of them.
	rm -f "$tmp/copy.pt" "$tmp/out.safetensors"; sync
	cp_times+=("$(timeit cp "$tmp/big.pt" "$tmp/copy.pt")")
	rm -f "$tmp/copy.pt"; sync
	cps_times+=("$(timeit sh -c "cp '$tmp/big.pt' '$tmp/copy.pt' && sync '$tmp/copy.pt'")")
	rm -f "$tmp/copy.pt"; sync
	s=$(date +%s.%N)
	/usr/bin/time -f '%M' -o "$tmp/rss" "$tmp/ptport" convert "$tmp/big.pt" -o "$tmp/out.safetensors" 2>/dev/null
	e=$(date +%s.%N)
	pt_times+=("$(echo "$e - $s" | bc)")
	rss+=("$(cat "$tmp/rss")")
done
cpm=$(printf '%s\n' "${cp_times[@]}" | median)
cpsm=$(printf '%s\n' "${cps_times[@]}" | median)
ptm=$(printf '%s\n' "${pt_times[@]}" | median)
rssm=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
printf '| what (median of %d) | time | ptport / it |\n|---|---|---|\n' "$runs"
printf '| cp | %.2f s | %.2f |\n' "$cpm" "$(echo "$ptm / $cpm" | bc -l)"
printf '| cp, then fsync the copy | %.2f s | %.2f |\n' "$cpsm" "$(echo "$ptm / $cpsm" | bc -l)"
printf '| ptport convert -> .safetensors (fsynced) | %.2f s | |\n' "$ptm"
printf '\nptport peak RSS (largest of %d runs): %d MiB\n' "$runs" "$((rssm / 1024))"
