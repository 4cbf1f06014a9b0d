#!/usr/bin/env bash
# What torch.load(weights_only=True) refuses (instances of user classes, calls, class
# references), as `ptport convert IN -o OUT.pt` writes it: loaded back by real PyTorch
# and compared with the objects the fixture was made of (see check_inert.py).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ptport" ./cmd/ptport
/usr/bin/python3 scripts/check_inert.py "$tmp/ptport"
