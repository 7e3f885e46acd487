#!/usr/bin/env bash
# extract vs its Python peers on this machine's CPU, side by side in one run:
# same variant, same weights, same images, same thread count. The peers
# (bench/extract_peer.py, one JSON line each): plain (torchvision + DataLoader)
# and strong (channels-last, torch.jit.freeze of a trace, inference_mode,
# DataLoader workers, fixed threads). Prints images/s for all and both ratios
# (target for B0 at 224 on hymenoptera: >= 1.8 against the strong peer), and,
# for the exported TorchScript backbones in EFFPROBE_BENCH_MODULES (default
# "resnet50 convnext_tiny efficientnet_b0", random weights), PyTorch running the
# same module against extract running it (target >= 1.2), and TorchScript B0
# against native B0.
#
# Timing, the same span on both sides: the peers from the first request to the
# DataLoader to the last batch's features (loading, tracing, freezing and warm-up
# excluded), extract from its pipeline's start to the last feature file written
# (run.json's wall_seconds: libtorch's start, the scan and loading excluded).
# Every target is judged on that span; extract's process wall time (setup
# included on its side only) is printed beside it as a second, harsher ratio.
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
process = float(sys.argv[5]) - float(sys.argv[4])
seconds = run["wall_seconds"]
ours = run["images"] / seconds
v = run["variants"][0]
print(f"peer     {peer['images']:5d} images  {peer['seconds']:7.2f} s  {peer['images_per_second']:7.2f} images/s  (plain: torchvision + DataLoader)")
print(f"strong   {strong['images']:5d} images  {strong['seconds']:7.2f} s  {strong['images_per_second']:7.2f} images/s  "
      f"(channels-last, {strong['compiler']}, inference_mode, {strong['workers']} workers; "
      f"forward alone {strong['forward_images_per_second']:.2f} images/s; setup {strong['setup_seconds']:.2f} s not counted)")
print(f"extract  {run['images']:5d} images  {seconds:7.2f} s  {ours:7.2f} images/s  "
      f"(pipeline: first image read to last feature written; process wall {process:.2f} s, "
      f"{run['images'] / process:.2f} images/s)")
print(f"         backbone {v['backbone_seconds']:.2f} s ({v['images_per_second']:.2f} images/s), decode+resize {run['decode_seconds']:.2f} CPU-s")
print(f"ratio    {ours / strong['images_per_second']:.2f}  (extract / strong peer images per second, same span; target >= 1.8)")
print(f"ratio    {run['images'] / process / strong['images_per_second']:.2f}  "
      "(extract's process wall, libtorch start + scan + loading included / strong peer, its setup excluded)")
print(f"ratio    {ours / peer['images_per_second']:.2f}  (extract / plain peer images per second)")
print(f"forward  {v['images_per_second'] / strong['forward_images_per_second']:.2f}  "
      "(extract's backbone inside the pipeline / strong peer's forward pass alone)")
PY

# Exported TorchScript backbones (tools/export_backbone.py, random weights): PyTorch
# running the module (as loaded, and strengthened: channels-last + freeze) against
# extract running the same module with --variant NAME=PATH.pt. The module's forward
# pass is the same code on both sides, so any gain is the pipeline's (decoding in
# Rust, overlapped with the forward pass). timm's efficientnet_b0 exported the same
# way is printed against the native B0 above.
native_rate=$("$python" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["images"] / r["wall_seconds"])' \
    "$work/features/run.json")
for model in ${EFFPROBE_BENCH_MODULES-resnet50 convnext_tiny efficientnet_b0}; do
    "$python" tools/export_backbone.py "$model" --weights random:0 --out "$work/modules/$model.pt" >/dev/null
    peers=$(OMP_NUM_THREADS=$threads "$python" bench/extract_peer.py module "$dataset" --module "$work/modules/$model.pt" "${peer_flags[@]}")
    start=$(date +%s.%N)
    OMP_NUM_THREADS=$threads target/release/extract --variant "$model=$work/modules/$model.pt" --data "$dataset" \
        --out "$work/features-$model" --device cpu --batch-size 32 --quiet
    end=$(date +%s.%N)
    "$python" - "$model" "$work/features-$model/run.json" "$start" "$end" "$native_rate" "$peers" <<'PY'
import json, sys
model, record, start, end, native = sys.argv[1], json.load(open(sys.argv[2])), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
peers = [json.loads(line) for line in sys.argv[6].splitlines() if line.strip()]
process = end - start
ours = record["images"] / record["wall_seconds"]
v = record["variants"][0]
for r in peers:
    print(f"{r['mode']:14s} {model:16s} {r['images']:5d} images  {r['seconds']:7.2f} s  {r['images_per_second']:7.2f} images/s  "
          f"(forward alone {r['forward_images_per_second']:.2f} images/s)")
print(f"{'extract':14s} {model:16s} {record['images']:5d} images  {record['wall_seconds']:7.2f} s  {ours:7.2f} images/s  "
      f"(backbone {v['images_per_second']:.2f} images/s inside the pipeline; process wall {process:.2f} s, "
      f"{record['images'] / process:.2f} images/s)")
best = max(peers, key=lambda r: r["images_per_second"])
print(f"ratio    {ours / best['images_per_second']:.2f}  ({model}: extract / PyTorch running the same module, same span, "
      f"best of {', '.join(r['mode'] for r in peers)}: {best['mode']}; target >= 1.2; "
      f"process wall: {record['images'] / process / best['images_per_second']:.2f})")
if model == "efficientnet_b0":
    print(f"ratio    {ours / native:.2f}  (TorchScript timm efficientnet_b0 / native B0 through extract)")
PY
done
