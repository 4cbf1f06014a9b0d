#!/usr/bin/env bash
# Exports (npz, safetensors, JSON) read back by NumPy and compared with torch.load.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ptport" ./cmd/ptport
files=(testdata/notebook/*.pt testdata/convert/*.pt)
if [ -f testdata/pickle/MANIFEST.json ]; then
	while IFS= read -r f; do files+=("testdata/pickle/$f"); done < <(/usr/bin/python3 -c '
import json; m = json.load(open("testdata/pickle/MANIFEST.json"))
# bigendian.pt: torch 1.13 ignores the byteorder record, so it is no reference there.
skip = {"bigendian.pt"}
print("\n".join(k for k, v in sorted(m.items()) if "error" not in v and k not in skip))')
fi
corpus=../shared/corpus
if [ -f "$corpus/MANIFEST.json" ]; then
	while IFS= read -r f; do files+=("$corpus/$f"); done < <(/usr/bin/python3 -c '
import json, sys; m = json.load(open(sys.argv[1]))
print("\n".join(k for k, v in sorted(m.items()) if "error" not in v))' "$corpus/MANIFEST.json")
fi
/usr/bin/python3 scripts/check_exports.py "$tmp/ptport" "${files[@]}"
