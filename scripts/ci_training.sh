#!/usr/bin/env bash
# Training checkpoints converted to just the model (--select, --strip-prefix, --exclude),
# tied weights, sharded output and sharded input, loaded back by PyTorch with
# load_state_dict(strict=True).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ptport" ./cmd/ptport
/usr/bin/python3 scripts/check_training.py "$tmp/ptport"
