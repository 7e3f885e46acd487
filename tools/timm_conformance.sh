#!/usr/bin/env bash
# Exported timm backbones against timm itself, all seven families of issue 20
# (ResNet-50, ConvNeXt-T, ViT-S/16, DINOv2 ViT-S/14 at 518 px, CLIP ViT-B/16 with
# OpenAI's recipe, EfficientNetV2-S, MobileNetV4 hybrid medium) on random:0 weights,
# fp32 on the CPU:
#   same pixels   effprobe's TorchScript backend vs timm's eager model in float64
#                 (max|ours - ref| / max|ref| <= 1e-4; float32 eager printed beside it)
#   end to end    `extract` on every photo of ../shared/datasets/hymenoptera vs timm's
#                 own transform and eager model (mean cosine >= 0.9995, min printed)
# Prints a Markdown table and fails if any family is out of tolerance. CI runs
# ResNet-50 and ViT-S/16 on 8 photos (tests/timm_conformance.rs). On 2 busy cores
# (2026-12-05) each 224 px family took 8-10 minutes on all 398 photos, CLIP ViT-B/16 11,
# EfficientNetV2-S 16; DINOv2 at 518 px 17 (2026-12-06: timm's eager passes 14 of them).
# Known (2026-12-05): same pixels pass for all seven (<= 3.3e-6), but end to end the
# random EfficientNetV2-S (mean cosine 0.99943) and MobileNetV4 hybrid (0.9942) miss
# 0.9995: those random modules move by cosine 0.998 / 0.990 under +-1/255 pixel noise
# alone (ResNet-50 0.99992), so resizer rounding differences show; the weights'
# sensitivity, not a preprocessing fault found so far. EFFPROBE_TIMM_EXPORTS=DIR
# keeps the exported modules in DIR and reuses them on the next run;
# EFFPROBE_TIMM_PHOTOS=N uses N photos per class and split (4N in all) instead of all.
#
#   tools/timm_conformance.sh
#   EFFPROBE_TIMM_FAMILIES=resnet50,convnext_tiny tools/timm_conformance.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export EFFPROBE_PYTHON="${EFFPROBE_PYTHON:-$PWD/.venv/bin/python}"
cargo build --release -p extract -p head -p report -p tune --bins
cargo test --release -p effprobe-tests --test timm_conformance -- --ignored --nocapture --exact full_grid
