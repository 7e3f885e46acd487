#!/usr/bin/env bash
# head-train against its Python peers at the seed's scale (19,658 train × 2,560,
# classes 6,126 : 13,532, 1,494 val, 1,488 test), on two synthetic flavours
# (well-conditioned Gaussian; feature-like: ReLU-sparse, correlated, scaled).
# Everything runs in this one invocation on this machine; each target prints as
# a ratio. Usage: bench/head.sh   (EFFPROBE_PYTHON overrides the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${EFFPROBE_PYTHON:-.venv/bin/python}
BIN=target/release/head-train
if [ ! -x "$BIN" ]; then
    cargo build --release -p head
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# scikit-learn's default C = 1 is l2 = 1 / (C · n_train) in head-train's terms.
L2=$("$PYTHON" -c 'print(1 / 19658)')

for flavour in gaussian featurelike; do
    echo "== $flavour: generating features" >&2
    "$PYTHON" bench/head_data.py "$flavour" "$WORK/$flavour.parquet"
    echo "== $flavour: Python peers (PyTorch Adam, scikit-learn lbfgs, numpy pass)" >&2
    "$PYTHON" bench/head_peers.py "$WORK/$flavour.parquet" "$L2" 2>/dev/null > "$WORK/$flavour.peers.json"
    echo "== $flavour: head-train adam, 10 epochs" >&2
    "$BIN" "$WORK/$flavour.parquet" --out "$WORK/$flavour.adam" > /dev/null
    echo "== $flavour: head-train lbfgs" >&2
    "$BIN" "$WORK/$flavour.parquet" --out "$WORK/$flavour.lbfgs" --optimizer lbfgs --l2 "$L2" > /dev/null
done
echo "== gaussian: head-train adam, 1000 epochs" >&2
"$BIN" "$WORK/gaussian.parquet" --out "$WORK/gaussian.adam1000" --epochs 1000 > /dev/null

"$PYTHON" bench/head_report.py "$WORK"
