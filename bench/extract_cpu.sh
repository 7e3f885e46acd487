#!/usr/bin/env bash
# extract vs its Python peers on this machine's CPU, side by side in one run:
# same variant, same weights, same images, same thread count. The peers
# (bench/extract_peer.py, one JSON line each): plain (torchvision + DataLoader)
# and strong (channels-last, torch.jit.freeze of a trace, inference_mode,
# DataLoader workers, fixed threads). Prints images/s for all and both ratios
# (target for B0 at 224 on hymenoptera: >= 1.8 against the strong peer), and,
# for the exported TorchScript backbones in EFFPROBE_BENCH_MODULES (default
# "resnet50 convnext_tiny", random weights), PyTorch running the same module.
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
peer_flags=(--threads "$threads" --batch 32 --workers "$threads")
peer=$(OMP_NUM_THREADS=$threads "$python" bench/extract_peer.py plain "$dataset" --weights "$work/weights.pt" --variant "$variant" "${peer_flags[@]}")
echo "$peer"
strong=$(OMP_NUM_THREADS=$threads "$python" bench/extract_peer.py strong "$dataset" --weights "$work/weights.pt" --variant "$variant" "${peer_flags[@]}")
echo "$strong"
start=$(date +%s.%N)
# shellcheck disable=SC2086
OMP_NUM_THREADS=$threads target/release/extract --variant "$variant" --data "$dataset" \
    --weights "$work/weights.safetensors" --out "$work/features" --device cpu --batch-size 32 --quiet $recipe_flags
end=$(date +%s.%N)
"$python" - "$peer" "$strong" "$work/features/run.json" "$start" "$end" <<'PY'
import json, sys
peer, strong = json.loads(sys.argv[1]), json.loads(sys.argv[2])
run = json.load(open(sys.argv[3]))
seconds = float(sys.argv[5]) - float(sys.argv[4])
ours = run["images"] / seconds
v = run["variants"][0]
print(f"peer     {peer['images']:5d} images  {peer['seconds']:7.2f} s  {peer['images_per_second']:7.2f} images/s  (plain: torchvision + DataLoader)")
print(f"strong   {strong['images']:5d} images  {strong['seconds']:7.2f} s  {strong['images_per_second']:7.2f} images/s  "
      f"(channels-last, {strong['compiler']}, inference_mode, {strong['workers']} workers; "
      f"forward alone {strong['forward_images_per_second']:.2f} images/s)")
print(f"extract  {run['images']:5d} images  {seconds:7.2f} s  {ours:7.2f} images/s  (process wall time, scan included)")
print(f"         backbone {v['backbone_seconds']:.2f} s ({v['images_per_second']:.2f} images/s), decode+resize {run['decode_seconds']:.2f} CPU-s")
print(f"ratio    {ours / strong['images_per_second']:.2f}  (extract / strong peer images per second; target >= 1.8)")
print(f"ratio    {ours / peer['images_per_second']:.2f}  (extract / plain peer images per second)")
print(f"forward  {v['images_per_second'] / strong['forward_images_per_second']:.2f}  "
      "(extract's backbone inside the pipeline / strong peer's forward pass alone)")
PY

# PyTorch running an exported TorchScript backbone (the module effprobe runs with
# --variant NAME=PATH.pt): as loaded, and strengthened (channels-last + freeze).
for model in ${EFFPROBE_BENCH_MODULES-resnet50 convnext_tiny}; do
    "$python" tools/export_backbone.py "$model" --weights random:0 --out "$work/modules/$model.pt" >/dev/null
    OMP_NUM_THREADS=$threads "$python" bench/extract_peer.py module "$dataset" --module "$work/modules/$model.pt" "${peer_flags[@]}" |
        "$python" -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(line.strip())
    print("{:14s} {:14s} {:5d} images  {:7.2f} s  {:7.2f} images/s  (forward alone {:.2f} images/s)".format(
        r["mode"], sys.argv[1], r["images"], r["seconds"], r["images_per_second"], r["forward_images_per_second"]))
' "$model"
done
