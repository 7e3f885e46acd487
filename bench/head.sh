#!/usr/bin/env bash
# head-train against its Python peers, everything in this one invocation on this
# machine, each target printed as a ratio:
#   binary      the seed's scale (19,658 train × 2,560, classes 6,126 : 13,532,
#               1,494 val, 1,488 test) on two synthetic flavours (well-conditioned
#               Gaussian; feature-like: ReLU-sparse, correlated, scaled): Adam
#               against PyTorch, L-BFGS against scikit-learn, an epoch against a
#               numpy pass, peak memory;
#   multiclass  many classes, few images each (issue 21: 120 classes × 754 train
#               rows × 1,280 features, 2 to 21 rows per class): the full-batch
#               solver against scikit-learn's multinomial LogisticRegression(lbfgs)
#               on the same objective. Small and quick, so each side runs three
#               times and keeps its fastest (a busy machine's noise, not either side's).
# Usage: bench/head.sh [binary|multiclass]   (default both; EFFPROBE_PYTHON
# overrides the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${EFFPROBE_PYTHON:-.venv/bin/python}
BIN=target/release/head-train
CASES=${1:-binary multiclass}
case $CASES in
    binary | multiclass | "binary multiclass") ;;
    *) echo "usage: bench/head.sh [binary|multiclass]" >&2; exit 2 ;;
esac
if [ ! -x "$BIN" ]; then
    cargo build --release -p head
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [[ $CASES == *binary* ]]; then
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
fi

if [[ $CASES == *multiclass* ]]; then
    L2=$("$PYTHON" -c 'print(1 / 754)')
    echo "== multiclass: generating features" >&2
    "$PYTHON" bench/head_data.py multiclass "$WORK/multiclass.parquet"
    echo "== multiclass: scikit-learn lbfgs (multinomial)" >&2
    "$PYTHON" bench/head_peers.py "$WORK/multiclass.parquet" "$L2" --sklearn-only --repeats 3 2>/dev/null > "$WORK/multiclass.peers.json"
    echo "== multiclass: head-train lbfgs" >&2
    for run in 1 2 3; do
        "$BIN" "$WORK/multiclass.parquet" --out "$WORK/multiclass.lbfgs.$run" --optimizer lbfgs --l2 "$L2" > /dev/null
    done
fi

"$PYTHON" bench/head_report.py "$WORK"
