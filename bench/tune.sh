#!/usr/bin/env bash
# Top-block fine-tuning, ours vs the usual PyTorch loop, side by side in this
# one invocation on this machine, same thread count, Lite0, last block (15 of 16).
#   ours: extract --tune-top 1 (runs the frozen prefix once over train AND val,
#         caching block 15's input), then tune-train 10 epochs on that cache.
#   peer: bench/tune_peer.py, 10 epochs, recomputing the frozen prefix every
#         batch; it also runs a no_grad pass over val each epoch (Keras'
#         fit(validation_data=...)), so it, too, covers train and val. Its
#         images are decoded and resized once before its clock starts, which
#         favours it, as does its allocator setting (below); its
#         whole-process time is printed too.
# Target: peer loop seconds / our extract+tune seconds >= 5. Prints, exits 0
# whether or not the target is met (non-zero only if a step fails).
#
# usage: bench/tune.sh [--threads N]   (default 2)
#   EFFPROBE_TUNE_DATA: dataset root with train/ and val/ (default hymenoptera)
#   EFFPROBE_PYTHON: interpreter (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=2
while [ $# -gt 0 ]; do
    case $1 in
        --threads) THREADS=$2; shift 2 ;;
        *) echo "usage: bench/tune.sh [--threads N]" >&2; exit 2 ;;
    esac
done
DATA=${EFFPROBE_TUNE_DATA:-../shared/datasets/hymenoptera}
PYTHON=${EFFPROBE_PYTHON:-.venv/bin/python}
for bin in extract tune-train; do
    if [ ! -x "target/release/$bin" ]; then
        echo "bench/tune.sh: target/release/$bin is missing; run: cargo build --release --workspace" >&2
        exit 1
    fi
done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Pin every OpenMP/BLAS pool too, not only torch's intra-op threads.
export OMP_NUM_THREADS=$THREADS

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

echo "== ours: extract --tune-top 1 ($DATA, $THREADS threads)" >&2
t=$(now)
target/release/extract --data "$DATA" --variant lite0 --weights lite0=data/weights/lite0.safetensors \
    --out "$WORK/features" --tune-top 1 --threads "$THREADS" --quiet >&2
extract_s=$(since "$t")
echo "== ours: tune-train, 10 epochs" >&2
t=$(now)
target/release/tune-train "$WORK/features/lite0.parquet" --out "$WORK/tune" --epochs 10 \
    --tune-batch-size 32 --threads "$THREADS" --quiet >&2
tune_s=$(since "$t")

# Our binaries keep freed pages (jemalloc, no decay: crates/extract/src/main.rs);
# the peer gets the same from glibc, whose default mmaps every batch's >32 MB
# activations afresh and faults them in again: on 2 threads that doubled the
# peer's epoch time (13.7 s vs 6.3 s, half its CPU in the kernel). Set
# EFFPROBE_PEER_GLIBC_DEFAULTS=1 to time the peer on plain glibc instead.
peer_env=(MALLOC_MMAP_THRESHOLD_=17179869184 MALLOC_TRIM_THRESHOLD_=17179869184 MALLOC_TOP_PAD_=1073741824)
[ -z "${EFFPROBE_PEER_GLIBC_DEFAULTS:-}" ] || peer_env=()
echo "== peer: bench/tune_peer.py, 10 epochs" >&2
t=$(now)
env "${peer_env[@]}" "$PYTHON" bench/tune_peer.py --data "$DATA" --epochs 10 --batch-size 32 --threads "$THREADS" > "$WORK/peer.json"
peer_process_s=$(since "$t")

"$PYTHON" - "$WORK/peer.json" "$extract_s" "$tune_s" "$peer_process_s" <<'PY'
import json, sys
peer = json.load(open(sys.argv[1]))
extract, tune, process = map(float, sys.argv[2:5])
ours, loop = extract + tune, peer["train_seconds"]
ratio = loop / ours
print(f"ours extract (prefix once, train+val): {extract:8.2f} s")
print(f"ours tune-train (10 epochs):           {tune:8.2f} s")
print(f"ours total:                            {ours:8.2f} s")
print(f"peer loop ({peer['epochs']} epochs):                 {loop:8.2f} s  ({peer['seconds_per_epoch']:.2f} s/epoch; "
      f"{peer['images']} train + {peer['val_images']} val images; final loss {peer['final_train_loss']:.4f})")
print(f"peer whole process:                    {process:8.2f} s")
print(f"ratio (peer loop / ours extract+tune): {ratio:.2f}×  (target ≥ 5×)")
print("target met" if ratio >= 5 else "TARGET MISSED")
PY
