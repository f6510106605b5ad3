#!/usr/bin/env bash
# A CI gate: evaluate a baseline and a candidate on the same items, fail on a regression.
set -euo pipefail
base=$(lmforge eval run --model default --tasks gpqa_diamond --limit 50 | grep -o 'eval-[^:]*' | tail -1)
cand=$(lmforge eval run --model "${1:?candidate model dir}" --tasks gpqa_diamond --limit 50 | grep -o 'eval-[^:]*' | tail -1)
lmforge eval compare "$base" "$cand" --threshold 0.02   # exit 1 on a drop > 2 points, significant
