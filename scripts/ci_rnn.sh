#!/usr/bin/env bash
# The differential test of package rnn: random configurations run through PyTorch and Go.
set -euo pipefail
cd "$(dirname "$0")/.."
/usr/bin/python3 scripts/rnn_difftest.py "${RNN_CASES:-150}"
