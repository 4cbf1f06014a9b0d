#!/usr/bin/env bash
# The .pt writer: every readable fixture (and the shared corpus, when present) is
# re-saved by `ptport convert IN -o OUT.pt` and loaded with torch.load(weights_only=True), then compared
# with torch.load of the original; what torch 1.13 cannot load (torch 2.x's files) through torch
# 2.x's rebuild functions (see check_pt_writer.py).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
files=()
for f in testdata/pickle/*.pt testdata/pickle/torch2/*.pt testdata/convert/*.pt testdata/notebook/*.pt; do
	files+=("$PWD/$f")
done
corpus=${PTPORT_CORPUS:-../shared/corpus}
if [ -f "$corpus/MANIFEST.json" ]; then
	for f in "$corpus"/*.pt; do
		files+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
	done
fi
go build -o "$tmp/ptport" ./cmd/ptport
# Re-save each input with `ptport convert IN -o OUT.pt`; index.json records each output,
# or the error of an input ptport refuses.
/usr/bin/python3 - "$tmp" "${files[@]}" <<'PY'
import json, os, subprocess, sys
tmp, inputs = sys.argv[1], sys.argv[2:]
index = []
for i, src in enumerate(inputs):
    out = os.path.join(tmp, "%04d_%s" % (i, os.path.basename(src)))
    r = subprocess.run([os.path.join(tmp, "ptport"), "convert", src, "-o", out, "--allow-objects"],
                       capture_output=True, text=True)
    if r.returncode == 0:
        index.append({"input": src, "output": out})
    else:
        index.append({"input": src, "error": r.stderr.strip()})
with open(os.path.join(tmp, "index.json"), "w") as f:
    json.dump(index, f, indent=1)
PY
/usr/bin/python3 scripts/check_pt_writer.py "$tmp"
