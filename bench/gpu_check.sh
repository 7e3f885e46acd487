#!/usr/bin/env bash
# GPU check for a machine with a CUDA torch 2.11 in python3 but no Rust: runs the
# `extract` binary built elsewhere (carry target/release/extract), pointed at this
# machine's torch libraries. Prints `extract doctor`, then B0 and B7 over synthetic
# batches in fp32 and bf16: images/s, and the bf16-vs-fp32 max relative error of
# the pooled features. When torchvision is importable, the same batches through
# torchvision's EfficientNet (channels-last, autocast for bf16) give a Python
# peer's images/s and our ratio to it. Budget: well under 6 minutes.
#
#   bench/gpu_check.sh                        # on the GPU machine (cuda:0)
#   GPU_CHECK_DEVICE=cpu bench/gpu_check.sh   # dry run on a CPU (tiny batches)
#
# Weights are seeded random (same cost as real weights); the bf16 error is on
# those, so it says how bf16 rounding accumulates through the network, not how
# accuracy changes.
set -euo pipefail
cd "$(dirname "$0")/.."

extract=${EXTRACT:-target/release/extract}
python=${PYTHON:-python3}
device=${GPU_CHECK_DEVICE:-cuda:0}
[ -x "$extract" ] || { echo "gpu_check: $extract not found: build it with cargo build --release -p extract and carry it" >&2; exit 1; }

torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
# The binary's RUNPATH names the build machine's torch; this one comes first.
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "== torch libraries: $torch_lib"

echo "== extract doctor"
case "$device" in
  cuda*) timeout 60 "$extract" doctor --require-cuda ;;
  *) timeout 60 "$extract" doctor ;;
esac

# variant batch size: big enough to keep an H200 busy, small enough for B7 at 600 px.
case "$device" in
  cuda*) sizes="b0:128:224 b7:16:600"; warmup=3; batches=10 ;;
  *) sizes="b0:4:224 b7:1:600"; warmup=1; batches=1 ;;
esac

have_torchvision=$("$python" -c 'import torchvision' 2>/dev/null && echo yes || echo no)
summary=()
for entry in $sizes; do
  IFS=: read -r variant batch size <<<"$entry"
  for precision in fp32 bf16; do
    echo "== extract bench $variant $precision (batch $batch, ${size}px, $device)"
    compare=()
    [ "$precision" = bf16 ] && compare=(--compare-with fp32)
    out=$(timeout 150 "$extract" bench --variant "$variant" --device "$device" --precision "$precision" \
      --batch-size "$batch" --image-size "$size" --warmup-batches "$warmup" --batches "$batches" "${compare[@]}")
    echo "$out"
    ours=$(sed -n 's/^images\/s \([0-9.]*\).*/\1/p' <<<"$out")
    error=$(sed -n 's/.*max relative error \(.*\)$/\1/p' <<<"$out")
    peer="-"
    if [ "$have_torchvision" = yes ]; then
      peer=$(timeout 150 "$python" - "$variant" "$batch" "$size" "$precision" "$device" "$warmup" "$batches" <<'PY'
import sys, time, torch, torchvision
variant, batch, size, precision, device, warmup, batches = sys.argv[1:8]
batch, size, warmup, batches = int(batch), int(size), int(warmup), int(batches)
device = torch.device(device)
torch.backends.cudnn.benchmark = True
model = getattr(torchvision.models, f"efficientnet_{variant}")().eval().to(device, memory_format=torch.channels_last)
model.classifier = torch.nn.Identity()
images = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
dtype = torch.bfloat16 if precision == "bf16" else torch.float32
with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=precision == "bf16"):
    for _ in range(warmup):
        model(images).float().cpu()
    start = time.perf_counter()
    for _ in range(batches):
        model(images).float().cpu()
print(f"{batch * batches / (time.perf_counter() - start):.1f}")
PY
) || peer="failed"
      echo "torchvision peer images/s $peer"
    fi
    summary+=("$variant $precision $ours $peer ${error:--}")
  done
done

echo "== summary ($device)"
printf '%-8s %-9s %12s %12s %8s %s\n' variant precision "extract i/s" "peer i/s" ratio "bf16-vs-fp32 max rel err"
for row in "${summary[@]}"; do
  read -r variant precision ours peer error <<<"$row"
  ratio=$(awk -v a="$ours" -v b="$peer" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }')
  printf '%-8s %-9s %12s %12s %8s %s\n' "$variant" "$precision" "$ours" "$peer" "$ratio" "$error"
done
