#!/usr/bin/env bash
# extract vs its Python peer on this machine's CPU, side by side in one run:
# same variant, same weights, same images, same thread count. Prints images/s
# for both and the ratio (target for B0 at 224 on hymenoptera: >= 1.2).
#
# usage: bench/extract_cpu.sh [DATASET] [VARIANT] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
dataset=${1:-../shared/datasets/hymenoptera}
variant=${2:-b0}
threads=${3:-$(nproc)}
python=.venv/bin/python
[ -x target/release/extract ] || cargo build --release -p extract
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One set of weights for both: torchvision's own initialisation, so activations
# are realistic (no denormals), saved as a state dict and as safetensors.
"$python" - "$variant" "$work" <<'PY'
import sys, torch, torchvision
from safetensors.torch import save_file
variant, work = sys.argv[1:3]
torch.manual_seed(0)
model = getattr(torchvision.models, f"efficientnet_{variant}")().eval()
state = {k: v.contiguous() for k, v in model.state_dict().items()}
torch.save(state, f"{work}/weights.pt")
save_file(state, f"{work}/weights.safetensors", metadata={"effprobe.family": "torchvision", "effprobe.padding": "symmetric"})
PY
recipe_flags=$("$python" - "$variant" <<'PY'
import sys, torchvision
p = torchvision.models.get_weight(f"EfficientNet_{sys.argv[1].upper()}_Weights.IMAGENET1K_V1").transforms()
print(f"--input-size {p.crop_size[0]} --resize-size {p.resize_size[0]} --interpolation {p.interpolation.value} "
      f"--mean {','.join(map(str, p.mean))} --std {','.join(map(str, p.std))}")
PY
)

echo "bench: $variant on $dataset, $threads threads, batch 32"
peer=$(OMP_NUM_THREADS=$threads "$python" bench/extract_peer.py "$dataset" "$work/weights.pt" "$variant" "$threads" 32 "$threads")
start=$(date +%s.%N)
# shellcheck disable=SC2086
OMP_NUM_THREADS=$threads target/release/extract --variant "$variant" --data "$dataset" \
    --weights "$work/weights.safetensors" --out "$work/features" --device cpu --batch-size 32 --quiet $recipe_flags
end=$(date +%s.%N)
"$python" - "$peer" "$work/features/run.json" "$start" "$end" <<'PY'
import json, sys
peer = json.loads(sys.argv[1])
run = json.load(open(sys.argv[2]))
seconds = float(sys.argv[4]) - float(sys.argv[3])
ours = run["images"] / seconds
v = run["variants"][0]
print(f"peer     {peer['images']:5d} images  {peer['seconds']:7.2f} s  {peer['images_per_second']:7.2f} images/s  (torchvision + DataLoader)")
print(f"extract  {run['images']:5d} images  {seconds:7.2f} s  {ours:7.2f} images/s  (process wall time, scan included)")
print(f"         backbone {v['backbone_seconds']:.2f} s ({v['images_per_second']:.2f} images/s), decode+resize {run['decode_seconds']:.2f} CPU-s")
print(f"ratio    {ours / peer['images_per_second']:.2f}  (extract / peer images per second; target >= 1.2)")
PY
