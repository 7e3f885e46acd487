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
# ResNet-50 and ViT-S/16 on 8 photos (tests/timm_conformance.rs). 2026-12-06, 2
# cores: all seven on all 398 photos in 14 minutes, every family at mean and min
# cosine 1.000000 (effprobe's pixels are PIL's byte for byte); DINOv2 at 518 px is the
# longest (2 min for extract, 2.5 for timm's eager passes).
# EFFPROBE_TIMM_EXPORTS=DIR keeps the exported modules in DIR and reuses them on the next run;
# EFFPROBE_TIMM_PHOTOS=N uses N photos per class and split (4N in all) instead of all.
#
#   tools/timm_conformance.sh
#   EFFPROBE_TIMM_FAMILIES=resnet50,convnext_tiny tools/timm_conformance.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export EFFPROBE_PYTHON="${EFFPROBE_PYTHON:-$PWD/.venv/bin/python}"
cargo build --release -p extract -p head -p report -p tune --bins
cargo test --release -p effprobe-tests --test timm_conformance -- --ignored --nocapture --exact full_grid
