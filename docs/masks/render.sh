#!/usr/bin/env bash
# Renders the paper's figures 5-10 (the four mask patterns) on a real CT slice with
# `masksweep masks render`. Run from the repository root after `npm ci`:
#   bash docs/masks/render.sh [slice.png]
set -euo pipefail
slice=${1:-../shared/data/head-ct-hemorrhage/images/hemorrhage/003.png}
out=docs/masks
render() { npx masksweep masks render --image "$slice" --seed "${SEED:-0}" "$@"; }

render --unmasked --out "$out/unmasked.png"
render --type square --size 4 --out "$out/square-4x4.png"
render --type blockwise --ratio 0.6 --out "$out/blockwise-60.png"
render --type random --ratio 0.6 --out "$out/random-60.png"
render --type mesh --ratio 0.6 --out "$out/mesh-60.png"
render --type mesh --ratio 0.7 --out "$out/mesh-70.png"
