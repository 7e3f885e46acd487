#!/usr/bin/env bash
# The whole conformance grid: EfficientNet B0..B7 x {torchvision, timm, timm tf_}
# against the PyPI references on random BN-calibrated weights, fp32 CPU, at each
# variant's own size and one odd size. Prints a Markdown table (max relative error,
# seconds for the Python reference and for our load + forward) and fails if any
# case exceeds 1e-4. CI runs three of these cases; this runs all 24 (B7 at 600 px
# is slow on a CPU: expect tens of minutes on 2 cores).
#
#   tools/conformance_grid.sh                    # everything
#   EFFPROBE_GRID_VARIANTS=b0,b7 EFFPROBE_GRID_FAMILIES=timm_tf tools/conformance_grid.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export EFFPROBE_PYTHON="${EFFPROBE_PYTHON:-$PWD/.venv/bin/python}"
cargo test --release -p backbone --test conformance -- --ignored --nocapture --exact full_grid
